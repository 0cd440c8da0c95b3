import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RigTestError } from './rig-errors.js';
import { checkRigHealth, unhealthyReason } from './rig-health-check.js';

const BENCH = `
rigs:
  bench-x:
    kind: nucleo-h745
    usb: { serial: "200364500000" }
    console: { path: /dev/serial/by-id/dfu-hil-no-such-stlink-if02 }
  sim-x:
    kind: sim
`;

let dir: string;
let env: Record<string, string>;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-health-'));
  await writeFile(path.join(dir, 'rigs.yaml'), BENCH);
  env = { DFU_HIL_RIGS: path.join(dir, 'rigs.yaml'), DFU_HIL_LOCK_DIR: path.join(dir, 'locks') };
});
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('the rig health check before a suite', () => {
  it('finds a hardware rig without its board unfit, as infrastructure, with the reason', async () => {
    const health = await checkRigHealth({ env: { ...env, RIG: 'bench-x' }, cwd: dir });
    expect(health).toMatchObject({ healthy: false, rig: 'bench-x', failure: 'infrastructure', code: 'console-open-failed' });
    if (health.healthy) throw new Error('unreachable');
    expect(unhealthyReason(health)).toMatch(/^rig bench-x is not fit to run \(infrastructure\): cannot open console \/dev\/serial\/by-id\/dfu-hil-no-such-stlink-if02/);
    // The check gave the lease back: the suite can take it.
    const again = await checkRigHealth({ env: { ...env, RIG: 'bench-x' }, cwd: dir });
    expect(again).toMatchObject({ code: 'console-open-failed' });
  });

  it('finds a rigs.yaml that does not read unfit, as config', async () => {
    await writeFile(path.join(dir, 'rigs.yaml'), 'rigs:\n  a:\n    kind: *nope\n');
    expect(await checkRigHealth({ env, cwd: dir })).toMatchObject({ healthy: false, failure: 'config', code: 'rig-config', rig: undefined });
  });

  it('passes a simulated rig without opening it, and leaves what is not the bench\'s fault to the specs', async () => {
    let opened = 0;
    const factory = async (): Promise<never> => { opened++; throw new RigTestError('dfu-not-enumerated', 'the board did not enumerate'); };
    expect(await checkRigHealth({ env: { ...env, RIG: 'sim-x' }, cwd: dir, factory })).toEqual({ healthy: true, rig: 'sim-x' });
    expect(opened).toBe(0);
    expect(await checkRigHealth({ env: { ...env, RIG: 'bench-x' }, cwd: dir, factory })).toEqual({ healthy: true, rig: 'bench-x' });
    expect(opened).toBe(1);
  });
});
