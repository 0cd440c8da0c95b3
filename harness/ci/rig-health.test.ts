// Rig health read from the real `dfu-hil doctor --json`, run in-process on a machine described
// by a fake environment, so the contract between the doctor and CI is tested end to end.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DoctorEnvironment } from '../cli/doctor/checks.js';
import { runCli } from '../cli/main.js';
import { formatRigHealth, rigHealthFromDoctor } from './rig-health.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');
let tmp: string;
beforeEach(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-health-')); });
afterEach(async () => { await rm(tmp, { recursive: true, force: true }); });

/** A Linux machine with dfu-util and nothing else: no probe tool, no console port. */
function machine(): DoctorEnvironment {
  return {
    env: {}, cwd: tmp, platform: 'linux', nodeVersion: 'v20.20.2',
    which: async (command) => (command === 'dfu-util' ? '/usr/bin/dfu-util' : undefined),
    pathExists: async () => false,
    canReadWrite: async () => true,
    udevRules: async () => [],
  };
}

async function doctor(argv: string[]): Promise<{ code: number; stdout: string }> {
  let stdout = '';
  const code = await runCli(['--json', ...argv, 'doctor'], {
    stdout: { write: (t: string) => { stdout += t; } }, stderr: { write: () => undefined }, env: {}, cwd: repoRoot,
  }, { doctorEnvironment: machine() });
  return { code, stdout };
}

const job = { rig: 'bench-1', shard: 2, shardCount: 2 };

describe('rigHealthFromDoctor', () => {
  it('finds a simulated rig healthy', async () => {
    const { code, stdout } = await doctor(['--rig', 'sim-h745']);
    expect(rigHealthFromDoctor({ ...job, rig: 'sim-h745' }, code, stdout)).toEqual({ rig: 'sim-h745', shard: 2, shardCount: 2, healthy: true, verdict: 'healthy', problems: [], warnings: [] });
  });

  it('marks a bench with missing tools and ports unhealthy for infrastructure, each failed check with its fix', async () => {
    const { code, stdout } = await doctor(['--rig', 'bench-1']);
    const health = rigHealthFromDoctor(job, code, stdout);
    expect(health).toMatchObject({ healthy: false, verdict: 'infrastructure' });
    expect(health.problems.map((p) => p.check)).toEqual(['placeholders', 'probe-tool', 'console-path']);
    expect(health.problems.find((p) => p.check === 'probe-tool')?.fix).toBe('sudo apt-get install openocd');
    expect(health.warnings.map((w) => w.check)).toEqual(['udev-rules']);

    const text = formatRigHealth(health);
    expect(text.split('\n')[0]).toBe('### Rig bench-1 (shard 2/2): unhealthy: infrastructure (fix the bench or the runner, not the firmware)');
    expect(text).toContain('The suite was not run on this rig');
    expect(text).toContain('- **probe-tool**: openocd is not on PATH (the rig\'s probe tool is openocd) — fix: sudo apt-get install openocd');
    expect(text).toContain('- warning, **udev-rules**:');
  });

  it('tells a broken rigs.yaml apart from a broken bench', async () => {
    const file = path.join(tmp, 'rigs.yaml');
    await writeFile(file, 'rigs:\n  bench-1:\n    kind: nucleo-h745\n    usb: { portPath: "1-4" }\n');
    const { code, stdout } = await doctor(['--rigs', file, '--rig', 'bench-1']);
    const health = rigHealthFromDoctor(job, code, stdout);
    expect(health).toMatchObject({ healthy: false, verdict: 'config', problems: [{ check: 'config', detail: expect.stringContaining('rigs.bench-1.console.path') }] });
  });

  it('counts a doctor that crashed or printed no report as its own failure, never as healthy', () => {
    expect(rigHealthFromDoctor(job, 70, 'TypeError: boom')).toMatchObject({
      healthy: false, verdict: 'doctor-failed', problems: [{ check: 'doctor', detail: 'dfu-hil doctor ended with exit code 70 and no JSON report' }],
    });
    expect(rigHealthFromDoctor(job, 0, '')).toMatchObject({ healthy: false, verdict: 'doctor-failed' });
    expect(rigHealthFromDoctor(job, 2, '{"checks":[]}')).toMatchObject({ healthy: false, verdict: 'doctor-failed' });
  });
});
