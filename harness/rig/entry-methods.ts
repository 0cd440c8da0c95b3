// The ways into the DfuSe bootloader, one object each. An entry method names the backends it
// needs and starts the switch; the strategy then waits for the bootloader to enumerate, so a
// method is only how the board is made to jump. A new way in is one more object here and its
// name in the vocabulary: no rig changes.
import { enterDfuMode } from '../dfu/enter-dfu-mode.js';
import type { DebugProbe } from '../probe/probe.js';
import { UsbError } from '../usb/errors.js';
import { describeFilter } from '../usb/transport.js';
import type { BackendPresence, PowerBackend, RigBackends } from './backends.js';
import type { RigConfig } from './config/load-rigs.js';
import { ENTRY_METHODS, type EntryMethod } from './config/vocabulary.js';
import { RigTestError } from './rig-errors.js';

/** Options of an entry, as `rig.enterDfu` takes them. */
export interface EntryOptions {
  /** For `rc`: ms the application lets the RC decay before its reset. */
  rcDelayMs?: number;
}

/** What an entry method is given to act with. */
export interface EntryContext {
  readonly config: RigConfig;
  readonly backends: RigBackends;
  readonly options: EntryOptions;
  /** Cuts and restores power through `power`, reopening what goes down with it: the strategy's one power cycle. */
  powerCycle(power: PowerBackend): Promise<void>;
}

/** One way of putting the board into the bootloader. */
export interface DfuEntry {
  readonly method: EntryMethod;
  /** Why a rig with `presence` cannot enter this way (the skip reason), or undefined when it can. */
  unavailable(presence: BackendPresence): string | undefined;
  /** Makes the board jump; resolves once the switch is under way (not once the bootloader is up). */
  start(context: EntryContext): Promise<void>;
}

/**
 * The test application's `dfu jump` contract (docs/console-protocol.md, "Entry magic"): a
 * 64-bit word at the top of DTCM that its Reset_Handler checks after a software reset.
 */
export const DFU_ENTRY_MAGIC_ADDRESS = 0x2001fff0;
/** High word: the ROM entry 0x1FF09800; low word "DFU0". */
export const DFU_ENTRY_MAGIC = (0x1ff09800n << 32n) | 0x30554644n;

/** Enters the bootloader through the probe: write the magic word, then a system reset (SYSRESETREQ). */
export async function enterWithProbeMagic(probe: DebugProbe): Promise<void> {
  const word = new Uint8Array(8);
  new DataView(word.buffer).setBigUint64(0, DFU_ENTRY_MAGIC, true);
  await probe.writeMemory(DFU_ENTRY_MAGIC_ADDRESS, word);
  await probe.reset('system');
}

const needsConsole = (presence: BackendPresence): string | undefined =>
  (presence.console ? undefined : 'it needs the test application\'s console');

/** `dfu jump` on the console: the application sets the magic word and resets into its early jump. */
export const consoleJumpEntry: DfuEntry = {
  method: 'console-jump',
  unavailable: needsConsole,
  start: ({ backends }) => backends.console.use((c) => c.dfuJump()),
};

/** `dfu direct` on the console: the application de-initialises and jumps without a reset. */
export const consoleDirectEntry: DfuEntry = {
  method: 'console-direct',
  unavailable: needsConsole,
  start: ({ backends }) => backends.console.use((c) => c.dfuDirect()),
};

/** `dfu rc` on the console: the application charges BOOT0's RC circuit from a pin, then resets into the ROM. */
export const rcEntry: DfuEntry = {
  method: 'rc',
  unavailable: (presence) => needsConsole(presence)
    ?? (presence.boot0.rc ? undefined : 'BOOT0 is not wired to an RC circuit (describe it as entry.rc: { r, c, vdd, chargePin })'),
  start: ({ backends, options }) => backends.console.use((c) => c.dfuRc(options.rcDelayMs)),
};

/** The magic word written over SWD, then SYSRESETREQ: no help from the application. */
export const probeEntry: DfuEntry = {
  method: 'probe',
  unavailable: ({ probe }) => {
    if (!probe) return 'it needs a debug probe (add a probe: section)';
    if (!probe.memoryWrite || !probe.systemReset) {
      return `the probe entry method needs a memory write and a software reset, which ${probe.tool} cannot do; use probe.tool: openocd or stm32-programmer-cli to offer it`;
    }
    return undefined;
  },
  start: ({ backends }) => enterWithProbeMagic(backends.probe!.probe),
};

/** BOOT0 held high by a jumper: a power cycle starts the ROM. */
export const boot0JumperEntry: DfuEntry = {
  method: 'boot0-jumper',
  unavailable: ({ boot0 }) => (boot0.jumper ? undefined : 'BOOT0 is not held high by a jumper with a switched power port (entry.boot0-jumper with a uhubctl port)'),
  start: ({ backends, powerCycle }) => powerCycle(backends.boot0.jumper!.power),
};

/**
 * DFU_DETACH on the application's run-time interface (DFU 1.1 §5.1, as `dfu-util -e` does it):
 * the host waits for the application's own device (usb.app, on usb.portPath when given), sends
 * DETACH with wDetachTimeOut, resets the device unless it says bitWillDetach, and sees it leave;
 * the strategy then waits for the ROM on the same physical port.
 */
export const dfuDetachEntry: DfuEntry = {
  method: 'dfu-detach',
  unavailable: ({ appDfuRuntime }) => (appDfuRuntime ? undefined
    : 'the application offers no DFU run-time interface (describe it as usb.app, and on a simulated rig usb.dfuRuntime)'),
  start: async ({ config, backends }) => {
    const { clock, usb: { bus } } = backends;
    const app = config.usb.app!;
    const filter = { ...app, ...(config.usb.portPath ? { portPath: config.usb.portPath } : {}) };
    const waitMs = config.timeouts.enumerationMs;
    // The application enumerates a moment after it starts (its clocks, its USB stack, the host's debounce).
    const runtime = await bus.waitForDevice(filter, waitMs).catch((error: unknown) => {
      if (!(error instanceof UsbError)) throw error;
      throw new RigTestError('dfu-detach-no-device', `the application's USB device ${describeFilter(filter)} is not on the bus (waited ${waitMs} ms), so there is no run-time interface to send DETACH to`, {
        hint: 'Check that the application runs and enumerates (`dfu-hil devices`), and usb.app / usb.portPath in rigs.yaml.', cause: error,
      });
    });
    const detachTimeoutMs = config.entry['dfu-detach']?.detachTimeoutMs;
    await enterDfuMode(bus, runtime, {
      clock,
      // The ROM comes back as its own VID:PID on the same physical port.
      dfuFilter: { ...config.bootloader.vidPid, portPath: runtime.portPath },
      timeoutMs: waitMs,
      ...(detachTimeoutMs === undefined ? {} : { detachTimeoutMs }),
    });
  },
};

/** A command of the application's own on its console (`update`, say): sent, and the answer left to the application. */
export const consoleCommandEntry: DfuEntry = {
  method: 'console-command',
  unavailable: (presence) => (presence.console ? undefined : 'it needs the board\'s console'),
  start: ({ config, backends }) => backends.console.use((c) => c.sendLine(config.entry['console-command']!.send)),
};

/** Every entry method, by name. */
export const DFU_ENTRIES: Readonly<Record<EntryMethod, DfuEntry>> = {
  'dfu-detach': dfuDetachEntry,
  'console-jump': consoleJumpEntry,
  'console-command': consoleCommandEntry,
  'console-direct': consoleDirectEntry,
  rc: rcEntry,
  probe: probeEntry,
  'boot0-jumper': boot0JumperEntry,
};

/** Entry methods in the order a rig picks them when none is named: those that need no wiring beyond what the application itself does first. */
export const ENTRY_PREFERENCE: readonly EntryMethod[] = ['console-jump', 'dfu-detach', 'console-command', 'probe', 'rc', 'console-direct', 'boot0-jumper'];

/** The entry methods `config` describes, split into those `presence` can run (in {@link ENTRY_METHODS} order) and those it cannot, with why. */
export function entryMethodsOf(config: RigConfig, presence: BackendPresence): { offered: EntryMethod[]; refused: Array<{ method: EntryMethod; reason: string }> } {
  const offered: EntryMethod[] = [];
  const refused: Array<{ method: EntryMethod; reason: string }> = [];
  for (const method of ENTRY_METHODS.filter((m) => config.entry[m] !== undefined)) {
    const reason = DFU_ENTRIES[method].unavailable(presence);
    if (reason === undefined) offered.push(method);
    else refused.push({ method, reason });
  }
  return { offered, refused };
}
