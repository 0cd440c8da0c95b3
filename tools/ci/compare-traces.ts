// Compares the USB traces a run wrote (DFU_HIL_TRACE_DIR) with the committed golden traces and
// prints the differences per test; exits 1 when anything differs. With --update it records the
// run as the new goldens instead (review the diff before committing them).
//
//   npx tsx tools/ci/compare-traces.ts --actual ci-out/traces [--golden specs/golden-traces] [--update]
import process from 'node:process';
import { parseArgs } from 'node:util';
import { formatTraceComparison } from '../../harness/report/trace-report.js';
import { compareTraceDirs, hasDifferences, updateGoldens } from '../../harness/report/trace-store.js';

const USAGE = 'usage: npx tsx tools/ci/compare-traces.ts --actual <dir written with DFU_HIL_TRACE_DIR> [--golden specs/golden-traces] [--update]';

async function main(argv: string[]): Promise<number> {
  let values: { actual?: string; golden: string; update: boolean };
  try {
    const parsed = parseArgs({
      args: argv,
      options: { actual: { type: 'string' }, golden: { type: 'string', default: 'specs/golden-traces' }, update: { type: 'boolean', default: false } },
    }).values;
    values = { ...parsed, golden: parsed.golden ?? 'specs/golden-traces', update: parsed.update ?? false };
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.actual === undefined) {
    console.error(`--actual is required\n${USAGE}`);
    return 2;
  }
  if (values.update) {
    const update = await updateGoldens(values.golden, values.actual);
    if (update.sets.length === 0) {
      console.error(`No traces under ${values.actual}: run the specs with DFU_HIL_TRACE_DIR=${values.actual} first.`);
      return 1;
    }
    console.log(`Recorded ${update.written} golden trace${update.written === 1 ? '' : 's'} in ${values.golden} for ${update.sets.join(', ')}`
      + `${update.removed > 0 ? `; removed ${update.removed} of tests that no longer ran` : ''}. Review with \`git diff ${values.golden}\`, then commit.`);
    return 0;
  }
  const results = await compareTraceDirs(values.golden, values.actual);
  console.log(`USB traces of ${values.actual} against the goldens in ${values.golden}\n`);
  console.log(formatTraceComparison(results, {
    updateCommand: `npx tsx tools/ci/compare-traces.ts --actual ${values.actual} --golden ${values.golden} --update`,
  }));
  return results.length === 0 || hasDifferences(results) ? 1 : 0;
}

process.exitCode = await main(process.argv.slice(2));
