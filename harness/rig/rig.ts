// The Rig facade that specs, fixtures and the CLI use. It names what a bench can do with a
// board, never how: no transport, no simulator internals. One class implements it, BoardRig
// (board-rig.ts), over the backends of a simulated board or of a bench.
//
// Its errors are in rig-errors.ts.
import type { Clock } from '../clock/clock.js';
import type { TransferTrace } from '../usb/trace.js';
import type { UsbBus, UsbDeviceInfo } from '../usb/transport.js';
import type { ConsoleLog } from '../serial/console-log.js';
import type { GpioSnapshot } from '../serial/console-protocol.js';
import type { AppConsole } from '../serial/test-app-console.js';
import type { DfuseClient, DfuseOpenOptions } from '../dfu/dfuse-client.js';
import type { DebugProbe, ProbeLog } from '../probe/probe.js';
import type { AppReadyResult } from './app-ready/app-ready.js';
import type { BackendPresence, SimulationBackend } from './backends.js';
import { BACKEND_PRESENCE } from './backend-presence.js';
import { speaksTestAppConsole, type RigConfig } from './config/load-rigs.js';
import type { RigFaults } from './faults.js';
import type { FlashDigest } from './flash-digest.js';
import type { ReferenceImages } from './reference-images.js';
import type { LeaseHandle } from './lease-gate.js';
import type { SavedBoard } from './sim/sim-state-store.js';
import { entryMethodsOf, type EntryOptions } from './entry-methods.js';
import { RigCapabilityMissing } from './rig-errors.js';
import type { BootloaderProfileName, EntryMethod, ProbeTool, RigKind, UsbId } from './config/vocabulary.js';

// Structural image, progress and report types: harness/image's FirmwareImage and the
// DfuseClient's DfuProgress, DownloadReport and LeaveReport all satisfy them.

/** An image to flash: bytes at absolute addresses. */
export interface RigFlashImage {
  readonly source: string;
  readonly segments: readonly { readonly address: number; readonly data: Uint8Array }[];
}

/** Progress of a long rig operation, for progress bars. */
export interface FlashProgress {
  phase: string;
  bytesDone: number;
  bytesTotal: number;
}

/** Options of {@link Rig.flash}. */
export interface RigFlashOptions {
  /** 'touched' (default) erases the sectors the image touches; 'mass' erases all first. */
  erase?: 'touched' | 'mass' | 'none';
  /**
   * Erase and write every sector the image touches, even those that already hold its bytes
   * (`dfu-hil flash --full`). By default, with 'touched', such sectors are skipped.
   */
  full?: boolean;
  /** Read back and compare after writing. */
  verify?: boolean;
  onProgress?: (progress: FlashProgress) => void;
}

/** What a flash did. */
export interface RigFlashReport {
  bytesWritten: number;
  /** How the flash was erased; `erasedSectors` lists sectors only for 'touched'. */
  erase: 'touched' | 'mass' | 'none';
  erasedSectors: readonly number[];
  /** Sectors the image touches that already held its bytes, so were neither erased nor written. */
  skippedSectors: readonly number[];
  /** How unchanged sectors were found (absent on the cold path): from the rig's flash cache or read back, and why the cache was distrusted if it was. */
  differential?: { fromCache: readonly number[]; readBack: readonly number[]; cacheDistrusted?: string };
  verified: boolean;
}

/** What leaving DFU did; the device going away is the expected end. */
export interface RigLeaveReport {
  outcome: 'manifest' | 'disconnected';
}

/** Where the board showed up in DFU mode. */
export interface DfuEntryReport {
  method: EntryMethod;
  vidPid: UsbId;
  serialNumber: string | undefined;
  portPath: string;
  /** Clock ms from the start of entry until the DFU device enumerated. */
  enumeratedAfterMs: number;
}

/** The bootloader the rig's board should enumerate as. */
export interface BootloaderDescription {
  /** The simulated ROM version (sim rigs), or the one expected on hardware. */
  profile: BootloaderProfileName | undefined;
  vidPid: UsbId;
  layout: { flash: string; optionBytes: string };
}

/** How {@link Rig.restoreReference} brought the board back (reference-state.ts). */
export type ReferenceRestore = 'already' | 'reflashed' | 'reset' | 'recovered';

/** What a rig can do, from its description. */
export interface RigCapabilities {
  /** Entry methods offered, in the vocabulary's order (ENTRY_METHODS). */
  entryMethods: readonly EntryMethod[];
  /** The debug probe, when the rig has one (recover() needs it). */
  probe: { tool: ProbeTool } | undefined;
  /** True when the rig can cut and restore the board's power. */
  powerControl: boolean;
  /** True when the rig allows option-byte writes (never RDP level 2). */
  optionBytes: boolean;
  /** True when faults can be injected on purpose (the simulated rig). */
  faultInjection: boolean;
  /** True when the board runs the flashed image's own code (hardware, or a simulated rig in executed mode). */
  executesFirmware: boolean;
  /** True when the reference application speaks the test application's console protocol (not a rig that boots its own firmware). */
  testAppConsole: boolean;
  /** A pin the application may drive as an output in tests (rigs.yaml pins.led), when the board names one. */
  ledPin: string | undefined;
  bootloader: BootloaderDescription;
}

/** One rig action with its timing, for the report. */
export interface RigStep {
  /** Clock ms at the start. */
  t: number;
  action: string;
  durationMs: number;
  outcome: 'ok' | 'failed';
  detail?: string;
}

/** Everything the rig recorded, for the report of the test that caused it. */
export interface RigTrace {
  usb: TransferTrace;
  console: ConsoleLog;
  /** Probe commands, on rigs with a probe. */
  probe?: ProbeLog;
  steps: readonly RigStep[];
}

/** Options of {@link Rig.enterDfu}. */
export interface EnterDfuOptions extends EntryOptions {
  /** Overrides the rig's enumeration timeout. */
  timeoutMs?: number;
}

/** What `dfu-hil sim expose` needs of a simulated board: its USB socket, its console UART, what it runs. */
export type SimulatedBoardAccess = Pick<SimulationBackend, 'usbConnector' | 'consoleLink' | 'runningCode' | 'runningApplication' | 'likelyCause'>;

/** A bench (real or simulated) with one board on it. */
export interface Rig {
  readonly name: string;
  readonly kind: RigKind;
  readonly config: RigConfig;
  readonly capabilities: RigCapabilities;
  /** The rig's clock: virtual on a simulated rig. */
  readonly clock: Clock;
  /** The USB bus the rig reaches its board's bootloader through (every transport on it guarded and leased). */
  readonly bus: UsbBus & { readonly trace: TransferTrace };
  /** The test application's console; one object that follows the port across target resets and power cycles. */
  readonly console: AppConsole;
  readonly trace: RigTrace;
  /** Puts the board in the DfuSe bootloader by `method`; resolves once it has enumerated. */
  enterDfu(method: EntryMethod, options?: EnterDfuOptions): Promise<DfuEntryReport>;
  /** Flashes `image` over DfuSe; the board must be in DFU mode. */
  flash(image: RigFlashImage, options?: RigFlashOptions): Promise<RigFlashReport>;
  /** Leaves DFU (DfuSe leave: a jump, not a reset); tolerates the expected disconnect. */
  leave(): Promise<RigLeaveReport>;
  /**
   * Resolves once the application is up after the last reset, power-up or leave, as the rig's
   * `appReady` tells it (default the test application's READY), with its name and version when
   * that form can read them; rejects after `timeoutMs` (default timeouts.readyMs).
   */
  waitForApp(timeoutMs?: number): Promise<AppReadyResult>;
  /** Waits for the board's bootloader on the bus (after an entry another program made). */
  waitForBootloader(timeoutMs?: number): Promise<UsbDeviceInfo>;
  /**
   * Brings the board into DFU mode (by `method`, else the cheapest method the rig offers) unless
   * it is there already, or into its application (leaving DFU if it is there).
   */
  transition(target: 'dfu' | 'app', options?: { method?: EntryMethod }): Promise<void>;
  /** Brings the board to the state every test starts from (reference-state.ts says which, and how); says how it got there. */
  restoreReference(): Promise<ReferenceRestore>;
  /** GPIO registers of ports A..K as the application reads them now. */
  gpioSnapshot(): Promise<GpioSnapshot>;
  /** GPIO registers of ports A..K read through the debug probe; throws RigCapabilityMissing without one. */
  probeGpioSnapshot(): Promise<GpioSnapshot>;
  /** Resets the board (NRST, through the probe on a bench that has one, or the console's reset). */
  reset(): Promise<void>;
  /** Cuts and restores power; throws RigCapabilityMissing without power control. */
  powerCycle(): Promise<void>;
  /** Brings a board back to a known application over SWD or through BOOT0; throws RigCapabilityMissing without either. */
  recover(image?: RigFlashImage): Promise<void>;
  /** Opens a DfuSe session on the bootloader the board is in (after {@link enterDfu}); close it when done. */
  openDfu(options?: Pick<DfuseOpenOptions, 'altSetting' | 'transferSize' | 'onProgress'>): Promise<DfuseClient>;
  /** True when the bootloader's DFU device is on the bus now. */
  bootloaderPresent(): Promise<boolean>;
  /** The images this rig restores between tests: reference application A, B, a broken one, the CM4 image. */
  readonly images: ReferenceImages;
  /** The debug probe, on rigs with one. */
  readonly probe?: DebugProbe | undefined;
  /** Deliberate faults, on rigs that can inject them (the simulated rig). */
  readonly faults?: RigFaults | undefined;
  /** The simulated board's USB socket, console and state, on a simulated rig. */
  readonly simulation?: SimulatedBoardAccess | undefined;
  /** Per-sector CRC32s of the user flash for the report's flash diff, on rigs where that is cheap. */
  flashDigest?(): Promise<FlashDigest>;
  /**
   * Forgets the rig's record of what the board's flash holds: the next flash reads back the
   * sectors it would skip.
   */
  forgetFlashContents(): void;
  /** Releases the console, USB and the rig lease (a simulated board is saved first, if the rig keeps one). */
  close(): Promise<void>;
}

/** Everything a rig implementation gets besides its description. */
export interface RigContext {
  env: Readonly<Record<string, string | undefined>>;
  /** Where warnings go (stale lock taken over, placeholder serials). */
  warn(message: string): void;
  /**
   * The rig's lease, when the caller already holds it (the CLI takes it before opening the rig).
   * The rig touches the board only while it is held, and leaves releasing it to the caller.
   * Without one, a rig whose board others can reach (a bench) takes its own.
   */
  lease?: LeaseHandle;
  /**
   * Where a simulated board outlives the rig (the CLI's saved boards): restored when the rig
   * opens, saved when it closes while its lease is still held. Without it the board is fresh.
   */
  savedBoard?: SavedBoard;
}

/** Builds a rig from its description; injected into the CLI and fixtures. */
export type RigFactory = (config: RigConfig, context: RigContext) => Promise<Rig>;

/**
 * A need a spec can declare: an entry method (`probe` is the probe entry method), a debug probe,
 * power control, option-byte writes, fault injection, executed firmware, the test application's
 * console, a pin the application may drive (pins.led).
 */
export type RigNeed = EntryMethod | 'debug-probe' | 'power-control' | 'option-bytes' | 'faults' | 'executed-firmware' | 'test-app-console' | 'led-pin';

/** What a rig described by `config` can do with the backends `presence` says it binds. */
export function capabilitiesOf(config: RigConfig, presence: BackendPresence): RigCapabilities {
  return {
    entryMethods: entryMethodsOf(config, presence).offered,
    probe: presence.probe ? { tool: presence.probe.tool } : undefined,
    powerControl: presence.power,
    optionBytes: config.allowOptionBytes,
    faultInjection: presence.faults,
    executesFirmware: presence.executesFirmware,
    testAppConsole: speaksTestAppConsole(config),
    ledPin: config.pins.led,
    bootloader: {
      profile: config.bootloader.profile,
      vidPid: config.bootloader.vidPid,
      layout: { ...config.bootloader.layout },
    },
  };
}

/** What a rig can do, from its description alone (before it is opened): the backends its kind binds for it. */
export function capabilitiesFromConfig(config: RigConfig): RigCapabilities {
  return capabilitiesOf(config, BACKEND_PRESENCE[config.kind](config));
}

/** Why `rig` cannot meet `need`, or undefined when it can: the skip reason for a spec. */
export function missingCapability(rig: { name: string; capabilities: RigCapabilities }, need: RigNeed): string | undefined {
  const c = rig.capabilities;
  switch (need) {
    case 'debug-probe': return c.probe ? undefined : `rig "${rig.name}" has no debug probe (add a probe: section to rigs.yaml)`;
    case 'power-control': return c.powerControl ? undefined : `rig "${rig.name}" cannot switch the board's power (add power: { uhubctl: { location, port } })`;
    case 'option-bytes': return c.optionBytes ? undefined : `rig "${rig.name}" does not allow option-byte writes (allowOptionBytes: false)`;
    case 'faults': return c.faultInjection ? undefined : `rig "${rig.name}" cannot inject faults (only simulated rigs can)`;
    case 'test-app-console': return c.testAppConsole ? undefined
      : `rig "${rig.name}" boots its own firmware, which does not speak the test application's console (firmware.console: false)`;
    case 'led-pin': return c.ledPin !== undefined ? undefined
      : `rig "${rig.name}" names no pin the application may drive (add pins: { led: <pin> } for one that drives an LED or nothing)`;
    case 'executed-firmware': return c.executesFirmware ? undefined
      : `rig "${rig.name}" models the test application instead of executing the flashed image, so firmware bugs cannot show (not applicable; use a rig with application: executed)`;
    default:
      return c.entryMethods.includes(need) ? undefined
        : `rig "${rig.name}" does not offer the "${need}" entry method (it offers: ${c.entryMethods.join(', ') || 'none'})`;
  }
}

/** Throws {@link RigCapabilityMissing} unless `rig` meets every need. */
export function requireCapabilities(rig: { name: string; capabilities: RigCapabilities }, ...needs: RigNeed[]): void {
  for (const need of needs) {
    const reason = missingCapability(rig, need);
    if (reason !== undefined) throw new RigCapabilityMissing(rig.name, need, reason);
  }
}
