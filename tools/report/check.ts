// Opens the offline report in headless Chromium from file:// and checks that it shows its tests
// and an attachment without any request leaving the machine. Exits 1 when it does not.
//
//   npm run report:check [-- <report file, default allure-report/index.html>]
import { existsSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';
import { checkOfflineReport, findChromium } from '../../harness/report/report-check.js';

async function main(argv: string[]): Promise<number> {
  const file = path.resolve(argv[0] ?? 'allure-report/index.html');
  if (!existsSync(file)) {
    console.error(`No report at ${file}: render one with npm run report.`);
    return 2;
  }
  const executablePath = findChromium();
  if (!executablePath) {
    console.error('Chromium is not installed: sudo apt-get install -y --no-install-recommends chromium (or set CHROMIUM_PATH).');
    return 2;
  }
  const result = await checkOfflineReport(file, { executablePath });
  const problems: string[] = [];
  if (result.tests.length === 0) problems.push('no tests found in the report\'s tree');
  if (result.total !== undefined && result.tests.length !== result.total) problems.push(`the tree shows ${result.tests.length} tests, the header says ${result.total}`);
  if (!result.attachment) problems.push('no text attachment could be opened');
  for (const url of result.external) problems.push(`request off the machine: ${url}`);
  console.log(`Opened ${path.relative(process.cwd(), file)} in ${executablePath} from file://`);
  console.log(`  tests found: ${result.tests.length}${result.total !== undefined ? ` (the report says ${result.total})` : ''}`);
  console.log(`  attachment opened: ${result.attachment ? `"${result.attachment.name}", ${result.attachment.text.length} characters` : 'none'}`);
  console.log(`  requests: ${result.requests.length}, off the machine: ${result.external.length}`);
  for (const url of result.requests) console.log(`    ${url.length > 120 ? `${url.slice(0, 117)}...` : url}`);
  if (problems.length > 0) {
    console.error(`\nReport check failed:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    return 1;
  }
  console.log('Report check passed: it opens offline and no request left the machine.');
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
