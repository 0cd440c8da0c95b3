// The morning-after view of a nightly run: one row per rig job, infrastructure problems listed
// apart from test failures, read from what each job uploaded (its health record and its Allure
// results).
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describeVerdict, type RigHealth } from './rig-health.js';

/** Test results of one job, counted from its Allure results. */
export interface TestTally {
  passed: number;
  failed: number;
  broken: number;
  skipped: number;
  /** Full names of the failed and broken tests. */
  failures: string[];
}

/** What one nightly job left behind. */
export interface RigJobResult {
  health: RigHealth;
  /** Undefined when the job left no Allure results (not run, or died before the first test). */
  tests: TestTally | undefined;
}

/** Counts the `*-result.json` files of an Allure results folder; undefined when it has none. */
export async function tallyAllureResults(dir: string): Promise<TestTally | undefined> {
  let files: string[];
  try {
    files = (await readdir(dir)).filter((f) => f.endsWith('-result.json')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if (files.length === 0) return undefined;
  const tally: TestTally = { passed: 0, failed: 0, broken: 0, skipped: 0, failures: [] };
  for (const file of files) {
    const result = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { status?: string; name?: string; fullName?: string };
    switch (result.status) {
      case 'passed': tally.passed++; break;
      case 'skipped': tally.skipped++; break;
      case 'failed':
      case 'broken':
        tally[result.status]++;
        tally.failures.push(result.fullName ?? result.name ?? file);
        break;
      default: tally.broken++; tally.failures.push(`${result.fullName ?? result.name ?? file} (status ${result.status ?? 'missing'})`);
    }
  }
  return tally;
}

/**
 * Reads every job folder under `root` (as download-artifact lays them out): each holds
 * `ci-out/health.json` and, when the suite ran, `allure-results/`.
 */
export async function readNightlyResults(root: string): Promise<RigJobResult[]> {
  const results: RigJobResult[] = [];
  for (const entry of (await readdir(root, { withFileTypes: true })).filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const dir = path.join(root, entry.name);
    let health: RigHealth;
    try {
      health = JSON.parse(await readFile(path.join(dir, 'ci-out', 'health.json'), 'utf8')) as RigHealth;
    } catch {
      // The job died before its doctor step recorded anything: say so rather than hide it.
      health = { rig: entry.name, shard: 1, shardCount: 1, healthy: false, verdict: 'doctor-failed', problems: [{ check: 'job', detail: 'the job left no health record' }], warnings: [] };
    }
    results.push({ health, tests: await tallyAllureResults(path.join(dir, 'allure-results')) });
  }
  return results.sort((a, b) => a.health.rig.localeCompare(b.health.rig) || a.health.shard - b.health.shard);
}

function testsCell(r: RigJobResult): string {
  if (!r.health.healthy) return 'not run';
  if (!r.tests) return 'no results (see the job log)';
  const t = r.tests;
  return `${t.passed} passed, ${t.failed} failed${t.broken ? `, ${t.broken} broken` : ''}, ${t.skipped} skipped`;
}

/** The nightly run as Markdown: a table, then infrastructure problems, then test failures. */
export function formatNightlySummary(results: readonly RigJobResult[]): string {
  if (results.length === 0) return '## Nightly HIL\n\nNo rig job left results.\n';
  const lines = ['## Nightly HIL', '', '| rig | shard | health | tests |', '|---|---|---|---|'];
  for (const r of results) {
    const h = r.health;
    lines.push(`| ${h.rig} | ${h.shard}/${h.shardCount} | ${h.healthy ? 'healthy' : `**${describeVerdict(h)}**`} | ${testsCell(r)} |`);
  }
  const unhealthy = results.filter((r) => !r.health.healthy);
  if (unhealthy.length > 0) {
    lines.push('', '### Infrastructure: fix the bench or the runner, not the firmware', '');
    for (const r of unhealthy) {
      for (const p of r.health.problems) lines.push(`- ${r.health.rig}: **${p.check}**: ${p.detail}${p.fix ? ` — fix: ${p.fix}` : ''}`);
    }
  }
  const failing = results.filter((r) => r.health.healthy && r.tests && r.tests.failures.length > 0);
  if (failing.length > 0) {
    lines.push('', '### Test failures: the board, the firmware or the harness', '');
    for (const r of failing) for (const name of r.tests!.failures) lines.push(`- ${r.health.rig}: ${name}`);
  }
  if (unhealthy.length === 0 && failing.length === 0) lines.push('', 'Every rig was healthy and every test passed or was skipped with its reason.');
  return `${lines.join('\n')}\n`;
}
