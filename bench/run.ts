// `npm run bench`: runs every benchmark module and prints one table per benchmark. Add a
// benchmark by exporting a `Benchmark` from its own module and listing it here.
import type { Benchmark, BenchRow } from './benchmark.js';
import { hostBoundBench } from './host-bound-bench.js';
import { hostDownloadBench } from './host-bench.js';
import { simFlashBench } from './sim-bench.js';
import { usbEmulationBench } from './usb-emulation-bench.js';

const benchmarks: Benchmark[] = [hostDownloadBench, hostBoundBench, simFlashBench, usbEmulationBench];

function printTable(rows: readonly BenchRow[]): void {
  const columns = ['case', ...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const cells = rows.map((r) => columns.map((c) => String(c === 'case' ? r.case : r.metrics[c] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]): string => values.map((v, i) => (i === 0 ? v.padEnd(widths[i]!) : v.padStart(widths[i]!))).join('  ');
  console.log(line(columns));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of cells) console.log(line(row));
}

for (const benchmark of benchmarks) {
  const rows = await benchmark();
  console.log(`\n${rows[0]?.benchmark ?? benchmark.name}`);
  printTable(rows);
}
