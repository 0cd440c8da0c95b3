// The comparison of a run's USB traces with the goldens, as text a reviewer reads in a CI log or
// job summary: per set, per test, which request changed, the golden lines and the run's lines.
import type { TraceChange } from './golden-trace.js';
import { hasDifferences, type TraceSetComparison } from './trace-store.js';

/** Options of {@link formatTraceComparison}. */
export interface TraceReportOptions {
  /** The command that records new goldens from this run, shown when something differs. */
  updateCommand: string;
  /** Lines shown per side of one change before the rest is counted. */
  maxLines?: number;
}

function clip(lines: readonly string[], prefix: string, max: number): string[] {
  const shown = lines.slice(0, max).map((line) => `${prefix}${line}`);
  if (lines.length > max) shown.push(`${prefix}… ${lines.length - max} more line${lines.length - max === 1 ? '' : 's'}`);
  return shown;
}

function verb(change: TraceChange): string {
  if (change.expected.length === 0) return 'added';
  if (change.actual.length === 0) return 'missing';
  return 'changed';
}

function describeChange(change: TraceChange, max: number): string[] {
  const where = `golden line ${change.expectedLine}, run line ${change.actualLine}`;
  return [
    `    ${change.requests.join(', ')} ${verb(change)} (${where})${change.after !== undefined ? ', after:' : ', at the start:'}`,
    ...(change.after !== undefined ? [`        ${change.after}`] : []),
    ...clip(change.expected, '      - ', max),
    ...clip(change.actual, '      + ', max),
  ];
}

function count(n: number, what: string): string {
  return `${n} ${what}`;
}

/** The whole comparison as text; says so plainly when every trace matches. */
export function formatTraceComparison(results: readonly TraceSetComparison[], options: TraceReportOptions): string {
  const max = options.maxLines ?? 20;
  if (results.length === 0) {
    return 'No USB traces were recorded in this run: was DFU_HIL_TRACE_DIR set, and did any spec run?';
  }
  const out: string[] = [];
  for (const r of results) {
    const tally = [
      r.changed.length > 0 ? count(r.changed.length, 'changed') : '',
      r.missing.length > 0 ? count(r.missing.length, 'missing') : '',
      r.added.length > 0 ? count(r.added.length, 'new') : '',
      count(r.identical.length, 'identical'),
    ].filter(Boolean).join(', ');
    out.push(`${r.set}: ${r.unrecorded ? `no goldens recorded yet (${r.added.length} test${r.added.length === 1 ? '' : 's'} traced)` : tally}`);
    for (const c of r.changed) {
      out.push(`  ✗ ${c.test}`);
      for (const change of c.changes) out.push(...describeChange(change, max));
    }
    for (const m of r.missing) out.push(`  ✗ missing from this run (skipped, renamed or not run): ${m.test}`);
    if (!r.unrecorded) for (const a of r.added) out.push(`  ✗ new, no golden yet: ${a.test}`);
  }
  out.push('');
  const differing = results.filter((r) => hasDifferences([r])).length;
  if (differing === 0) {
    out.push(`Every USB trace matches its golden (${results.length} set${results.length === 1 ? '' : 's'}).`);
  } else {
    out.push(`USB traces differ from the goldens in ${differing} of ${results.length} set${results.length === 1 ? '' : 's'}.`);
    out.push('If the change is intended (a new bootloader profile value, a host change), record new goldens and commit them:');
    out.push(`  ${options.updateCommand}`);
  }
  return out.join('\n');
}
