import path from 'node:path';
import type { Command } from 'commander';
import { DfuHilError } from '../errors.js';
import { findRigsFile, loadRigs, pickRig, type PickedRig, type RigsFile } from '../rig/config/load-rigs.js';
import { acquireRigLease } from '../rig/lock/rig-lock.js';
import { RigNotAvailable, type Rig, type RigContext, type RigFactory } from '../rig/rig.js';
import type { RigConfig } from '../rig/config/load-rigs.js';
import type { SimRig } from '../rig/sim/sim-rig.js';
import { SimStateStore, simStateRoot } from '../rig/sim/sim-state-store.js';
import type { SimBoardState } from '../sim/board/nucleo-h745.js';
import type { UsbBus } from '../usb/transport.js';
import type { CliIo } from './io.js';

/** What the CLI is given from outside: how to build a rig and reach the USB bus. */
export interface CliServices {
  /** Builds the rig the user chose; the lead wires the simulated and hardware rigs here. */
  rigFactory: RigFactory;
  /** The USB bus for `devices` on hardware rigs (libusb). */
  usbBus?: () => Promise<UsbBus>;
  /**
   * Opens a simulated rig on a saved board (`state`), or a factory-fresh one when undefined.
   * With it, sim rigs keep their board between runs (see {@link CliContext.withRig}); without
   * it they come from `rigFactory` and start fresh every time.
   */
  openSimRig?: (config: RigConfig, state: SimBoardState | undefined, context: RigContext) => Promise<SimRig>;
}

/** The options every command accepts. */
export interface GlobalOptions {
  rig?: string;
  rigs?: string;
  json?: boolean;
  /** Ms to wait for a busy (leased) hardware rig. */
  wait?: number;
}

/** Used until a real factory is injected: every rig kind reports itself as not built yet. */
export const unavailableRigFactory: RigFactory = async (config) => {
  throw new RigNotAvailable('opening a rig', config.kind);
};

/** A usage mistake found after parsing (a bad address, an unknown entry method). */
export class CliUsageError extends DfuHilError {
  constructor(message: string, hint: string) {
    super('cli-usage', message, { hint });
  }
}

/** Per-run state shared by the commands: io, global options, the rigs file. */
export class CliContext {
  /** Set by a command that finished but wants a non-zero exit (doctor with failing checks). */
  exitCode = 0;
  private rigsCache: Promise<RigsFile> | undefined;

  constructor(readonly io: CliIo, readonly services: CliServices, private readonly program: Command) {}

  /** The global options as given. */
  get options(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  /** True with --json. */
  get json(): boolean {
    return this.options.json === true;
  }

  /** Path of the rigs file: --rigs, else DFU_HIL_RIGS, else rigs.yaml found upwards from cwd. */
  get rigsPath(): string {
    return this.options.rigs !== undefined ? findRigsFile(this.io.cwd, { DFU_HIL_RIGS: this.options.rigs }) : findRigsFile(this.io.cwd, this.io.env);
  }

  /** The parsed rigs file (read once per run). */
  rigsFile(): Promise<RigsFile> {
    this.rigsCache ??= loadRigs(this.rigsPath);
    return this.rigsCache;
  }

  /** The rig chosen by --rig, RIG or the file's default. */
  async pickedRig(): Promise<PickedRig> {
    return pickRig(await this.rigsFile(), { flag: this.options.rig, env: this.io.env.RIG });
  }

  /**
   * Opens the chosen rig for `work` and always closes it. Hardware rigs are leased first so
   * that two runs never drive one board; simulated rigs live in this process and need none.
   */
  async withRig<T>(work: (rig: Rig) => Promise<T>): Promise<T> {
    const { rig: config } = await this.pickedRig();
    const waitMs = this.options.wait;
    if (waitMs !== undefined && !(Number.isInteger(waitMs) && waitMs >= 0)) {
      throw new CliUsageError('--wait needs a whole number of milliseconds', 'For example: --wait 600000 waits up to 10 minutes for a busy rig.');
    }
    const lease = config.kind === 'sim' ? undefined : await acquireRigLease({
      rig: config.name, waitMs: waitMs ?? 0, env: this.io.env, cwd: path.dirname(this.rigsPath), warn: (m) => this.warn(m),
    });
    const context: RigContext = { env: this.io.env, warn: (m) => this.warn(m) };
    if (config.kind === 'sim' && this.services.openSimRig) return this.withSimRig(config, context, work);
    try {
      const rig = await this.services.rigFactory(config, context);
      try {
        return await work(rig);
      } finally {
        await rig.close();
      }
    } finally {
      await lease?.release();
    }
  }

  /** Where simulated boards are kept: DFU_HIL_STATE_DIR, else .dfu-hil/ next to rigs.yaml. */
  get simStateRoot(): string {
    return simStateRoot({ projectDir: path.dirname(this.rigsPath), cwd: this.io.cwd, env: this.io.env });
  }

  /** The saved board of simulated rig `rig`. */
  simStateStore(rig: string): SimStateStore {
    return new SimStateStore(this.simStateRoot, rig);
  }

  /**
   * A simulated rig lives only as long as this process, but its board must outlive it, as a
   * real board outlives a command: restore the saved board, and save it again however `work`
   * ends (a flash that failed half-way has still changed the flash).
   */
  private async withSimRig<T>(config: RigConfig, context: RigContext, work: (rig: Rig) => Promise<T>): Promise<T> {
    const store = this.simStateStore(config.name);
    const rig = await this.services.openSimRig!(config, await store.load(), context);
    try {
      return await work(rig);
    } finally {
      try {
        await store.save(rig.board.snapshot());
      } finally {
        await rig.close();
      }
    }
  }

  /** Writes a line to stdout. */
  out(line = ''): void {
    this.io.stdout.write(`${line}\n`);
  }

  /** Writes one JSON document to stdout. */
  outJson(value: unknown): void {
    this.io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  }

  /** Writes a warning to stderr. */
  warn(message: string): void {
    this.io.stderr.write(`dfu-hil: warning: ${message}\n`);
  }
}
