// Exclusive leases on rigs, so that two test runs never drive one board at once.
//
// A lease is a lock directory made with mkdir (atomic) by proper-lockfile, whose mtime the
// holder refreshes every ttl/2. Beside it, `<rig>.holder.json` says who holds it: user, host,
// pid, CI job and start time, so that "busy" errors name the holder. A lease a crashed or
// cancelled job left behind cannot hold the rig forever:
//   - not refreshed within its TTL (the holder died, hung, or its machine slept): taken over;
//   - its holder process is gone and it ran on this host: taken over at once.
// Both are taken over with a warning naming the previous holder. proper-lockfile also removes
// the lease on a normal exit or a signal.
//
// Where the leases live (first that applies):
//   1. the `dir` option (the CLI's --lock-dir);
//   2. $DFU_HIL_LOCK_DIR;
//   3. $XDG_RUNTIME_DIR/dfu-hil/rig-locks (per user, cleared at reboot);
//   4. .rig-locks/ beside rigs.yaml (the `cwd` option; the CLI passes the rigs file's folder).
// Runs only exclude each other when they use the same directory: on a bench shared by several
// users or CI runners with separate checkouts, point DFU_HIL_LOCK_DIR at one shared,
// group-writable directory (e.g. /var/lock/dfu-hil).
import { randomUUID } from 'node:crypto';
import { mkdir, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { lock as lockFile } from 'proper-lockfile';
import { systemClock, type Clock } from '../../clock/clock.js';
import { RigInfrastructureError } from '../rig-errors.js';

/** Who holds a lease, as stored beside it. */
export interface LeaseHolder {
  rig: string;
  leaseId: string;
  user: string;
  host: string;
  pid: number;
  /** "github-run 123", "gitlab-job 456", or undefined outside CI. */
  ciJob: string | undefined;
  /** ISO time the lease was taken. */
  startedAt: string;
  ttlMs: number;
}

/** Options of {@link acquireRigLease}. */
export interface AcquireOptions {
  rig: string;
  /** How long to wait for a busy rig, in ms (0: fail at once). */
  waitMs?: number;
  /** A lease not refreshed for this long is stale. proper-lockfile's minimum is 2000 ms. */
  ttlMs?: number;
  /** Lock directory; see the comment at the top of this file for the default. */
  dir?: string;
  /** Where the default .rig-locks/ goes (the repository holding rigs.yaml); default process.cwd(). */
  cwd?: string;
  /** Interval between attempts while waiting. */
  pollMs?: number;
  clock?: Clock;
  env?: Readonly<Record<string, string | undefined>>;
  /** Receives warnings (a stale lease taken over, a lease lost). */
  warn?: (message: string) => void;
  /** Called once when the rig is found busy and the acquirer is going to wait for it. */
  onWait?: (holder: LeaseHolder | undefined, waitMs: number) => void;
}

/** The rig is held by someone else and did not come free in time. */
export class RigLockBusyError extends RigInfrastructureError {
  constructor(readonly rig: string, readonly holder: LeaseHolder | undefined, waitedMs: number, lockDir: string) {
    super('rig-lock-busy', `rig "${rig}" is busy: ${holder ? describeHolder(holder) : 'held by an unknown holder (its lease was just taken)'}${waitedMs > 0 ? `; waited ${waitedMs} ms` : ''}`, {
      hint: `Wait for that run to end or pass a longer wait (--wait <ms>). A dead holder's lease expires ${holder ? Math.round(holder.ttlMs / 1000) : 'a few'} s after its last refresh; to break it by hand remove ${path.join(lockDir, `${rig}.lock`)}.`,
    });
  }
}

/** A lease was taken away (its lock directory vanished or was taken over): stop using the rig. */
export class RigLockLostError extends RigInfrastructureError {
  constructor(rig: string, cause: unknown) {
    super('rig-lock-lost', `lost the lease on rig "${rig}": ${(cause as Error).message ?? String(cause)}`, {
      hint: 'Another run may be driving the board now. Check for a suspended machine or a hung event loop, which stop lease refreshes.',
      cause,
    });
  }
}

/** "alice@bench-pc pid 4242 (github-run 77), since 2026-01-01T10:00:00.000Z". */
export function describeHolder(holder: LeaseHolder): string {
  return `held by ${holder.user}@${holder.host} pid ${holder.pid}${holder.ciJob ? ` (${holder.ciJob})` : ''}, since ${holder.startedAt}`;
}

/** The CI job this process runs in, from the usual CI variables. */
export function ciJobOf(env: Readonly<Record<string, string | undefined>>): string | undefined {
  if (env.GITHUB_RUN_ID) return `github-run ${env.GITHUB_RUN_ID}${env.GITHUB_JOB ? `/${env.GITHUB_JOB}` : ''}`;
  if (env.CI_JOB_ID) return `gitlab-job ${env.CI_JOB_ID}`;
  if (env.BUILDKITE_JOB_ID) return `buildkite-job ${env.BUILDKITE_JOB_ID}`;
  return undefined;
}

/** The lock directory for `env` (see the comment at the top of this file). */
export function defaultLockDir(env: Readonly<Record<string, string | undefined>>, cwd = process.cwd()): string {
  if (env.DFU_HIL_LOCK_DIR) return path.resolve(cwd, env.DFU_HIL_LOCK_DIR);
  if (env.XDG_RUNTIME_DIR) return path.join(env.XDG_RUNTIME_DIR, 'dfu-hil', 'rig-locks');
  return path.resolve(cwd, '.rig-locks');
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<LeaseHolder | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as LeaseHolder;
  } catch {
    return undefined;
  }
}

async function lockAgeMs(lockDir: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(lockDir)).mtimeMs;
  } catch {
    return undefined;
  }
}

/** A held lease; release it when done (also released on process exit). */
export class RigLease {
  private lostError: RigLockLostError | undefined;
  private released = false;

  constructor(
    readonly holder: LeaseHolder,
    readonly lockDir: string,
    private readonly unlock: () => Promise<void>,
    private readonly holderFile: string,
  ) {}

  /** True until released or lost. */
  get held(): boolean {
    return !this.released && this.lostError === undefined;
  }

  /** Throws {@link RigLockLostError} if the lease was taken away. */
  assertHeld(): void {
    if (this.lostError) throw this.lostError;
  }

  /**
   * Looks at the lease on disk now, without waiting for the next refresh: gone, or held under
   * another lease id (taken over after this holder stalled), it is lost. Throws {@link RigLockLostError}.
   */
  async check(): Promise<void> {
    this.assertHeld();
    if (this.released) return;
    const current = await readHolder(this.holderFile);
    const lockExists = await stat(path.join(this.lockDir, `${this.holder.rig}.lock`)).then(() => true, () => false);
    if (current?.leaseId !== this.holder.leaseId || !lockExists) {
      const by = current && current.leaseId !== this.holder.leaseId ? `taken over: ${describeHolder(current)}` : 'its lock is gone';
      this.markLost(new RigLockLostError(this.holder.rig, new Error(by)));
      this.assertHeld();
    }
  }

  /** Called by the refresher when the lock was compromised. */
  markLost(error: RigLockLostError): void {
    this.lostError ??= error;
  }

  /** Gives the rig back; safe to call twice. */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const current = await readHolder(this.holderFile);
    if (current?.leaseId === this.holder.leaseId) await rm(this.holderFile, { force: true });
    if (this.lostError) return;
    try {
      await this.unlock();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ERELEASED') throw error;
    }
  }
}

/**
 * Takes over a lease whose holder process is gone. The holder file is renamed away first, so
 * of several runs noticing the same dead holder only one removes the lock directory; a file
 * that turns out to be a newer holder's is put back.
 */
async function breakDeadLease(lockPath: string, holderFile: string, dead: LeaseHolder): Promise<boolean> {
  const aside = `${holderFile}.${process.pid}.${randomUUID()}.dead`;
  try {
    await rename(holderFile, aside);
  } catch {
    return false;
  }
  const moved = await readHolder(aside);
  if (moved?.leaseId !== dead.leaseId) {
    await rename(aside, holderFile).catch(() => undefined);
    return false;
  }
  await rm(aside, { force: true });
  await rmdir(lockPath).catch(() => undefined);
  return true;
}

/** Acquires an exclusive lease on `rig`, waiting up to `waitMs`. */
export async function acquireRigLease(options: AcquireOptions): Promise<RigLease> {
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const warn = options.warn ?? (() => undefined);
  const ttlMs = Math.max(options.ttlMs ?? 30_000, 2_000);
  const waitMs = options.waitMs ?? 0;
  const pollMs = options.pollMs ?? 500;
  const dir = options.dir ?? defaultLockDir(env, options.cwd);
  if (!/^[A-Za-z0-9._-]+$/.test(options.rig)) throw new RangeError(`"${options.rig}" is not a rig name usable as a file name`);
  await mkdir(dir, { recursive: true });
  const base = path.join(dir, options.rig);
  const lockPath = `${base}.lock`;
  const holderFile = `${base}.holder.json`;
  const started = clock.now();
  let toldWaiting = false;

  for (;;) {
    const previous = await readHolder(holderFile);
    const age = await lockAgeMs(lockPath);
    if (age !== undefined) {
      const stale = Math.max(ttlMs, previous?.ttlMs ?? 0);
      if (previous && previous.host === os.hostname() && previous.pid !== process.pid && !processAlive(previous.pid)) {
        if (await breakDeadLease(lockPath, holderFile, previous)) {
          warn(`rig "${options.rig}": taking over a lease ${describeHolder(previous)}: that process is gone`);
        }
      } else if (age > stale) {
        // proper-lockfile removes it in lock() below; say whose it was first.
        warn(`rig "${options.rig}": taking over a stale lease ${previous ? describeHolder(previous) : 'of an unknown holder'}: not refreshed for ${Math.round(age / 1000)} s (TTL ${Math.round(stale / 1000)} s)`);
      }
    }

    const holder: LeaseHolder = {
      rig: options.rig,
      leaseId: randomUUID(),
      user: os.userInfo().username,
      host: os.hostname(),
      pid: process.pid,
      ciJob: ciJobOf(env),
      startedAt: new Date().toISOString(),
      ttlMs,
    };
    let lease: RigLease | undefined;
    try {
      const unlock = await lockFile(base, {
        realpath: false,
        lockfilePath: lockPath,
        stale: Math.max(ttlMs, previous?.ttlMs ?? 0),
        update: ttlMs / 2,
        retries: 0,
        onCompromised: (error) => {
          const lost = new RigLockLostError(options.rig, error);
          lease?.markLost(lost);
          warn(lost.message);
        },
      });
      lease = new RigLease(holder, dir, unlock, holderFile);
      const temp = `${holderFile}.${holder.leaseId}.tmp`;
      await writeFile(temp, `${JSON.stringify(holder, null, 2)}\n`);
      await rename(temp, holderFile);
      return lease;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
    }
    const waited = clock.now() - started;
    if (waited >= waitMs) {
      throw new RigLockBusyError(options.rig, await readHolder(holderFile), waitMs > 0 ? waited : 0, dir);
    }
    if (!toldWaiting) {
      toldWaiting = true;
      options.onWait?.(await readHolder(holderFile), waitMs);
    }
    await clock.sleep(Math.min(pollMs, waitMs - waited));
  }
}

/** Options shared by every lease a {@link RigLock} hands out. */
export type RigLockOptions = Omit<AcquireOptions, 'rig' | 'waitMs' | 'ttlMs'>;

/** Hands out rig leases from one lock directory, with one clock and one warning sink. */
export class RigLock {
  constructor(private readonly options: RigLockOptions = {}) {}

  /** Acquires `rig`, waiting up to `waitMs` for a busy one. */
  acquire(request: { rig: string; waitMs?: number; ttlMs?: number }): Promise<RigLease> {
    return acquireRigLease({ ...this.options, ...request });
  }
}
