// `npm run bench`: runs every benchmark module and prints one table per benchmark, then the
// tracked figures against their goals (bench/goals.ts). `npm run bench -- --json` prints only
// `{ "metrics": { "<name>": number } }`; `--only sim,cycle` runs the named benchmarks alone.
// Add a benchmark by exporting a `Benchmark` from its own module and listing it here.
import { parseArgs } from 'node:util';
import type { Benchmark, BenchRow } from './benchmark.js';
import { boardRssBench } from './board-rss-bench.js';
import { cliStartupBench } from './cli-startup-bench.js';
import { cycleBench } from './cycle-bench.js';
import { execBench } from './exec-bench.js';
import { BENCH_GOALS, meetsGoal } from './goals.js';
import { hostDownloadBench } from './host-bench.js';
import { hostBoundBench } from './host-bound-bench.js';
import { simFlashBench } from './sim-bench.js';
import { usbEmulationBench } from './usb-emulation-bench.js';

const benchmarks: Record<string, Benchmark> = {
  host: hostDownloadBench,
  'host-bound': hostBoundBench,
  sim: simFlashBench,
  cycle: cycleBench,
  memory: boardRssBench,
  'usb-emulation': usbEmulationBench,
  exec: execBench,
  'cli-startup': cliStartupBench,
};

function printTable(rows: readonly BenchRow[]): void {
  const columns = ['case', ...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const cells = rows.map((r) => columns.map((c) => String(c === 'case' ? r.case : r.metrics[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]): string => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

function goalRows(figures: Record<string, number>): BenchRow[] {
  return Object.entries(BENCH_GOALS).map(([name, goal]) => {
    const value = figures[name];
    const met = value === undefined ? undefined : meetsGoal(name, value);
    return {
      benchmark: 'goals', case: name,
      metrics: {
        measured: value === undefined ? 'not measured' : `${Number(value.toPrecision(4))} ${goal.unit}`,
        goal: `${goal.direction} ${goal.value} ${goal.unit}`,
        met: met === undefined ? '' : met ? 'yes' : 'NO',
        what: goal.what,
      },
    };
  });
}

const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, only: { type: 'string' } } });
const names = values.only ? values.only.split(',').map((n) => n.trim()) : Object.keys(benchmarks);
const unknown = names.filter((n) => !(n in benchmarks));
if (unknown.length > 0) {
  console.error(`unknown benchmark ${unknown.join(', ')}; there are: ${Object.keys(benchmarks).join(', ')}`);
  process.exit(2);
}

const figures: Record<string, number> = {};
for (const name of names) {
  const rows = await benchmarks[name]!();
  for (const row of rows) Object.assign(figures, row.figures);
  if (values.json) continue;
  console.log(`\n${rows[0]?.benchmark ?? name}`);
  printTable(rows);
}
if (values.json) {
  process.stdout.write(`${JSON.stringify({ metrics: figures }, null, 2)}\n`);
} else {
  console.log('\ntracked figures against their goals');
  printTable(goalRows(figures));
}
