// Checks and look-ups several commands share: is the board in DFU mode, which entry method to
// use, and what a DFU device's alternate settings say about its memory.
import { ENTRY_METHODS, formatUsbId, type EntryMethod } from '../../rig/config/vocabulary.js';
import type { AppReadyResult } from '../../rig/app-ready/app-ready.js';
import { requireCapabilities, type DfuEntryReport, type Rig } from '../../rig/rig.js';
import { RigCapabilityMissing } from '../../rig/rig-errors.js';
import { DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS } from '../../usb/spec.js';
import type { UsbBus, UsbDeviceInfo } from '../../usb/transport.js';
import { CliUsageError } from '../usage-error.js';

/** One alternate setting of a DFU interface: its number and its DfuSe layout string. */
export interface DfuAltSummary {
  interface: number;
  alt: number;
  layout: string | null;
}

/** What the descriptors of a DFU device say, or why they could not be read. */
export type DfuDescriptorSummary =
  | { product: string | null; alts: DfuAltSummary[] }
  | { error: string };

/** Reads the product string and the DFU alt settings of `device` (opens and closes it). */
export async function describeDfuDevice(bus: UsbBus, device: UsbDeviceInfo): Promise<DfuDescriptorSummary> {
  try {
    const transport = await bus.open(device);
    try {
      const description = await transport.describe();
      const alts = description.configuration.interfaces
        .filter((i) => i.bInterfaceClass === DFU_INTERFACE_CLASS && i.bInterfaceSubClass === DFU_INTERFACE_SUBCLASS)
        .map((i) => ({ interface: i.bInterfaceNumber, alt: i.bAlternateSetting, layout: i.name ?? null }));
      return { product: description.product ?? null, alts };
    } finally {
      await transport.close();
    }
  } catch (error) {
    // A device we may not open (permissions, another program) is still listed, with the reason.
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** Fails on a method name dfu-hil does not know (checked before a rig is opened). */
export function checkEntryMethodName(asked: string | undefined): void {
  if (asked !== undefined && !(ENTRY_METHODS as readonly string[]).includes(asked)) {
    throw new CliUsageError(`unknown entry method "${asked}"`, `Use one of: ${ENTRY_METHODS.join(', ')}.`);
  }
}

/** The entry method to use: the one asked for, else the first the rig offers. */
export function chooseEntryMethod(rig: Rig, asked: string | undefined): EntryMethod {
  if (asked !== undefined) {
    checkEntryMethodName(asked);
    requireCapabilities(rig, asked as EntryMethod);
    return asked as EntryMethod;
  }
  const first = rig.capabilities.entryMethods[0];
  if (first === undefined) throw new RigCapabilityMissing(rig.name, 'entry', `rig "${rig.name}" offers no way to enter DFU mode`);
  return first;
}

/** Fails unless the bootloader is on the bus (commands that talk to it). */
export async function requireDfuMode(rig: Rig, command: string): Promise<void> {
  if (!(await rig.bootloaderPresent())) {
    throw new CliUsageError(`${rig.name} is not in DFU mode, so there is nothing to ${command}`, 'Run `dfu-hil enter` first (`dfu-hil status` shows what the board runs).');
  }
}

/** Fails while the bootloader is on the bus (commands that talk to the application). */
export async function requireApplication(rig: Rig, command: string): Promise<void> {
  if (await rig.bootloaderPresent()) {
    throw new CliUsageError(`${rig.name} is in DFU mode; ${command} is answered by the application`, 'Run `dfu-hil leave` to start the application first.');
  }
}

/** An entry into DFU mode as `--json` gives it (`enter`, and `entered` of the commands that enter on their own). */
export function entryJson(report: DfuEntryReport): { method: string; vidPid: string; serialNumber: string | null; portPath: string; enumeratedAfterMs: number } {
  return { method: report.method, vidPid: formatUsbId(report.vidPid), serialNumber: report.serialNumber ?? null, portPath: report.portPath, enumeratedAfterMs: report.enumeratedAfterMs };
}

/** How the application was seen up, as `--json` gives it: its name and version (null when the rig's appReady cannot read them), when, how, and what was seen. */
export function applicationJson(up: AppReadyResult): { name: string | null; version: string | null; t: number; form: string; evidence: string } {
  return { name: up.name ?? null, version: up.version ?? null, t: up.t, form: up.form, evidence: up.evidence };
}

/** "application x 2.0.0 is up", "the application is up (PB0 = 1 …)", or that nothing was checked (appReady: none). */
export function describeApplicationUp(up: AppReadyResult): string {
  if (!up.checked) return 'the application was not checked (appReady: none)';
  if (up.name !== undefined && up.version !== undefined) return `application ${up.name} ${up.version} is up`;
  return `the application is up (${up.version !== undefined ? `version ${up.version}, ` : ''}${up.evidence})`;
}
