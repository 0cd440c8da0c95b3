// How long `dfu-hil` takes to start, as a script calling it in a loop sees it: wall time of
// whole processes (node, the launcher, the CLI, and for `status` the simulated board restored,
// asked and saved again). From the build (what `npm install` leaves) and, for comparison, from
// the TypeScript through tsx. Targets: --help under 0.5 s, status on a simulated rig under 1 s.
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { buildCli } from '../harness/cli/startup/cli-build.js';
import type { Benchmark, BenchRow } from './benchmark.js';

const NAME = 'dfu-hil start-up, whole processes, wall time';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'dfu-hil.js');

interface Run {
  ms: number;
  code: number | null;
  stderr: string;
}

function runCli(argv: readonly string[], env: Record<string, string>): Run {
  const started = performance.now();
  const result = spawnSync(process.execPath, [BIN, ...argv], { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { ms: performance.now() - started, code: result.status, stderr: result.stderr };
}

/** Which code the launcher started: 'build', or 'source' with the reason. */
function startedFrom(env: Record<string, string>): string {
  const { stderr } = runCli(['--version'], { ...env, DFU_HIL_DEBUG_START: '1' });
  return /started from the build/.test(stderr) ? 'build' : `source (${stderr.replace(/^dfu-hil: started from the TypeScript: /, '').trim()})`;
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

function measure(label: string, argv: readonly string[], env: Record<string, string>, runs: number, from: string, targetMs?: number): BenchRow {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const run = runCli(argv, env);
    if (run.code !== 0) throw new Error(`dfu-hil ${argv.join(' ')} exited with ${run.code}: ${run.stderr}`);
    times.push(run.ms);
  }
  const med = median(times);
  return {
    benchmark: NAME,
    case: label,
    metrics: {
      'started from': from,
      runs,
      'median ms': Math.round(med),
      'min ms': Math.round(Math.min(...times)),
      'max ms': Math.round(Math.max(...times)),
      target: targetMs === undefined ? '' : `< ${targetMs} ms`,
      met: targetMs === undefined ? '' : med < targetMs ? 'yes' : 'NO',
      'load avg': loadavg()[0]!.toFixed(2),
    },
  };
}

/** `--help` and `status` on the default simulated rig, from the build and from the TypeScript. */
export const cliStartupBench: Benchmark = async (): Promise<BenchRow[]> => {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-bench-cli-'));
  try {
    const env = { DFU_HIL_STATE_DIR: stateDir, DFU_HIL_RIGS: path.join(ROOT, 'rigs.yaml'), RIG: 'sim-h745' };
    let from = startedFrom(env);
    if (from !== 'build') {
      await buildCli({ root: ROOT });
      from = `build (built first: ${from})`;
      if (startedFrom(env) !== 'build') throw new Error(`the launcher does not start from the build just made: ${startedFrom(env)}`);
    }
    // The first status makes the factory board; the runs measured restore it as later calls do.
    runCli(['status'], env);
    const source = { ...env, DFU_HIL_CLI_BUILD: 'none' };
    return [
      measure('--help', ['--help'], env, 10, from, 500),
      measure('status (simulated rig)', ['status'], env, 10, from, 1000),
      // What every start cost before the build: tsx compiling the TypeScript.
      measure('--help from the TypeScript', ['--help'], source, 3, 'TypeScript (tsx)'),
      measure('status from the TypeScript', ['status'], source, 3, 'TypeScript (tsx)'),
    ];
  } finally {
    await rm(stateDir, { recursive: true, force: true });
  }
};
