// What the shipped GitHub Actions workflows promise and actionlint does not check: a timeout on
// every job and step, results kept when a run dies, read-only tokens, one job per board at a
// time, and that what they run exists (scripts, specs, a simulated rig and goldens per profile).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { parseRigs } from '../rig/config/load-rigs.js';
import { BOOTLOADER_PROFILES } from '../rig/config/schema.js';

const repo = path.resolve(import.meta.dirname, '../..');
const WORKFLOWS = ['pull-request.yml', 'nightly-hil.yml', 'bootloader-regression.yml'];

interface Step { name?: string; uses?: string; run?: string; if?: string; 'timeout-minutes'?: number; with?: Record<string, unknown> }
interface Job { name?: string; 'runs-on': unknown; 'timeout-minutes'?: number; steps: Step[]; concurrency?: { group: string; 'cancel-in-progress': boolean }; strategy?: unknown; if?: string }
interface Workflow { permissions?: Record<string, string>; jobs: Record<string, Job> }

const workflows = WORKFLOWS.map((file) => ({ file, doc: parse(readFileSync(path.join(repo, '.github', 'workflows', file), 'utf8')) as Workflow }));
const allSteps = workflows.flatMap(({ file, doc }) => Object.entries(doc.jobs).flatMap(([id, job]) => job.steps.map((step) => ({ where: `${file} ${id} "${step.name ?? step.uses}"`, job, step }))));
const packageScripts = (JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

describe('the GitHub Actions workflows', () => {
  it('are the three shipped ones', () => {
    expect(readdirSync(path.join(repo, '.github', 'workflows')).sort()).toEqual([...WORKFLOWS].sort());
  });

  it('put a timeout on every job and every step', () => {
    const jobs = workflows.flatMap(({ file, doc }) => Object.entries(doc.jobs).map(([id, job]) => ({ where: `${file} ${id}`, minutes: job['timeout-minutes'] })));
    expect(jobs.filter((j) => typeof j.minutes !== 'number').map((j) => j.where)).toEqual([]);
    expect(allSteps.filter((s) => typeof s.step['timeout-minutes'] !== 'number').map((s) => s.where)).toEqual([]);
    for (const { where, job, step } of allSteps) expect(step['timeout-minutes'], where).toBeLessThanOrEqual(job['timeout-minutes']!);
  });

  it('use actions pinned to a major version, and upload artifacts even when a step failed', () => {
    const uses = allSteps.filter((s) => s.step.uses !== undefined);
    expect(uses.filter((s) => !/^actions\/[a-z-]+@v\d+$/.test(s.step.uses!)).map((s) => s.where)).toEqual([]);
    const uploads = uses.filter((s) => s.step.uses!.startsWith('actions/upload-artifact@'));
    expect(uploads.length).toBeGreaterThanOrEqual(4);
    expect(uploads.filter((s) => !s.step.if?.includes('always()')).map((s) => s.where)).toEqual([]);
  });

  it('ask for a read-only token', () => {
    for (const { file, doc } of workflows) expect(doc.permissions, file).toEqual({ contents: 'read' });
  });

  it('give every hardware job its own board: runner labels from the matrix and one concurrency group per rig', () => {
    const hardware = workflows.flatMap(({ doc }) => Object.values(doc.jobs)).filter((job) => job['runs-on'] === '${{ matrix.labels }}');
    expect(hardware).toHaveLength(2);
    for (const job of hardware) {
      expect(job.concurrency).toEqual({ group: 'dfu-hil-rig-${{ matrix.rig }}', 'cancel-in-progress': false });
      expect(job.if).toBe("needs.plan.outputs.count != '0'");
      expect(job.steps.map((s) => s.run ?? '').findIndex((run) => run.includes('dfu-hil --rig "$RIG" --json doctor')))
        .toBeLessThan(job.steps.findIndex((s) => s.run?.includes('npx vitest run')));
    }
  });

  it('run scripts and npm scripts that exist', () => {
    const runs = allSteps.map((s) => s.step.run ?? '').join('\n');
    const tools = [...runs.matchAll(/npx tsx (\S+\.ts)/g)].map((m) => m[1]!);
    expect(new Set(tools)).toEqual(new Set(['tools/ci/rig-matrix.ts', 'tools/ci/rig-health.ts', 'tools/ci/nightly-summary.ts', 'tools/ci/compare-traces.ts']));
    for (const tool of tools) expect(existsSync(path.join(repo, tool)), tool).toBe(true);
    for (const [, script] of runs.matchAll(/npm run ([\w:-]+)/g)) expect(packageScripts, `npm run ${script}`).toHaveProperty(script!);
  });
});

describe('the bootloader regression', () => {
  const runs = workflows.find((w) => w.file === 'bootloader-regression.yml')!.doc;
  const specRuns = Object.values(runs.jobs).flatMap((job) => job.steps).filter((s) => s.run?.includes('npx vitest run'));
  const specsOf = (run: string): string[] => [...run.matchAll(/specs\/[\w-]+\.spec\.ts/g)].map((m) => m[0]);

  it('records traces of the same specs on simulated and hardware rigs, and they exist', () => {
    expect(specRuns).toHaveLength(2);
    const [simulated, hardware] = specRuns.map((s) => specsOf(s.run!));
    expect(simulated).toEqual(['specs/enter-dfu.spec.ts', 'specs/leave.spec.ts', 'specs/gpio-after-leave.spec.ts']);
    expect(hardware).toEqual(simulated);
    for (const spec of simulated!) expect(existsSync(path.join(repo, spec)), spec).toBe(true);
  });

  it('covers every bootloader profile: each has a simulated rig in rigs.yaml and goldens for each of those specs', () => {
    const rigs = [...parseRigs(readFileSync(path.join(repo, 'rigs.yaml'), 'utf8'), 'rigs.yaml').rigs.values()];
    const specs = specsOf(specRuns[0]!.run!).map((spec) => path.basename(spec, '.spec.ts'));
    for (const profile of BOOTLOADER_PROFILES) {
      expect(rigs.some((r) => r.kind === 'sim' && r.bootloader.profile === profile), `a simulated rig on ${profile}`).toBe(true);
      const goldens = path.join(repo, 'specs', 'golden-traces', 'sim', profile);
      for (const spec of specs) {
        const dir = path.join(goldens, spec);
        expect(existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.trace')), `goldens in ${path.relative(repo, dir)}`).toBe(true);
      }
    }
  });
});
