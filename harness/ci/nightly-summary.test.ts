import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RigHealth } from './rig-health.js';
import { formatNightlySummary, readNightlyResults, tallyAllureResults } from './nightly-summary.js';

let root: string;
beforeEach(async () => { root = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-nightly-')); });
afterEach(async () => { await rm(root, { recursive: true, force: true }); });

const healthy = (rig: string, shard = 1, shardCount = 1): RigHealth => ({ rig, shard, shardCount, healthy: true, verdict: 'healthy', problems: [], warnings: [] });

/** Lays out one job's artifact the way download-artifact does: <root>/<artifact>/ci-out, allure-results. */
async function job(artifact: string, health: RigHealth | undefined, results: Array<{ status: string; fullName: string }> = []): Promise<void> {
  const dir = path.join(root, artifact);
  await mkdir(path.join(dir, 'ci-out'), { recursive: true });
  if (health) await writeFile(path.join(dir, 'ci-out', 'health.json'), JSON.stringify(health));
  if (results.length > 0) {
    await mkdir(path.join(dir, 'allure-results'));
    for (const [i, r] of results.entries()) await writeFile(path.join(dir, 'allure-results', `${i}-result.json`), JSON.stringify({ name: r.fullName.split('#')[1], ...r }));
    await writeFile(path.join(dir, 'allure-results', 'environment.properties'), 'rig=x\n');
  }
}

describe('the nightly summary', () => {
  it('counts Allure statuses and names what failed', async () => {
    await job('nightly-lab-a', healthy('lab-a'), [
      { status: 'passed', fullName: 'specs/leave.spec.ts#leaves' },
      { status: 'failed', fullName: 'specs/flash.spec.ts#writes 2 MiB' },
      { status: 'broken', fullName: 'specs/flash.spec.ts#reads back' },
      { status: 'skipped', fullName: 'specs/rc-boot0.spec.ts#rc window' },
    ]);
    expect(await tallyAllureResults(path.join(root, 'nightly-lab-a', 'allure-results'))).toEqual({
      passed: 1, failed: 1, broken: 1, skipped: 1, failures: ['specs/flash.spec.ts#writes 2 MiB', 'specs/flash.spec.ts#reads back'],
    });
    expect(await tallyAllureResults(path.join(root, 'absent'))).toBeUndefined();
  });

  it('lists infrastructure problems apart from test failures, one row per rig job', async () => {
    await job('nightly-lab-b', healthy('lab-b', 2, 2), [{ status: 'failed', fullName: 'specs/leave.spec.ts#boots B' }]);
    await job('nightly-lab-a', healthy('lab-a', 1, 2), [{ status: 'passed', fullName: 'specs/enter-dfu.spec.ts#enters' }]);
    await job('nightly-desk', {
      ...healthy('desk'), healthy: false, verdict: 'infrastructure',
      problems: [{ check: 'console-path', detail: '/dev/serial/by-id/x does not exist', fix: 'plug in the ST-LINK' }],
    });
    await job('nightly-lab-c', undefined);
    await job('nightly-lab-d', healthy('lab-d'));

    const text = formatNightlySummary(await readNightlyResults(root));
    expect(text.split('\n').slice(0, 9)).toEqual([
      '## Nightly HIL',
      '',
      '| rig | shard | health | tests |',
      '|---|---|---|---|',
      '| desk | 1/1 | **unhealthy: infrastructure (fix the bench or the runner, not the firmware)** | not run |',
      '| lab-a | 1/2 | healthy | 1 passed, 0 failed, 0 skipped |',
      '| lab-b | 2/2 | healthy | 0 passed, 1 failed, 0 skipped |',
      '| lab-d | 1/1 | healthy | no results (see the job log) |',
      '| nightly-lab-c | 1/1 | **unhealthy: the doctor itself failed** | not run |',
    ]);
    const infrastructure = text.indexOf('### Infrastructure');
    const failures = text.indexOf('### Test failures');
    expect(infrastructure).toBeGreaterThan(0);
    expect(failures).toBeGreaterThan(infrastructure);
    expect(text.slice(infrastructure, failures)).toContain('- desk: **console-path**: /dev/serial/by-id/x does not exist — fix: plug in the ST-LINK');
    expect(text.slice(infrastructure, failures)).toContain('- nightly-lab-c: **job**: the job left no health record');
    expect(text.slice(failures)).toBe('### Test failures: the board, the firmware or the harness\n\n- lab-b: specs/leave.spec.ts#boots B\n');
  });

  it('says so when every rig was healthy and green', async () => {
    await job('nightly-lab-a', healthy('lab-a'), [{ status: 'passed', fullName: 'a#b' }]);
    expect(formatNightlySummary(await readNightlyResults(root))).toContain('Every rig was healthy and every test passed');
  });
});
