// A simulated NUCLEO-H745ZI-Q as a rig's backends, all on one virtual clock: its bootloader on an
// in-process USB bus (or libusb through the USB emulation), its console through a serialport
// binding, a simulated SWD probe, its power switch and reset button, BOOT0 as its RC circuit,
// and what only a simulation can say (why the chip is in trouble, what its core runs) and do
// (faults). The host code the rig runs over them (DfuseClient, TestAppConsole) is the same code
// a bench runs.
import { VirtualClock } from '../../clock/virtual-clock.js';
import { guardBus } from '../../dfu/guarded-transport.js';
import { announcedIdentity, VERSION_BLOCK_OFFSET, VERSION_BLOCK_SIZE } from '../../image/version-block.js';
import { SimulatedProbe } from '../../probe/sim-probe.js';
import { ConsoleLog } from '../../serial/console-log.js';
import { createSimSerialBinding } from '../../serial/sim-binding.js';
import { openTestAppConsole, type AppConsole } from '../../serial/test-app-console.js';
import { SimulatedNucleoH745, type Boot0Wiring, type SimBoardState } from '../../sim/board/nucleo-h745.js';
import { bootloaderProfiles } from '../../sim/bootloader/profiles.js';
import type { CpuCore } from '../../sim/cpu/cpu-core.js';
import { CpuUnavailableError } from '../../sim/cpu/errors.js';
import { openUnicornCore } from '../../sim/cpu/unicorn-core.js';
import type { UsbConnector } from '../../usb/gadget.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import { TransferTrace } from '../../usb/trace.js';
import type { UsbBus, UsbDeviceInfo } from '../../usb/transport.js';
import type { RigBackends, SimulationBackend } from '../backends.js';
import { BoardRig } from '../board-rig.js';
import type { RigConfig } from '../config/load-rigs.js';
import { ConsoleKeeper } from '../console-keeper.js';
import type { FlashDigest } from '../flash-digest.js';
import { leaseGated, leaseGatedBus, type LeaseHandle } from '../lease-gate.js';
import type { ReferenceImages } from '../reference-images.js';
import { RigCapabilityMissing, RigInfrastructureError } from '../rig-errors.js';
import { SimRigFaults } from './sim-faults.js';
import type { SavedBoard } from './sim-state-store.js';

/** The USB bus the host side of a simulated rig sees: in-process, or libusb through the USB emulation. */
export interface SimUsbAttachment {
  bus: UsbBus & { readonly trace: TransferTrace; isPresent(device: UsbDeviceInfo): boolean | Promise<boolean> };
  /** Detaches the board from the bus. */
  close(): Promise<void>;
}

/** Connects a simulated board's USB connector to a bus the host code can use. */
export type SimUsbWiring = (board: { clock: VirtualClock; connector: UsbConnector; trace: TransferTrace }) => Promise<SimUsbAttachment>;

/** The default wiring: an {@link InProcessUsbBus}, no operating system involved. */
export const inProcessSimUsb: SimUsbWiring = async ({ clock, connector, trace }) => {
  const bus = new InProcessUsbBus({ clock, trace });
  bus.addConnector(connector);
  return { bus, close: async () => bus.dispose() };
};

/** The backends of a simulated board. */
export interface SimBackends extends RigBackends {
  readonly clock: VirtualClock;
  /** The board itself, for tests and benches that look inside it. */
  readonly board: SimulatedNucleoH745;
  readonly simulation: SimulationBackend;
}

/** A rig on a simulated board. */
export type SimRig = BoardRig<SimBackends>;

/** Options of {@link createSimRig}. */
export interface SimRigOptions {
  /** A board saved by an earlier run, restored instead of a factory-fresh one. */
  initialState?: SimBoardState | undefined;
  /** Where the board outlives the rig: loaded when no `initialState` is given, saved on close while the lease is held. */
  savedBoard?: SavedBoard | undefined;
  /** How the host reaches the board's USB; default {@link inProcessSimUsb}. */
  usb?: SimUsbWiring;
  /**
   * The board's lease, held by the caller (the CLI). The rig's bus, console and probe then reach
   * the board only while it is held; once it is lost they fail with RigLockLostError.
   */
  lease?: LeaseHandle | undefined;
  /** The environment (DFU_HIL_LIBUNICORN for executed mode); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where warnings go. */
  warn?: (message: string) => void;
}

/** The CPU core an executed-mode rig runs its firmware on; capability missing (with the install hint) where libunicorn is not. */
async function openExecutedCore(config: RigConfig, env: Readonly<Record<string, string | undefined>>): Promise<CpuCore> {
  try {
    return await openUnicornCore(env);
  } catch (error) {
    if (!(error instanceof CpuUnavailableError)) throw error;
    throw new RigCapabilityMissing(config.name, 'executed-firmware',
      `rig "${config.name}" executes its firmware on an emulated Cortex-M7, which needs libunicorn 2: ${error.message}. ${error.hint ?? ''}`.trim());
  }
}

/** Per-sector CRC32s of the board's user flash, read straight from the simulated flash. */
async function flashDigestOf(board: SimulatedNucleoH745): Promise<FlashDigest> {
  const { crc32 } = await import('node:zlib');
  const flash = board.flash;
  const crcs: number[] = [];
  for (let at = flash.base; at < flash.base + flash.size; at += flash.sectorSize) crcs.push(crc32(flash.read(at, flash.sectorSize)));
  return { base: flash.base, sectorSize: flash.sectorSize, crcs };
}

/** What a simulated board says and offers that a bench cannot. */
function simulationOf(board: SimulatedNucleoH745, faults: SimRigFaults): SimulationBackend {
  return {
    likelyCause: () => board.mcu.cm7Trouble?.description,
    runningCode: () => board.runningCode,
    runningApplication: () => {
      if (board.runningCode !== 'app' || board.mcu.cm7Trouble !== undefined) return undefined;
      const table = (board.optionBytes.bootCm7Add0() << 16) >>> 0;
      const length = VERSION_BLOCK_OFFSET + VERSION_BLOCK_SIZE;
      return announcedIdentity(board.flash.contains(table, length) ? board.flash.read(table, length) : new Uint8Array(0));
    },
    flashDigest: () => flashDigestOf(board),
    faults,
    usbConnector: board.usb,
    consoleLink: board.console,
  };
}

/**
 * Builds the simulated board `config` describes and binds its backends. A factory-fresh board
 * gets the reference images as a factory would program them; `initialState` restores a saved
 * one instead. The board is not powered yet.
 */
export async function openSimBackends(config: RigConfig, images: ReferenceImages, options: SimRigOptions = {}): Promise<SimBackends> {
  const profileName = config.bootloader.profile ?? 'st-rom-v9.2';
  const profile = bootloaderProfiles[profileName];
  if (!profile) throw new RigInfrastructureError('sim-profile', `rig ${config.name}: no simulated bootloader profile "${profileName}"`);
  const clock = new VirtualClock();
  const rc = config.entry.rc;
  const boot0: Boot0Wiring = rc
    ? { kind: 'rc', chargePin: rc.chargePin, r: rc.r, c: rc.c, vdd: rc.vdd, threshold: rc.threshold }
    : { kind: 'jumper', level: 0 };
  const consolePath = config.console.path ?? `sim:${config.name}`;
  const application = config.application === 'executed'
    ? { kind: 'executed' as const, core: await openExecutedCore(config, options.env ?? process.env) }
    : { kind: 'modelled' as const };
  const { app, dfuRuntime } = config.usb;
  const board = new SimulatedNucleoH745({
    clock, profile, boot0, consolePath, portPath: config.usb.portPath ?? '1-1', application,
    ...(config.usb.serial ? { serialNumber: config.usb.serial } : {}),
    // The application's own USB device with its DFU run-time interface, whatever image runs.
    ...(app && dfuRuntime ? { appUsb: { ...app, ...dfuRuntime } } : {}),
    ...(config.flashTiming ? { flashTiming: definedOnly(config.flashTiming) } : {}),
  });
  if (!options.initialState) for (const image of [images.appA, images.cm4]) for (const s of image.segments) board.loadImage(s.address, s.data);
  const { lease } = options;
  const gate = <T extends object>(target: T): T => (lease ? leaseGated(target, lease) : target);
  const wired = await (options.usb ?? inProcessSimUsb)({ clock, connector: board.usb, trace: new TransferTrace() });
  // Every transport opened on the rig's bus carries the rig's option-byte policy, and its lease.
  const guarded = guardBus(wired.bus, { allowOptionBytes: config.allowOptionBytes }, clock);
  const bus = lease ? leaseGatedBus(guarded, lease) : guarded;
  const log = new ConsoleLog();
  const openConsole = async (): Promise<AppConsole> => gate(await openTestAppConsole({
    path: consolePath, binding: createSimSerialBinding(board.console, { path: consolePath }), clock, log, commandTimeoutMs: config.timeouts.consoleMs,
  }));
  // The simulated ST-LINK keeps its port through the board's power cycles.
  const console = new ConsoleKeeper(await openConsole(), openConsole, {
    clock, log, path: consolePath, reopenWithinMs: config.timeouts.enumerationMs, survivesPowerCycle: true,
  });
  const faults = new SimRigFaults(board);
  const probe = config.probe ? gate(new SimulatedProbe(board.debug, clock)) : undefined;
  return {
    clock,
    board,
    usb: { bus, close: () => wired.close() },
    console,
    reset: { via: 'NRST', pulse: async () => board.pressReset() },
    power: {
      cycle: async () => {
        board.powerOff();
        await clock.sleep(Math.min(500, config.timeouts.powerCycleMs));
        board.powerOn();
      },
      ensureOn: async () => { if (!board.isPowered) board.powerOn(); },
    },
    // The simulated debug port writes memory and resets as any probe tool could.
    probe: probe && config.probe ? { probe, tool: config.probe.tool, memoryWrite: true, systemReset: true } : undefined,
    toolLog: probe?.log,
    boot0: { rc: rc !== undefined, jumper: undefined },
    simulation: simulationOf(board, faults),
    executesFirmware: application.kind === 'executed',
    appDfuRuntime: app !== undefined && dfuRuntime !== undefined,
    close: async ({ boardHeld }) => {
      try {
        if (boardHeld && options.savedBoard) await options.savedBoard.save(board.snapshot());
      } finally {
        faults.clear();
        await wired.close();
        board.dispose();
      }
    },
  };
}

/**
 * The default rig: a simulated board, powered and waited for as a bench board is found running.
 * A factory-fresh board boots its reference application and the rig waits for READY; a saved one
 * (`initialState`, or what `savedBoard` holds) comes back in whatever it ran: the rig waits for
 * READY for the application, for enumeration for the bootloader.
 */
export async function createSimRig(config: RigConfig, images: ReferenceImages, options: SimRigOptions = {}): Promise<SimRig> {
  const state = options.initialState ?? await options.savedBoard?.load();
  const backends = await openSimBackends(config, images, { ...options, initialState: state });
  const rig = new BoardRig(config, images, backends, { lease: options.lease, warn: options.warn ?? (() => undefined) });
  const { board } = backends;
  try {
    if (!state) {
      board.powerOn();
      await rig.waitForApp();
    } else {
      board.restore(state);
      if (board.runningCode === 'app') {
        // An application that had crashed (a core in its fault handler, or locked up) crashes again
        // and never says READY; the rig opens all the same, for `recover` and `status` to act on it.
        await rig.waitForApp().catch((error: unknown) => {
          if (board.mcu.cm7Trouble === undefined) throw error;
        });
      } else if (board.runningCode === 'bootloader') {
        await rig.waitForBootloader();
      }
    }
  } catch (error) {
    // A board that never came up is not saved over the one it was made from.
    await backends.console.close().catch(() => undefined);
    await backends.close({ boardHeld: false });
    throw error;
  }
  return rig;
}

/** The keys a rigs.yaml section sets, without those it leaves out. */
function definedOnly<T extends object>(settings: T): Partial<{ [K in keyof T]: Exclude<T[K], undefined> }> {
  return Object.fromEntries(Object.entries(settings).filter(([, v]) => v !== undefined)) as Partial<{ [K in keyof T]: Exclude<T[K], undefined> }>;
}
