// What every benchmark module returns, so bench/run.ts can print them side by side.

/** One measured case: a name and its figures, printed as one table row. */
export interface BenchRow {
  benchmark: string;
  case: string;
  metrics: Record<string, string | number>;
  /**
   * Named figures for `npm run bench -- --json` and the goals table (bench/goals.ts), e.g.
   * `{ simSpeedup: 612 }`. Rows that measure nothing tracked leave it out.
   */
  figures?: Record<string, number>;
}

/** A benchmark: runs its cases and returns one row each. */
export type Benchmark = () => Promise<BenchRow[]>;
