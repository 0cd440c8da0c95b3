// Prints the job matrix of the hardware rigs in rigs.yaml that take part in CI (one job per rig,
// identical boards sharing the suite by shards); in GitHub Actions it also sets the step outputs
// `matrix` (for `fromJSON`) and `count` (0 when there is nothing to run).
//
//   npx tsx tools/ci/rig-matrix.ts [--rigs rigs.yaml] [--only bench-1,bench-2]
import process from 'node:process';
import { parseArgs } from 'node:util';
import { DfuHilError } from '../../harness/errors.js';
import { appendStepSummary, setStepOutputs } from '../../harness/ci/github-actions.js';
import { hardwareRigMatrix } from '../../harness/ci/rig-matrix.js';
import { findRigsFile, loadRigs } from '../../harness/rig/config/load-rigs.js';

const USAGE = 'usage: npx tsx tools/ci/rig-matrix.ts [--rigs <rigs.yaml>] [--only <rig,rig,...>]';

async function main(argv: string[]): Promise<number> {
  let options: { rigs?: string; only?: string };
  try {
    options = parseArgs({ args: argv, options: { rigs: { type: 'string' }, only: { type: 'string' } } }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  try {
    const file = options.rigs ?? findRigsFile(process.cwd(), process.env);
    const matrix = hardwareRigMatrix(await loadRigs(file), { only: (options.only ?? '').split(',').map((s) => s.trim()) });
    const json = JSON.stringify(matrix);
    await setStepOutputs(process.env.GITHUB_OUTPUT, { matrix: json, count: String(matrix.include.length) });
    const listing = matrix.include.length === 0
      ? `No hardware rig in ${file} takes part in CI (none has a "ci:" section): the hardware jobs are skipped.`
      : matrix.include.map((e) => `- ${e.rig}: runs-on [${e.labels.join(', ')}], shard ${e.shard}/${e.shardCount} of group ${e.group}`).join('\n');
    await appendStepSummary(process.env.GITHUB_STEP_SUMMARY, `### Hardware rigs\n\n${listing}\n`);
    console.error(listing);
    console.log(json);
    return 0;
  } catch (error) {
    if (!(error instanceof DfuHilError)) throw error;
    console.error(`rig-matrix: error: ${error.message}${error.hint ? `\nhint: ${error.hint}` : ''}`);
    // The exit code dfu-hil gives a bad rigs.yaml.
    return 3;
  }
}

process.exitCode = await main(process.argv.slice(2));
