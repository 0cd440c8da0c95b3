import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { acquireRigLease, ciJobOf, defaultLockDir, RigLock, RigLockBusyError, type LeaseHolder } from './rig-lock.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-lock-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function holderOf(overrides: Partial<LeaseHolder>): LeaseHolder {
  return {
    rig: 'bench-1', leaseId: 'old-lease', user: 'carol', host: 'other-host', pid: 999_999,
    ciJob: 'gitlab-job 31', startedAt: '2026-01-01T00:00:00.000Z', ttlMs: 2000, ...overrides,
  };
}

async function plantLease(holder: LeaseHolder, ageMs: number): Promise<void> {
  const lockPath = path.join(dir, 'bench-1.lock');
  await mkdir(lockPath);
  const when = new Date(Date.now() - ageMs);
  await utimes(lockPath, when, when);
  await writeFile(path.join(dir, 'bench-1.holder.json'), JSON.stringify(holder));
}

describe('rig lease', () => {
  it('refuses a second acquirer at once, naming the holder', async () => {
    const env = { GITHUB_RUN_ID: '4711', GITHUB_JOB: 'hil' };
    const first = await acquireRigLease({ rig: 'bench-1', dir, env });
    const stored = JSON.parse(await readFile(path.join(dir, 'bench-1.holder.json'), 'utf8')) as LeaseHolder;
    expect(stored).toMatchObject({ rig: 'bench-1', pid: process.pid, host: os.hostname(), user: os.userInfo().username, ciJob: 'github-run 4711/hil' });

    const error = await acquireRigLease({ rig: 'bench-1', dir, env: {} }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RigLockBusyError);
    expect((error as RigLockBusyError).code).toBe('rig-lock-busy');
    expect((error as RigLockBusyError).message).toBe(
      `rig "bench-1" is busy: held by ${os.userInfo().username}@${os.hostname()} pid ${process.pid} (github-run 4711/hil), since ${stored.startedAt}`,
    );
    expect((error as RigLockBusyError).hint).toContain(path.join(dir, 'bench-1.lock'));
    await first.release();
  });

  it('lets a waiting acquirer in once the holder releases, before its deadline', async () => {
    const clock = new VirtualClock();
    const lock = new RigLock({ dir, clock, env: {}, pollMs: 500 });
    const first = await lock.acquire({ rig: 'bench-1' });
    let releasedAt = -1;
    clock.setTimer(1200, () => { releasedAt = clock.now(); void first.release(); });
    const second = await lock.acquire({ rig: 'bench-1', waitMs: 10_000 });
    expect(releasedAt).toBe(1200);
    // Never before the holder let go (file I/O is real, so the waiter may get in at that very instant).
    expect(clock.now()).toBeGreaterThanOrEqual(releasedAt);
    expect(clock.now()).toBeLessThan(10_000);
    expect(second.held).toBe(true);
    expect(first.held).toBe(false);
    await second.release();
    expect(existsSync(path.join(dir, 'bench-1.lock'))).toBe(false);
    expect(existsSync(path.join(dir, 'bench-1.holder.json'))).toBe(false);
  });

  it('gives up when the deadline passes, saying how long it waited', async () => {
    const clock = new VirtualClock();
    const first = await acquireRigLease({ rig: 'bench-1', dir, env: {} });
    const error = await acquireRigLease({ rig: 'bench-1', dir, env: {}, clock, waitMs: 1500, pollMs: 500 }).catch((e: unknown) => e) as RigLockBusyError;
    expect(error).toBeInstanceOf(RigLockBusyError);
    expect(error.message).toMatch(/; waited 1500 ms$/);
    expect(clock.now()).toBe(1500);
    await first.release();
  });

  it('takes over a lease not refreshed within its TTL, with a warning naming the old holder', async () => {
    await plantLease(holderOf({}), 60_000);
    const warnings: string[] = [];
    const lease = await acquireRigLease({ rig: 'bench-1', dir, env: {}, ttlMs: 2000, warn: (m) => warnings.push(m) });
    expect(lease.held).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^rig "bench-1": taking over a stale lease held by carol@other-host pid 999999 \(gitlab-job 31\), since 2026-01-01T00:00:00.000Z: not refreshed for 6\d s \(TTL 2 s\)$/);
    const stored = JSON.parse(await readFile(path.join(dir, 'bench-1.holder.json'), 'utf8')) as LeaseHolder;
    expect(stored.pid).toBe(process.pid);
    await lease.release();
  });

  it('takes over at once a fresh lease whose holder process on this host is gone', async () => {
    const child = spawnSync(process.execPath, ['-e', '0']);
    expect(child.status).toBe(0);
    const deadPid = child.pid!;
    await plantLease(holderOf({ host: os.hostname(), pid: deadPid, ttlMs: 600_000 }), 0);
    const warnings: string[] = [];
    const lease = await acquireRigLease({ rig: 'bench-1', dir, env: {}, warn: (m) => warnings.push(m) });
    expect(lease.held).toBe(true);
    expect(warnings).toEqual([`rig "bench-1": taking over a lease held by carol@${os.hostname()} pid ${deadPid} (gitlab-job 31), since 2026-01-01T00:00:00.000Z: that process is gone`]);
    await lease.release();
  });

  it('keeps a fresh lease of a live holder on another host', async () => {
    await plantLease(holderOf({ ttlMs: 600_000 }), 1000);
    const error = await acquireRigLease({ rig: 'bench-1', dir, env: {} }).catch((e: unknown) => e) as RigLockBusyError;
    expect(error).toBeInstanceOf(RigLockBusyError);
    expect(error.holder?.host).toBe('other-host');
  });

  it('keeps leases of different rigs apart', async () => {
    const a = await acquireRigLease({ rig: 'bench-1', dir, env: {} });
    const b = await acquireRigLease({ rig: 'bench-2', dir, env: {} });
    expect([a.held, b.held]).toEqual([true, true]);
    await a.release();
    await a.release();
    await b.release();
  });

  it('finds the lock directory and CI job from the environment', () => {
    expect(defaultLockDir({ DFU_HIL_LOCK_DIR: '/var/lock/dfu-hil' })).toBe('/var/lock/dfu-hil');
    expect(defaultLockDir({ XDG_RUNTIME_DIR: '/run/user/1000' })).toBe('/run/user/1000/dfu-hil/rig-locks');
    expect(defaultLockDir({}, '/repo')).toBe('/repo/.rig-locks');
    expect(ciJobOf({ CI_JOB_ID: '88' })).toBe('gitlab-job 88');
    expect(ciJobOf({})).toBeUndefined();
  });
});
