// What a rig is made of. A backend is one part of a bench behind one seam (labgrid's drivers,
// pytest-embedded's services): the board's power, its reset line, the test application's
// console, the debug probe, the USB bus the bootloader appears on, how BOOT0 is wired, and, for
// a simulated board, what the simulation can say that a bench cannot. A simulated board and a
// bench are two sets of these (sim/sim-rig.ts, hardware/nucleo-h745-rig.ts); the rig's sequences
// are written once over them (dfu-strategy.ts), and a rig can do what its bound backends can
// (capabilitiesOf in rig.ts), whatever its kind.
import type { Clock } from '../clock/clock.js';
import type { DebugProbe, ProbeLog } from '../probe/probe.js';
import type { UartLink } from '../serial/uart-link.js';
import type { UsbConnector } from '../usb/gadget.js';
import type { TransferTrace } from '../usb/trace.js';
import type { UsbBus } from '../usb/transport.js';
import type { ConsoleLines } from './app-ready/console-banner-ready.js';
import type { ProbeTool } from './config/vocabulary.js';
import type { ConsoleKeeper } from './console-keeper.js';
import type { RigFaults } from './faults.js';
import type { FlashDigest } from './flash-digest.js';

/** Switches the board's power. */
export interface PowerBackend {
  /** Cuts the power, leaves the board without it for as long as this switch is set to, and restores it. */
  cycle(): Promise<void>;
  /** Restores power that something else cut (an armed power loss); a switch the rig never leaves off does nothing. */
  ensureOn(): Promise<void>;
}

/** Resets the board: NRST, or the application's own reset command where nothing drives NRST. */
export interface ResetLine {
  /** How, for the rig's steps: "NRST", "NRST through the probe", "console". */
  readonly via: string;
  pulse(): Promise<void>;
}

/** The debug probe on the board's SWD port, and what its tool can do. */
export interface ProbeBackend {
  readonly probe: DebugProbe;
  readonly tool: ProbeTool;
  /** Writes RAM without side effects (the probe entry's magic word needs it). */
  readonly memoryWrite: boolean;
  /** Requests a software reset (SYSRESETREQ), the reset cause the probe entry relies on. */
  readonly systemReset: boolean;
}

/** The USB bus the host reaches the bootloader through. */
export interface UsbBackend {
  readonly bus: UsbBus & { readonly trace: TransferTrace };
  /** Lets go of the bus (a simulated board is unplugged from it). */
  close(): Promise<void>;
}

/**
 * How BOOT0 is wired. `rc`: an RC circuit the application charges from a pin before a reset
 * (`dfu rc`). `jumper`: held high by a jumper, so a power cycle through `power` starts the ROM.
 */
export interface Boot0Backend {
  readonly rc: boolean;
  readonly jumper: { readonly power: PowerBackend } | undefined;
}

/** What a running simulated board says and offers that a bench board cannot. */
export interface SimulationBackend {
  /** Why the board does not do what was asked, when the simulated chip knows (a core in its fault handler, a refused hand-over to the ROM). */
  likelyCause(): string | undefined;
  /** What the Cortex-M7 runs now. */
  runningCode(): 'app' | 'bootloader' | 'none';
  /** The application's name and version (its version block's) while the core runs it, not the ROM nor a fault handler. */
  runningApplication(): { name: string; version: string } | undefined;
  /** Per-sector CRC32s of the user flash, read from the simulated flash itself. */
  flashDigest(): Promise<FlashDigest>;
  /** Deliberate faults; `onArm` hears of each one armed. */
  readonly faults: RigFaults & { onArm(listener: (fault: string) => void): void };
  /** The board's USB socket, for programs that reach it through the USB emulation (`dfu-hil sim expose`). */
  readonly usbConnector: UsbConnector;
  /** The board's end of the console UART, for relaying it to such programs. */
  readonly consoleLink: UartLink;
}

/** Every backend of one rig. */
export interface RigBackends {
  readonly clock: Clock;
  readonly usb: UsbBackend;
  readonly console: ConsoleKeeper;
  readonly reset: ResetLine;
  readonly boot0: Boot0Backend;
  readonly power?: PowerBackend | undefined;
  readonly probe?: ProbeBackend | undefined;
  readonly simulation?: SimulationBackend | undefined;
  /**
   * The lines of another serial port of the board (a team's firmware that prints its banner on a
   * port of its own), opened on first use and closed with the backends; absent where there is none.
   */
  readonly serialLines?: ((port: string, baudRate: number) => ConsoleLines) | undefined;
  /** Every command the bench's tools ran (probe, hub), for the report. */
  readonly toolLog?: ProbeLog | undefined;
  /** True when the board runs the flashed image's own code (a bench; a simulated board in executed mode). */
  readonly executesFirmware: boolean;
  /** True when the application offers a USB DFU run-time interface (DFU_DETACH) under usb.app. */
  readonly appDfuRuntime: boolean;
  /**
   * Lets go of what the set opened, after the console is closed. `boardHeld` is false when the
   * rig's lease was lost: a board another run may now drive is left as it is (a simulated one is
   * not saved over).
   */
  close(options: { boardHeld: boolean }): Promise<void>;
}

/** Which backends a rig binds, without opening them: what its capabilities are made of. */
export interface BackendPresence {
  readonly console: boolean;
  readonly power: boolean;
  readonly probe: { readonly tool: ProbeTool; readonly memoryWrite: boolean; readonly systemReset: boolean } | undefined;
  readonly boot0: { readonly rc: boolean; readonly jumper: boolean };
  readonly faults: boolean;
  readonly executesFirmware: boolean;
  readonly appDfuRuntime: boolean;
}

/** The presence of a bound set of backends. */
export function presenceOf(backends: RigBackends): BackendPresence {
  const { probe } = backends;
  return {
    console: true,
    power: backends.power !== undefined,
    probe: probe ? { tool: probe.tool, memoryWrite: probe.memoryWrite, systemReset: probe.systemReset } : undefined,
    boot0: { rc: backends.boot0.rc, jumper: backends.boot0.jumper !== undefined },
    faults: backends.simulation !== undefined,
    executesFirmware: backends.executesFirmware,
    appDfuRuntime: backends.appDfuRuntime,
  };
}
