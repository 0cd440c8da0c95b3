// A simulated board's USB made visible to other programs (dfu-util, STM32CubeProgrammer's CLI,
// a team's own flasher) through umockdev, for as long as they run.
import { execa } from 'execa';
import type { Clock } from '../clock/clock.js';
import type { CommandResult } from '../probe/command-runner.js';
import type { UsbConnector } from '../usb/gadget.js';
import { EmulatedUsbBus } from './emulated-usb-bus.js';
import { UsbEmulationError } from './errors.js';
import { UmockdevBridge } from './umockdev-bridge.js';
import { requireUmockdev, type UmockdevTools } from './umockdev-support.js';

/** The environment variable that sets {@link ExposedBoardOptions.busyTimeScale} for `dfu-hil sim expose`. */
export const BUSY_TIME_SCALE_ENV = 'DFU_HIL_BUSY_TIME_SCALE';

/** Options of {@link ExposedBoard.start}. */
export interface ExposedBoardOptions {
  /**
   * Wall milliseconds per virtual millisecond of device-busy time (an erase, a write): 1 (the
   * default) makes a simulated 1.1 s sector erase last 1.1 s for the program, 0.1 ten times less;
   * 0 turns pacing off. Default: DFU_HIL_BUSY_TIME_SCALE, else 1.
   */
  busyTimeScale?: number;
}

/** The busy-time scale from the environment, or `fallback`; a value that is not a number ≥ 0 is refused. */
export function busyTimeScaleFromEnv(env: Readonly<Record<string, string | undefined>> = process.env, fallback = 1): number {
  const text = env[BUSY_TIME_SCALE_ENV];
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) {
    throw new UsbEmulationError(`${BUSY_TIME_SCALE_ENV}="${text}" is not a number of wall milliseconds per simulated millisecond`, {
      hint: `Set ${BUSY_TIME_SCALE_ENV} to 1 for real time, 0.1 for ten times faster, or 0 to turn pacing off.`,
    });
  }
  return value;
}

/** Options of {@link ExposedBoard.run}. */
export interface ExposedRunOptions {
  /** `inherit` hands the terminal to the program; default `pipe`, capturing its output. */
  stdio?: 'pipe' | 'inherit';
  /** Real milliseconds before the program is killed; default no limit. */
  timeoutMs?: number;
  cwd?: string;
  /** More environment for the program, on top of the emulation's. */
  env?: Readonly<Record<string, string>>;
}

/** A simulated board whose USB connector appears on an emulated bus that child programs can see. */
export class ExposedBoard {
  private constructor(private readonly bridge: UmockdevBridge, private readonly bus: EmulatedUsbBus) {}

  /**
   * Starts a bridge and follows `connector` on it: the bootloader appears at entry and goes at
   * leave. The board's device-busy time is paced to the wall clock (see {@link ExposedBoardOptions}).
   */
  static async start(board: { clock: Clock; connector: UsbConnector }, tools?: UmockdevTools, options: ExposedBoardOptions = {}): Promise<ExposedBoard> {
    const busyTimeScale = options.busyTimeScale ?? busyTimeScaleFromEnv();
    const bridge = await UmockdevBridge.start(tools ?? await requireUmockdev());
    const bus = new EmulatedUsbBus(bridge, { clock: board.clock, busyTimeScale });
    try {
      bus.addConnector(board.connector);
      await bus.settled();
    } catch (error) {
      await bridge.close();
      throw error;
    }
    return new ExposedBoard(bridge, bus);
  }

  /** LD_PRELOAD and UMOCKDEV_DIR for a program that should see the board. */
  env(): Record<string, string> {
    return this.bridge.env();
  }

  /** Runs `file` with the emulated bus in its environment; never rejects on its exit code. */
  async run(file: string, args: readonly string[], options: ExposedRunOptions = {}): Promise<CommandResult> {
    const inherit = options.stdio === 'inherit';
    const result = await execa(file, args, {
      env: { ...options.env, ...this.env() }, extendEnv: true, reject: false, all: !inherit, stdin: inherit ? 'inherit' : 'ignore',
      stdout: inherit ? 'inherit' : 'pipe', stderr: inherit ? 'inherit' : 'pipe',
      ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}), ...(options.cwd ? { cwd: options.cwd } : {}),
    });
    const text = (v: unknown): string => (typeof v === 'string' ? v : '');
    return {
      command: result.command, exitCode: result.exitCode, stdout: text(result.stdout), stderr: text(result.stderr),
      all: text(result.all), timedOut: result.timedOut, notFound: (result as { code?: string }).code === 'ENOENT',
    };
  }

  /** Takes the board off the emulated bus and ends the bridge. */
  async close(): Promise<void> {
    try {
      await this.bus.close();
    } finally {
      await this.bridge.close();
    }
  }
}
