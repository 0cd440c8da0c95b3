import path from 'node:path';
import type { Command } from 'commander';
import { CliUsageError } from './usage-error.js';
import { findRigsFile, loadRigs, pickRig, type PickedRig, type RigsFile } from '../rig/config/load-rigs.js';
import { acquireRigLease, describeHolder, type RigLease } from '../rig/lock/rig-lock.js';
import type { Rig, RigContext, RigFactory } from '../rig/rig.js';
import type { RigConfig } from '../rig/config/load-rigs.js';
import { SimStateStore, simStateRoot } from '../rig/sim/sim-state-store.js';
import type { UsbBus } from '../usb/transport.js';
import { exposedLease, exposureFrom, exposureLeaseDir, openExposedRig, type Exposure } from './exposure.js';
import type { CliIo } from './io.js';

/** What the CLI is given from outside: how to build a rig and reach the USB bus. */
export interface CliServices {
  /**
   * Builds the rig the user chose, with the lease the CLI holds and, for a simulated rig, where its
   * board is kept between commands (see {@link CliContext.withRig}).
   */
  rigFactory: RigFactory;
  /** The USB bus for `devices` on hardware rigs (libusb). */
  usbBus: () => Promise<UsbBus>;
}

/** The options every command accepts. */
export interface GlobalOptions {
  rig?: string;
  rigs?: string;
  json?: boolean;
  /** Ms to wait for a busy (leased) hardware rig. */
  wait?: number;
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
   * Opens the chosen rig for `work` and always closes it, holding the rig's lease throughout,
   * simulated or hardware, so that two runs never drive one board: a second run waits (--wait)
   * or fails at once naming the holder. The lease is taken here, once, and handed to the rig. A
   * lease lost on the way stops the work (the rig's bus, console and probe refuse) and ends the
   * command as an infrastructure failure.
   *
   * A simulated rig lives only as long as this process, but its board must outlive it, as a real
   * board outlives a command: the rig restores the saved board and saves it again however `work`
   * ends (a flash that failed half-way has still changed the flash), unless the lease was lost.
   */
  async withRig<T>(work: (rig: Rig, lease: RigLease) => Promise<T>): Promise<T> {
    const { rig: config } = await this.pickedRig();
    const waitMs = this.options.wait;
    if (waitMs !== undefined && !(Number.isInteger(waitMs) && waitMs >= 0)) {
      throw new CliUsageError('--wait needs a whole number of milliseconds', 'For example: --wait 600000 waits up to 10 minutes for a busy rig.');
    }
    const exposure = this.exposure;
    if (exposure?.rig === config.name) return this.withExposedRig(config, exposure, waitMs ?? 0, work);
    const lease = await this.leaseRig(config, waitMs ?? 0);
    const context: RigContext = {
      env: this.io.env, warn: (m) => this.warn(m), lease,
      ...(config.kind === 'sim' ? { savedBoard: this.simStateStore(config.name) } : {}),
    };
    try {
      const rig = await this.services.rigFactory(config, context);
      try {
        const result = await work(rig, lease);
        await lease.check();
        return result;
      } finally {
        await rig.close();
      }
    } finally {
      await lease.release();
    }
  }

  /** The `sim expose` this command runs under, if any (see exposure.ts). */
  get exposure(): Exposure | undefined {
    return exposureFrom(this.io.env);
  }

  /**
   * A command under `sim expose` on the exposed rig: the exposing process holds the board and
   * will save it; this command takes its turn among the commands under that exposure and goes
   * through the exposed USB and the relayed console.
   */
  private async withExposedRig<T>(config: RigConfig, exposure: Exposure, waitMs: number, work: (rig: Rig, lease: RigLease) => Promise<T>): Promise<T> {
    const turn = await acquireRigLease({
      rig: config.name, waitMs, env: this.io.env, dir: exposureLeaseDir(exposure), warn: (m) => this.warn(m),
      onWait: (holder, ms) => this.warn(`rig "${config.name}" is busy under this exposure (${holder ? describeHolder(holder) : 'another command'}); waiting up to ${ms} ms`),
    });
    try {
      const lease = exposedLease(exposure, turn);
      await lease.check?.();
      const rig = await openExposedRig(config, exposure, { env: this.io.env, warn: (m) => this.warn(m), lease });
      try {
        const result = await work(rig, turn);
        await lease.check?.();
        return result;
      } finally {
        await rig.close();
      }
    } finally {
      await turn.release();
    }
  }

  /** Runs `work` holding a simulated rig's lease, without opening its board. */
  async withSimLease<T>(config: RigConfig, work: () => Promise<T>): Promise<T> {
    const lease = await this.leaseRig(config, this.options.wait ?? 0);
    try {
      return await work();
    } finally {
      await lease.release();
    }
  }

  /** Takes `config`'s lease: a simulated board's lives beside its saved state, a hardware rig's in the lock directory. */
  private async leaseRig(config: RigConfig, waitMs: number): Promise<RigLease> {
    let dir: string | undefined;
    if (config.kind === 'sim') {
      const store = this.simStateStore(config.name);
      await store.ensureRoot();
      dir = store.leaseDir;
    }
    return acquireRigLease({
      rig: config.name, waitMs, env: this.io.env, cwd: path.dirname(this.rigsPath), warn: (m) => this.warn(m),
      ...(dir ? { dir } : {}),
      onWait: (holder, ms) => this.warn(`rig "${config.name}" is busy (${holder ? describeHolder(holder) : 'held by another run'}); waiting up to ${ms} ms`),
    });
  }

  /** Where simulated boards are kept: DFU_HIL_STATE_DIR, else .dfu-hil/ next to rigs.yaml. */
  get simStateRoot(): string {
    return simStateRoot({ projectDir: path.dirname(this.rigsPath), cwd: this.io.cwd, env: this.io.env });
  }

  /** The saved board of simulated rig `rig`. */
  simStateStore(rig: string): SimStateStore {
    return new SimStateStore(this.simStateRoot, rig);
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
