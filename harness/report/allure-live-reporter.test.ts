// The reporter in a real child vitest: killed midway, the tests that ended keep their results;
// the run shows it died; the next run moves it aside instead of wiping it.
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUN_FILE, unfinishedFile, type RunRecord } from './run-folder.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const config = path.join(here, 'testdata/killed-run/vitest.config.ts');
const vitestBin = path.join(root, 'node_modules/vitest/vitest.mjs');

interface StoredResult {
  uuid: string;
  name: string;
  status?: string;
  stage?: string;
  statusDetails?: { message?: string };
  steps: { attachments: { source: string }[] }[];
}

let dir = '';
let results = '';
let archive = '';
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-killed-run-'));
  results = path.join(dir, 'allure-results');
  archive = path.join(dir, 'allure-runs');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function runChild(args: string[] = []): ResultPromise {
  return execa(process.execPath, [vitestBin, 'run', '--config', config, ...args], {
    cwd: root, reject: false, detached: true, stdin: 'ignore',
    env: { DFU_HIL_TEST_RESULTS: results, DFU_HIL_TEST_ARCHIVE: archive, CI: 'true' },
  });
}

async function readResults(folder: string): Promise<StoredResult[]> {
  if (!existsSync(folder)) return [];
  const files = (await readdir(folder)).filter((f) => f.endsWith('-result.json'));
  const out: StoredResult[] = [];
  for (const f of files) {
    // A file being renamed into place may be gone by the time it is read.
    try { out.push(JSON.parse(await readFile(path.join(folder, f), 'utf8')) as StoredResult); } catch { /* next poll */ }
  }
  return out;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const started = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const byName = (list: StoredResult[]): Map<string, StoredResult> => new Map(list.map((r) => [r.name, r]));

// Each test starts a child vitest: on a loaded machine its start-up alone can take tens of seconds.
describe('Allure results of a run that is killed midway', { timeout: 180_000 }, () => {
  it('keeps every finished test\'s result and attachment, marks the test that was running, and says the run did not finish', async () => {
    const child = runChild();
    // Killed once the fourth test is under way, as a CI timeout kills the process group.
    await until('the fourth test to start', async () => {
      const found = await readResults(results);
      return found.some((r) => r.name === 'fourth runs until the run is killed') && found.length >= 4 ? true : undefined;
    });
    process.kill(-child.pid!, 'SIGKILL');
    await child;

    const found = byName(await readResults(results));
    expect([...found.keys()].sort()).toEqual(['first ends and attaches a note', 'fourth runs until the run is killed', 'second ends', 'third fails']);
    expect(found.get('first ends and attaches a note')!.status).toBe('passed');
    expect(found.get('second ends')!.status).toBe('passed');
    expect(found.get('third fails')!.status).toBe('failed');
    expect(found.get('third fails')!.statusDetails?.message).toContain('a failure must be kept too');
    const attachment = found.get('first ends and attaches a note')!.steps.flatMap((s) => s.attachments)[0]!;
    expect(await readFile(path.join(results, attachment.source), 'utf8')).toBe('written before the run was killed');

    const running = found.get('fourth runs until the run is killed')!;
    expect(running).toMatchObject({ status: 'broken', stage: 'running' });
    expect(running.statusDetails?.message).toContain('run stopped while this test was running');

    const run = JSON.parse(await readFile(path.join(results, RUN_FILE), 'utf8')) as RunRecord;
    expect(run.state).toBe('running');
    const unfinished = JSON.parse(await readFile(path.join(results, unfinishedFile(run.id)), 'utf8')) as { errors: { message: string }[] };
    expect(unfinished.errors[0]!.message).toMatch(/^Run \S+ did not finish/);
  });

  it('moves the killed run aside when the next run starts, which then ends cleanly', async () => {
    const killed = JSON.parse(await readFile(path.join(results, RUN_FILE), 'utf8')) as RunRecord;
    const child = await runChild(['-t', 'first']);
    expect(child.exitCode).toBe(0);

    const kept = path.join(archive, killed.id);
    expect(byName(await readResults(kept)).get('third fails')?.status).toBe('failed');
    expect(existsSync(path.join(kept, unfinishedFile(killed.id)))).toBe(true);

    const found = await readResults(results);
    expect(found.map((r) => [r.name, r.status])).toEqual([['first ends and attaches a note', 'passed']]);
    const run = JSON.parse(await readFile(path.join(results, RUN_FILE), 'utf8')) as RunRecord;
    expect(existsSync(path.join(results, unfinishedFile(run.id)))).toBe(false);
    expect(run).toMatchObject({ state: 'passed', command: `vitest run --config ${config} -t first` });
  });
});

describe('Allure results of a run vitest cancels', { timeout: 180_000 }, () => {
  it('says the run was interrupted, and so do the tests it cut short', async () => {
    results = path.join(dir, 'bail-results');
    archive = path.join(dir, 'bail-runs');
    const child = await runChild(['--bail=1']);
    expect(child.exitCode).toBe(1);
    const found = byName(await readResults(results));
    expect(found.get('third fails')?.status).toBe('failed');
    const cut = [...found.values()].filter((r) => r.stage === 'running');
    expect(cut.length).toBeGreaterThan(0);
    for (const r of cut) expect(r).toMatchObject({ status: 'broken', statusDetails: { message: expect.stringContaining('was interrupted') } });
    const run = JSON.parse(await readFile(path.join(results, RUN_FILE), 'utf8')) as RunRecord;
    expect(run.state).toBe('interrupted');
    const unfinished = JSON.parse(await readFile(path.join(results, unfinishedFile(run.id)), 'utf8')) as { errors: { message: string }[] };
    expect(unfinished.errors[0]!.message).toMatch(/^Run \S+ was interrupted/);
  });
});
