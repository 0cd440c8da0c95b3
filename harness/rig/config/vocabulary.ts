// The words rigs.yaml and the rest of dfu-hil share: entry methods, rig kinds, bootloader
// profiles, probe tools, USB ids. Kept apart from the schema so that code naming them (the Rig
// facade, the CLI) does not load the schema's validator.

/**
 * How a rig can put the board into the DfuSe bootloader. A rig's first offered method, in this
 * order, is its default: DFU_DETACH on the application's run-time interface, where it has one,
 * is DFU 1.1's own way in (§5.1), so it comes first.
 */
export const ENTRY_METHODS = ['dfu-detach', 'console-jump', 'console-direct', 'console-command', 'rc', 'boot0-jumper', 'probe'] as const;
/** One of {@link ENTRY_METHODS}. */
export type EntryMethod = (typeof ENTRY_METHODS)[number];

/**
 * Rig kinds the harness knows how to drive: the simulated NUCLEO-H745ZI-Q, the NUCLEO-H745ZI-Q
 * on a bench (its board file, its LED, its ST-LINK), and any other board of the STM32H74x/75x
 * family on a bench, which describes its own (`stm32h7`).
 */
export const RIG_KINDS = ['sim', 'nucleo-h745', 'stm32h7'] as const;
/** One of {@link RIG_KINDS}. */
export type RigKind = (typeof RIG_KINDS)[number];

/** True for a kind whose board is on a bench, not simulated. */
export function isHardwareKind(kind: RigKind): kind is Exclude<RigKind, 'sim'> {
  return kind !== 'sim';
}

/** Simulated bootloader profiles (AN2606 Table 136 versions of the H74x/75x ROM). */
export const BOOTLOADER_PROFILES = ['st-rom-v9.1', 'st-rom-v9.2'] as const;
/** One of {@link BOOTLOADER_PROFILES}. */
export type BootloaderProfileName = (typeof BOOTLOADER_PROFILES)[number];

/** How a simulated rig's Cortex-M7 runs the image in flash: the TypeScript model of the test application, or the image executed. */
export const SIM_APPLICATIONS = ['modelled', 'executed'] as const;
/** One of {@link SIM_APPLICATIONS}. */
export type SimApplication = (typeof SIM_APPLICATIONS)[number];

/** Debug-probe tools a hardware rig may drive. */
export const PROBE_TOOLS = ['st-flash', 'openocd', 'stm32-programmer-cli'] as const;
/** One of {@link PROBE_TOOLS}. */
export type ProbeTool = (typeof PROBE_TOOLS)[number];

/** A USB vendor:product pair. */
export interface UsbId {
  vendorId: number;
  productId: number;
}

/** Formats a {@link UsbId} the way lsusb does: 0483:df11. */
export function formatUsbId(id: UsbId): string {
  return `${id.vendorId.toString(16).padStart(4, '0')}:${id.productId.toString(16).padStart(4, '0')}`;
}
