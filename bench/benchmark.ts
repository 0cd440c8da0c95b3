// What every benchmark module returns, so bench/run.ts can print them side by side.

/** One measured case: a name and its figures, printed as one table row. */
export interface BenchRow {
  benchmark: string;
  case: string;
  metrics: Record<string, string | number>;
  /** Machine-readable figures (ratios, times), for `npm run bench -- --json` and comparisons across runs. */
  figures?: Record<string, number>;
}

/** A benchmark: runs its cases and returns one row each. */
export type Benchmark = () => Promise<BenchRow[]>;
