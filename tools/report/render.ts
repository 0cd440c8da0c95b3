// Renders Allure results to one HTML file that opens offline from the file system.
//
//   npm run report [-- <results folder> [-o <output folder>]]
//
// Default: the last run, allure-results/, to allure-report/index.html. Earlier runs are in
// allure-runs/<run id>/: `npm run report -- allure-runs/<run id>` renders one of them.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { renderOfflineReport } from '../../harness/report/offline-report.js';

const USAGE = 'usage: npm run report -- [<results folder, default allure-results>] [-o <output folder, default allure-report>]';

async function main(argv: string[]): Promise<number> {
  let results: string;
  let output: string;
  try {
    const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { output: { type: 'string', short: 'o', default: 'allure-report' } } });
    if (positionals.length > 1) throw new Error('give one results folder');
    results = positionals[0] ?? 'allure-results';
    output = values.output ?? 'allure-report';
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  if (!existsSync(results)) {
    console.error(`No Allure results in ${results}: run the tests first (npm test), or name a run in allure-runs/.`);
    return 2;
  }
  const file = await renderOfflineReport(results, output);
  console.log(`Report: ${file} (one file; open it in a browser, no server or network needed)`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
