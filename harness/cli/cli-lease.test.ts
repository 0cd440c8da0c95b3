// Every command that touches a board holds the rig's lease, simulated rigs included: a second
// command waits (--wait) or fails at once with exit code 4 naming the holder, and a command
// that loses its lease stops and fails as infrastructure, without saving over the board.
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTestAppImage, createFirmwareImage, writeDfu } from '../image/index.js';
import { acquireRigLease } from '../rig/lock/rig-lock.js';
import { REPO_ROOT } from '../rig/reference-images.js';
import { SimStateStore } from '../rig/sim/sim-state-store.js';
import { findUmockdevSupport } from '../usb-emulation/umockdev-support.js';
import type { CliServices } from './context.js';
import { ExitCode } from './exit-codes.js';
import { testCliServices, useCliProject } from './testing/cli-project.js';

const RIGS = 'default: sim-a\nrigs:\n  sim-a:\n    kind: sim\n    usb: { serial: "200364500000" }\n';

const project = useCliProject(RIGS);
const cli = (argv: string[], services?: CliServices) => project.run(argv, services ? { services } : {});

const leaseDir = (): string => new SimStateStore(project.stateDir, 'sim-a').leaseDir;

async function imageFile(name: string, version: string): Promise<string> {
  const file = path.join(project.dir, `${name}.dfu`);
  await writeFile(file, writeDfu(buildTestAppImage({ name, version })));
  return file;
}

describe('leases on simulated rigs', () => {
  it('refuses a second command on a busy simulated rig with exit code 4, naming the holder', async () => {
    const holder = await acquireRigLease({ rig: 'sim-a', dir: leaseDir(), env: { GITHUB_RUN_ID: '99' } });
    try {
      for (const argv of [['flash', await imageFile('x', '2.0.0')], ['status'], ['enter'], ['leave'], ['read', '0x08000000', '16', '-o', path.join(project.dir, 'r.bin')], ['erase', '--mass'], ['sim', 'reset']]) {
        const { code, stderr } = await cli(argv);
        expect(code, argv.join(' ')).toBe(ExitCode.Infrastructure);
        expect(stderr.split('\n')[0]).toBe(`dfu-hil: error: rig "sim-a" is busy: held by ${os.userInfo().username}@${os.hostname()} pid ${process.pid} (github-run 99), since ${holder.holder.startedAt}`);
      }
      // Nothing was saved: the board was never opened.
      expect(existsSync(path.join(project.stateDir, 'sim', 'sim-a'))).toBe(false);
    } finally {
      await holder.release();
    }
  });

  it('waits with --wait, saying for whom, and runs once the holder is done', async () => {
    const holder = await acquireRigLease({ rig: 'sim-a', dir: leaseDir(), env: {} });
    setTimeout(() => { void holder.release(); }, 300);
    const { code, stderr } = await cli(['--wait', '20000', 'status']);
    expect(code).toBe(0);
    expect(stderr).toMatch(new RegExp(`^dfu-hil: warning: rig "sim-a" is busy \\(held by .* pid ${process.pid}, since .*\\); waiting up to 20000 ms\\n$`));
  });

  it('stops a command whose lease is taken mid-way: exit code 4, and the board it no longer holds is not saved', async () => {
    expect((await cli(['enter'])).code).toBe(0);
    const statePath = path.join(project.stateDir, 'sim', 'sim-a', 'state.json');
    const saved = await stat(statePath);
    const base = testCliServices();
    // Another run takes the board over while this one is between two steps.
    const services: CliServices = {
      ...base,
      rigFactory: async (config, context) => {
        const rig = await base.rigFactory(config, context);
        const flash = rig.flash.bind(rig);
        return Object.assign(rig, {
          flash: async (...args: Parameters<typeof flash>) => {
            const holderFile = path.join(leaseDir(), 'sim-a.holder.json');
            const current = JSON.parse(await readFile(holderFile, 'utf8')) as Record<string, unknown>;
            await writeFile(holderFile, JSON.stringify({ ...current, leaseId: 'the-other-run', pid: 1 }));
            return flash(...args);
          },
        });
      },
    };
    const { code, stderr } = await cli(['flash', await imageFile('y', '3.0.0'), '--stay'], services);
    expect(code).toBe(ExitCode.Infrastructure);
    expect(stderr.split('\n').find((l) => l.startsWith('dfu-hil: error'))).toMatch(/^dfu-hil: error: lost the lease on rig "sim-a": taken over: held by .* pid 1, since /);
    expect((await stat(statePath)).mtimeMs).toBe(saved.mtimeMs);
  });
});

describe('two dfu-hil processes on one simulated rig', () => {
  const bin = path.join(REPO_ROOT, 'bin', 'dfu-hil.js');
  const run = (...argv: string[]) => execa(process.execPath, [bin, '--rigs', path.join(project.dir, 'rigs.yaml'), ...argv], {
    cwd: project.dir, env: { DFU_HIL_STATE_DIR: project.stateDir }, reject: false, timeout: 120_000,
  });
  /** Both banks: the longest session a board allows. */
  async function bigImage(name: string, version: string): Promise<string> {
    const file = path.join(project.dir, `${name}.dfu`);
    const bank1 = buildTestAppImage({ name, version, size: 0x100000 });
    const bank2 = buildTestAppImage({ name: `${name}-cm4`, version, size: 0x100000, loadAddress: 0x08100000, core: 4 });
    await writeFile(file, writeDfu(createFirmwareImage({ source: name, format: 'synthetic', segments: [...bank1.segments, ...bank2.segments] })));
    return file;
  }

  /**
   * Starts the first process and freezes it (SIGSTOP) as soon as it holds the rig's lease, so that
   * the second always meets a held lease however fast either starts; `resume` lets it go on.
   */
  async function firstHoldingTheLease(...argv: string[]): Promise<{ process: ReturnType<typeof run>; resume: () => void }> {
    const first = run(...argv);
    const holderFile = path.join(leaseDir(), 'sim-a.holder.json');
    for (const started = Date.now(); ; await new Promise((r) => setTimeout(r, 5))) {
      const holder = await readFile(holderFile, 'utf8').then((t) => JSON.parse(t) as { pid: number }, () => undefined);
      if (holder?.pid === first.pid) break;
      if (Date.now() - started > 60_000 || first.exitCode !== null) throw new Error(`the first process never held the lease: ${(await first).stderr}`);
    }
    first.kill('SIGSTOP');
    return { process: first, resume: () => { first.kill('SIGCONT'); } };
  }

  it('take turns with --wait: the second waits for the first, starts from the board it left, and nothing is lost', async () => {
    const [p, q] = [await bigImage('p', '4.0.0'), await bigImage('q', '5.0.0')];
    const first = await firstHoldingTheLease('--wait', '100000', '--json', 'flash', p, '--stay');
    const second = run('--wait', '100000', '--json', 'flash', q, '--stay');
    // The second says it waits, and for whom, before the first goes on.
    let said = '';
    second.stderr!.on('data', (chunk: Buffer) => { said += chunk.toString(); });
    while (!said.includes('is busy') && second.exitCode === null) await new Promise((r) => setTimeout(r, 20));
    first.resume();
    const [a, b] = await Promise.all([first.process, second]);
    expect([a.exitCode, b.exitCode]).toEqual([0, 0]);
    expect(b.stderr).toContain(`is busy (held by ${os.userInfo().username}@${os.hostname()} pid ${first.process.pid}`);
    const reports = [a, b].map((r) => JSON.parse(r.stdout) as { image: string; entered: unknown; verified: boolean });
    // Each read its own image back: no other writer reached the board during its session.
    expect(reports.map((r) => r.verified)).toEqual([true, true]);
    // The first entered DFU; the second found the board already there, as the first had saved it.
    expect(reports.map((r) => r.entered !== null)).toEqual([true, false]);
    // The board holds what the second wrote, and runs it after leave.
    expect((await run('leave')).exitCode).toBe(0);
    const status = JSON.parse((await run('--json', 'status')).stdout) as { application: { version: string } };
    expect(status.application.version).toBe('5.0.0');
  }, 120_000);

  it('without --wait the second fails at once with exit code 4, naming the holder, and the first finishes its flash', async () => {
    const [p, q] = [await bigImage('p', '4.0.0'), await bigImage('q', '5.0.0')];
    const first = await firstHoldingTheLease('--json', 'flash', p);
    const second = await run('flash', q);
    first.resume();
    const done = await first.process;
    expect([done.exitCode, second.exitCode]).toEqual([0, ExitCode.Infrastructure]);
    expect(second.stderr).toMatch(new RegExp(`^dfu-hil: error: rig "sim-a" is busy: held by .* pid ${first.process.pid}, since `));
    expect(second.stderr).toMatch(/\nhint: Wait for that run to end or pass a longer wait \(--wait <ms>\)/);
    expect(JSON.parse(done.stdout)).toMatchObject({ verified: true });
    const status = JSON.parse((await run('--json', 'status')).stdout) as { application: { version: string } };
    expect(status.application.version).toBe('4.0.0');
  }, 120_000);
});

const umockdev = await findUmockdevSupport();
const skipExpose = umockdev.available ? undefined : umockdev.reason;

describe.skipIf(skipExpose !== undefined)(`dfu-hil under sim expose${skipExpose ? ` (skipped: ${skipExpose})` : ''}`, () => {
  it('flashes the exposed board through its USB, and the saved board keeps the new image', async () => {
    const file = await imageFile('exposed', '7.7.7');
    const rigs = path.join(project.dir, 'rigs.yaml');
    const { code, stdout } = await cli(['--json', 'sim', 'expose', '--', process.execPath, path.join(REPO_ROOT, 'bin', 'dfu-hil.js'), '--rigs', rigs, '--json', 'flash', file]);
    const report = JSON.parse(stdout) as { exitCode: number; output: string; running: string };
    expect(report.exitCode, report.output).toBe(0);
    expect(code).toBe(0);
    const inner = JSON.parse(report.output.slice(report.output.indexOf('{'))) as { verified: boolean; application: { version: string } };
    expect(inner).toMatchObject({ verified: true, application: { name: 'exposed', version: '7.7.7' } });
    // The outer command saved the board the program flashed, not a copy of the old one.
    const status = JSON.parse((await cli(['--json', 'status'])).stdout) as { application: { version: string } };
    expect(status.application).toEqual({ name: 'exposed', version: '7.7.7' });
    // The program's commands took their turns in a lease folder of the exposure's own, gone with it.
    expect((await readdir(new SimStateStore(project.stateDir, 'sim-a').leaseDir)).filter((f) => f.startsWith('exposed-'))).toEqual([]);
  }, 120_000);

  it('refuses to reset or re-expose the board from under the exposure', async () => {
    const rigs = path.join(project.dir, 'rigs.yaml');
    const { stdout } = await cli(['--json', 'sim', 'expose', '--', process.execPath, path.join(REPO_ROOT, 'bin', 'dfu-hil.js'), '--rigs', rigs, 'sim', 'reset']);
    const report = JSON.parse(stdout) as { exitCode: number; output: string };
    expect(report.exitCode).toBe(ExitCode.Usage);
    expect(report.output).toContain('sim reset cannot run under `dfu-hil sim expose` of rig sim-a: that command holds the board');
  }, 120_000);
});
