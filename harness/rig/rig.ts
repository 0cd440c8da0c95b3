// The Rig facade that specs, fixtures and the CLI use. It names what a bench can do with a
// board, never how: no transport, no simulator internals. The simulated and hardware rigs
// implement it.
//
// Failures are classified the way long-running labs do (LAVA's InfrastructureError vs
// TestError): a RigInfrastructureError means the bench failed (retry it, quarantine it, do not
// blame the firmware); a RigTestError means the board did something wrong (a finding);
// RigCapabilityMissing means this rig cannot run the check at all (skip, with the reason).
import { DfuHilError } from '../errors.js';
import type { TransferTrace } from '../usb/trace.js';
import type { ConsoleLog } from '../serial/console-log.js';
import type { GpioSnapshot } from '../serial/console-protocol.js';
import type { ReadyBanner, TestAppConsole } from '../serial/test-app-console.js';
import type { DfuseClient, DfuseOpenOptions } from '../dfu/dfuse-client.js';
import type { DebugProbe, ProbeLog } from '../probe/probe.js';
import type { RigConfig } from './config/load-rigs.js';
import type { RigFaults } from './faults.js';
import type { FlashDigest } from './flash-digest.js';
import type { ReferenceImages } from './reference-images.js';
import type { LeaseHandle } from './lease-gate.js';
import {
  ENTRY_METHODS, type BootloaderProfileName, type EntryMethod, type ProbeTool, type RigKind, type UsbId,
} from './config/vocabulary.js';

// Structural image, progress and report types: harness/dfu/image's FirmwareImage and the
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

/** What a rig can do, from its description. */
export interface RigCapabilities {
  /** Entry methods offered, in {@link ENTRY_METHODS} order. */
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
export interface EnterDfuOptions {
  /** For `rc`: ms the application lets the RC decay before its reset. */
  rcDelayMs?: number;
  /** Overrides the rig's enumeration timeout. */
  timeoutMs?: number;
}

/** A bench (real or simulated) with one board on it. */
export interface Rig {
  readonly name: string;
  readonly kind: RigKind;
  readonly config: RigConfig;
  readonly capabilities: RigCapabilities;
  /** The test application's console (stays open across target resets). */
  readonly console: TestAppConsole;
  readonly trace: RigTrace;
  /** Puts the board in the DfuSe bootloader by `method`; resolves once it has enumerated. */
  enterDfu(method: EntryMethod, options?: EnterDfuOptions): Promise<DfuEntryReport>;
  /** Flashes `image` over DfuSe; the board must be in DFU mode. */
  flash(image: RigFlashImage, options?: RigFlashOptions): Promise<RigFlashReport>;
  /** Leaves DFU (DfuSe leave: a jump, not a reset); tolerates the expected disconnect. */
  leave(): Promise<RigLeaveReport>;
  /** Resolves with the READY banner of the application's next boot. */
  waitForApp(timeoutMs?: number): Promise<ReadyBanner>;
  /** GPIO registers of ports A..K as the application reads them now. */
  gpioSnapshot(): Promise<GpioSnapshot>;
  /** Resets the board (NRST through the probe, or the console's reset). */
  reset(): Promise<void>;
  /** Cuts and restores power; throws RigCapabilityMissing without power control. */
  powerCycle(): Promise<void>;
  /** Brings a board back to a known application over SWD; throws RigCapabilityMissing without a probe. */
  recover(image?: RigFlashImage): Promise<void>;
  /** Opens a DfuSe session on the bootloader the board is in (after {@link enterDfu}); close it when done. */
  openDfu(options?: Pick<DfuseOpenOptions, 'altSetting' | 'transferSize' | 'onProgress'>): Promise<DfuseClient>;
  /** True when the bootloader's DFU device is on the bus now. */
  bootloaderPresent(): Promise<boolean>;
  /** The images this rig restores between tests: reference application A, B, a broken one, the CM4 image. */
  readonly images: ReferenceImages;
  /** The debug probe, on rigs with one. */
  readonly probe?: DebugProbe;
  /** Deliberate faults, on rigs that can inject them (the simulated rig). */
  readonly faults?: RigFaults;
  /** Per-sector CRC32s of the user flash for the report's flash diff, on rigs where that is cheap. */
  flashDigest?(): Promise<FlashDigest>;
  /**
   * Forgets the rig's record of what the board's flash holds: the next flash reads back the
   * sectors it would skip. The fixtures call it as each test starts, so what a test sends does
   * not depend on the tests before it.
   */
  forgetFlashContents?(): void;
  /** Releases the console, USB and the rig lock. */
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
   */
  lease?: LeaseHandle;
}

/** Builds a rig from its description; injected into the CLI and fixtures. */
export type RigFactory = (config: RigConfig, context: RigContext) => Promise<Rig>;

/** A need a spec can declare: an entry method, a probe, power control, option-byte writes. */
export type RigNeed = EntryMethod | 'probe' | 'power-control' | 'option-bytes' | 'faults' | 'executed-firmware' | 'test-app-console';

/** Derives what a rig can do from its description. */
export function capabilitiesFromConfig(config: RigConfig): RigCapabilities {
  const entryMethods = ENTRY_METHODS.filter((m) => config.entry[m] !== undefined);
  const hubPower = config.power !== undefined || config.entry['boot0-jumper']?.uhubctl !== undefined;
  return {
    entryMethods,
    probe: config.probe ? { tool: config.probe.tool } : undefined,
    // The simulator can always cut the board's power; hardware needs a switched hub port.
    powerControl: config.kind === 'sim' || hubPower,
    optionBytes: config.allowOptionBytes,
    faultInjection: config.kind === 'sim',
    executesFirmware: config.kind !== 'sim' || config.application === 'executed',
    testAppConsole: config.firmware === undefined || config.firmware.console,
    bootloader: {
      profile: config.bootloader.profile,
      vidPid: config.bootloader.vidPid,
      layout: { ...config.bootloader.layout },
    },
  };
}

/** Why `rig` cannot meet `need`, or undefined when it can: the skip reason for a spec. */
export function missingCapability(rig: { name: string; capabilities: RigCapabilities }, need: RigNeed): string | undefined {
  const c = rig.capabilities;
  switch (need) {
    case 'probe': return c.probe ? undefined : `rig "${rig.name}" has no debug probe (add a probe: section to rigs.yaml)`;
    case 'power-control': return c.powerControl ? undefined : `rig "${rig.name}" cannot switch the board's power (add power: { uhubctl: { location, port } })`;
    case 'option-bytes': return c.optionBytes ? undefined : `rig "${rig.name}" does not allow option-byte writes (allowOptionBytes: false)`;
    case 'faults': return c.faultInjection ? undefined : `rig "${rig.name}" cannot inject faults (only simulated rigs can)`;
    case 'test-app-console': return c.testAppConsole ? undefined
      : `rig "${rig.name}" boots its own firmware, which does not speak the test application's console (firmware.console: false)`;
    case 'executed-firmware': return c.executesFirmware ? undefined
      : `rig "${rig.name}" models the test application instead of executing the flashed image, so firmware bugs cannot show (not applicable; use a rig with application: executed)`;
    default:
      return c.entryMethods.includes(need) ? undefined
        : `rig "${rig.name}" does not offer the "${need}" entry method (it offers: ${c.entryMethods.join(', ') || 'none'})`;
  }
}

/** A spec needs something this rig lacks: skip it with `reason`, never pass it silently. */
export class RigCapabilityMissing extends DfuHilError {
  constructor(readonly rig: string, readonly need: RigNeed | string, readonly reason: string) {
    super('rig-capability-missing', reason, { hint: 'Run this on a rig that has it (`dfu-hil rigs` lists them), or describe the wiring in rigs.yaml.' });
  }
}

/** Throws {@link RigCapabilityMissing} unless `rig` meets every need. */
export function requireCapabilities(rig: { name: string; capabilities: RigCapabilities }, ...needs: RigNeed[]): void {
  for (const need of needs) {
    const reason = missingCapability(rig, need);
    if (reason !== undefined) throw new RigCapabilityMissing(rig.name, need, reason);
  }
}

/** The bench failed (board absent, hub, probe tool, lock, power): retry or quarantine, not a firmware finding. */
export class RigInfrastructureError extends DfuHilError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code.startsWith('rig-') ? code : `rig-${code}`, message, options);
  }
}

/** The board under test behaved wrongly: a finding about the firmware or bootloader. */
export class RigTestError extends DfuHilError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

/** How a failure should be counted: the bench, the board, or a check this rig cannot run. */
export type FailureClass = 'infrastructure' | 'test' | 'capability';

/**
 * Classifies a failure for retries and reports. Anything not known to be the bench's fault
 * counts against the board: infrastructure is claimed only when it is certain.
 */
export function classifyFailure(error: unknown): FailureClass {
  if (error instanceof RigCapabilityMissing) return 'capability';
  if (error instanceof RigInfrastructureError) return 'infrastructure';
  // The bench itself failed: its config, lock, console port, USB permissions, or a probe tool.
  if (error instanceof DfuHilError && ['rig-config', 'rig-lock-busy', 'rig-lock-lost', 'console-open-failed', 'console-port-closed', 'usb-access', 'usb-busy', 'probe-failed', 'tool-missing'].includes(error.code)) {
    return 'infrastructure';
  }
  return 'test';
}

/** Thrown by commands and rigs not built yet for a rig kind. */
export class RigNotAvailable extends RigInfrastructureError {
  constructor(what: string, kind: RigKind) {
    super('rig-not-available', `${what} is not available yet for rigs of kind "${kind}"`, {
      hint: 'This part of dfu-hil is still being built; use a rig kind that has it, or the library API from a spec.',
    });
  }
}
