import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import { ConsoleLog } from '../serial/console-log.js';
import { TransferTrace } from '../usb/trace.js';
import { capabilitiesFromConfig, type Rig, type RigFactory } from '../rig/rig.js';
import type { DoctorEnvironment } from './doctor/checks.js';
import { acquireRigLease } from '../rig/lock/rig-lock.js';
import { runCli, type RunCliOptions } from './main.js';

const repoRoot = path.resolve(import.meta.dirname, '../..');

interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(argv: string[], env: Record<string, string | undefined> = {}, options: RunCliOptions = {}, cwd = repoRoot): Promise<Captured> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(argv, {
    stdout: { write: (t: string) => { stdout += t; } },
    stderr: { write: (t: string) => { stderr += t; } },
    env,
    cwd,
  }, options);
  return { code, stdout, stderr };
}

let tmp: string;
beforeEach(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-cli-')); });
afterEach(async () => { await rm(tmp, { recursive: true, force: true }); });

describe('dfu-hil rigs', () => {
  it('lists the rigs and marks the default', async () => {
    const { code, stdout, stderr } = await cli(['rigs']);
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const lines = stdout.split('\n');
    expect(lines[0]).toMatch(/^ {2}NAME +KIND +ENTRY +DESCRIPTION$/);
    expect(lines[1]).toMatch(/^\* sim-h745 +sim +console-jump,console-direct,rc,probe +Simulated NUCLEO-H745ZI-Q/);
    expect(lines[2]).toMatch(/^ {2}sim-h745-v91 +sim /);
    expect(lines[3]).toMatch(/^ {2}sim-h745-exec +sim +dfu-detach,console-jump,console-direct,rc,probe /);
    expect(lines[4]).toMatch(/^ {2}sim-h745-example +sim +dfu-detach,console-command,probe /);
    expect(lines[5]).toMatch(/^ {2}bench-1 +nucleo-h745 /);
    expect(stdout).toContain(`${path.join(repoRoot, 'rigs.yaml')}; * = default (sim-h745)`);
  });

  it('prints JSON with --json, with the rig RIG chose', async () => {
    const { code, stdout } = await cli(['--json', 'rigs'], { RIG: 'bench-1' });
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { default: string; selected: string; rigs: Array<Record<string, unknown>> };
    expect(doc.default).toBe('sim-h745');
    expect(doc.selected).toBe('bench-1');
    expect(doc.rigs.map((r) => [r.name, r.kind, r.default])).toEqual([
      ['sim-h745', 'sim', true], ['sim-h745-v91', 'sim', false], ['sim-h745-exec', 'sim', false], ['sim-h745-example', 'sim', false], ['bench-1', 'nucleo-h745', false],
    ]);
    expect(doc.rigs[1]).toMatchObject({ bootloader: { profile: 'st-rom-v9.1', vidPid: '0483:df11' }, probe: 'st-flash', powerControl: true });
  });

  it('prints the JSON Schema with --schema', async () => {
    const { code, stdout } = await cli(['rigs', '--schema']);
    expect(code).toBe(0);
    const schema = JSON.parse(stdout) as { properties: Record<string, unknown> };
    expect(Object.keys(schema.properties)).toEqual(['default', 'rigs']);
  });

  it('fails a bad rigs file with one error line, a hint line and exit code 3', async () => {
    const file = path.join(tmp, 'rigs.yaml');
    await writeFile(file, 'rigs:\n  bench-1:\n    kind: sim\n    entry:\n      rc: { chargePin: G2 }\n');
    const { code, stdout, stderr } = await cli(['--rigs', file, 'rigs']);
    expect(code).toBe(3);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(`dfu-hil: error: ${file}:5:24: rigs.bench-1.entry.rc.chargePin: found "G2"; expected a pin name like "PG2"`);
    expect(lines[1]).toMatch(/^hint: Fix .*rigs\.yaml/);
  });

  it('names the known rigs for an unknown --rig, exit code 3', async () => {
    const { code, stderr } = await cli(['--rig', 'bench-9', 'rigs']);
    expect(code).toBe(3);
    expect(stderr.split('\n')[0]).toBe(`dfu-hil: error: unknown rig "bench-9" (from --rig); ${path.join(repoRoot, 'rigs.yaml')} has: sim-h745, sim-h745-v91, sim-h745-exec, sim-h745-example, bench-1`);
  });

  it('finds rigs.yaml from a sub-folder and exits 2 on an unknown command', async () => {
    expect((await cli(['rigs'], {}, {}, path.join(repoRoot, 'harness', 'cli'))).code).toBe(0);
    const { code, stderr } = await cli(['frobnicate']);
    expect(code).toBe(2);
    expect(stderr).toContain("unknown command 'frobnicate'");
  });
});

function fakeEnvironment(overrides: Partial<DoctorEnvironment> = {}): DoctorEnvironment {
  return {
    env: {}, cwd: tmp, platform: 'linux', nodeVersion: 'v20.20.2',
    which: async () => undefined,
    pathExists: async () => false,
    canReadWrite: async () => true,
    udevRules: async () => [],
    ...overrides,
  };
}

describe('dfu-hil doctor', () => {
  it('passes the simulated rig without asking for hardware tools', async () => {
    const { code, stdout } = await cli(['doctor'], {}, { doctorEnvironment: fakeEnvironment() });
    expect(code).toBe(0);
    const ids = stdout.split('\n').filter((l) => /^(ok|WARN|FAIL)/.test(l)).map((l) => l.split(/\s+/).slice(0, 2).join(' '));
    expect(ids).toEqual(['ok config', 'ok node', 'ok simulated-board']);
    expect(stdout).toContain('simulated ROM st-rom-v9.2 enumerating as 0483:df11');
    expect(stdout.trimEnd().split('\n').at(-1)).toBe('doctor: sim-h745 is ready');
  });

  it('lists each failing hardware check with its Debian package, exit code 4', async () => {
    const environment = fakeEnvironment({ which: async (c) => (c === 'dfu-util' ? '/usr/bin/dfu-util' : undefined) });
    const { code, stdout } = await cli(['--json', '--rig', 'bench-1', 'doctor'], {}, { doctorEnvironment: environment });
    expect(code).toBe(4);
    const doc = JSON.parse(stdout) as { ok: boolean; checks: Array<{ id: string; status: string; fix?: string; detail: string }> };
    expect(doc.ok).toBe(false);
    expect(doc.checks.map((c) => [c.id, c.status])).toEqual([
      ['config', 'ok'], ['node', 'ok'], ['placeholders', 'fail'], ['probe-tool', 'fail'], ['dfu-util', 'ok'],
      ['udev-rules', 'warn'], ['console-path', 'fail'], ['lock-dir', 'ok'],
    ]);
    expect(doc.checks.find((c) => c.id === 'probe-tool')?.fix).toBe('sudo apt-get install openocd');
    expect(doc.checks.find((c) => c.id === 'udev-rules')?.fix).toContain('ATTRS{idVendor}=="0483", ATTRS{idProduct}=="df11"');
    expect(doc.checks.find((c) => c.id === 'placeholders')?.detail).toBe('rigs.bench-1.usb.serial, rigs.bench-1.probe.serial, rigs.bench-1.console.path still hold a placeholder');
  });

  it('reports an invalid rigs file as a failed config check, exit code 3', async () => {
    const file = path.join(tmp, 'rigs.yaml');
    await writeFile(file, 'rigs:\n  a:\n    kind: sim\n    timeouts: { flashMs: -1 }\n');
    const { code, stdout } = await cli(['--rigs', file, 'doctor'], {}, { doctorEnvironment: fakeEnvironment() });
    expect(code).toBe(3);
    expect(stdout).toContain(`FAIL  config  ${file}:4:26: rigs.a.timeouts.flashMs: found -1; expected a positive number of milliseconds`);
  });
});

describe('rig commands', () => {
  it('drives an injected rig: enter, then skip a method the rig lacks', async () => {
    const calls: string[] = [];
    const clock = new VirtualClock();
    const factory: RigFactory = async (config) => {
      const rig: Partial<Rig> = {
        name: config.name, kind: config.kind, config, capabilities: capabilitiesFromConfig(config),
        trace: { usb: new TransferTrace(), console: new ConsoleLog(), steps: [] },
        enterDfu: async (method) => {
          calls.push(`enter ${method}`);
          await clock.sleep(54);
          return { method, vidPid: { vendorId: 0x0483, productId: 0xdf11 }, serialNumber: '200364500000', portPath: '1-4', enumeratedAfterMs: clock.now() };
        },
        bootloaderPresent: async () => false,
        close: async () => { calls.push('close'); },
      };
      return rig as Rig;
    };
    const ok = await cli(['enter', 'rc'], {}, { rigFactory: factory });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('sim-h745: in DFU mode via rc as 0483:df11 SN 200364500000 @1-4 after 54 ms\n');
    const missing = await cli(['enter', 'boot0-jumper'], {}, { rigFactory: factory });
    expect(missing.code).toBe(5);
    expect(missing.stderr.split('\n')[0]).toBe('dfu-hil: error: rig "sim-h745" does not offer the "boot0-jumper" entry method (it offers: console-jump, console-direct, rc, probe)');
    expect(calls).toEqual(['enter rc', 'close', 'close']);
    const usage = await cli(['enter', 'magic'], {}, { rigFactory: factory });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('unknown entry method "magic"');
  });

  it('refuses a hardware rig another run holds, naming the holder, exit code 4', async () => {
    const env = { DFU_HIL_LOCK_DIR: tmp };
    const lease = await acquireRigLease({ rig: 'bench-1', env: { ...env, CI_JOB_ID: '512' } });
    let opened = false;
    const factory: RigFactory = async () => { opened = true; throw new Error('must not be reached'); };
    try {
      const { code, stderr } = await cli(['--rig', 'bench-1', 'gpio'], env, { rigFactory: factory });
      expect(code).toBe(4);
      expect(stderr.split('\n')[0]).toBe(`dfu-hil: error: rig "bench-1" is busy: held by ${os.userInfo().username}@${os.hostname()} pid ${process.pid} (gitlab-job 512), since ${lease.holder.startedAt}`);
      expect(stderr.split('\n')[1]).toMatch(/^hint: Wait for that run to end or pass a longer wait \(--wait <ms>\)/);
      expect(opened).toBe(false);
    } finally {
      await lease.release();
    }
  });
});
