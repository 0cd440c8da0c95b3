// Summarises a nightly run from the artifacts of its rig jobs (downloaded into one folder): a
// table per rig, infrastructure problems apart from test failures. Printed, and added to the
// job summary in GitHub Actions.
//
//   npx tsx tools/ci/nightly-summary.ts nightly-results
import process from 'node:process';
import { appendStepSummary } from '../../harness/ci/github-actions.js';
import { formatNightlySummary, readNightlyResults } from '../../harness/ci/nightly-summary.js';

async function main(argv: string[]): Promise<number> {
  const [root, ...rest] = argv;
  if (!root || rest.length > 0) {
    console.error('usage: npx tsx tools/ci/nightly-summary.ts <folder of downloaded rig-job artifacts>');
    return 2;
  }
  const text = formatNightlySummary(await readNightlyResults(root));
  console.log(text);
  await appendStepSummary(process.env.GITHUB_STEP_SUMMARY, text);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
