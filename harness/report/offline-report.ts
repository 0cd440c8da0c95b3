// The HTML report as one file that opens from the file system with no network: Allure 3's
// awesome report in single-file mode (harness/report/allurerc.mjs), without its analytics.
//
// Allure 3.18's awesome report always adds Google Analytics (gtag.js from
// www.googletagmanager.com); unlike Allure 2 and Allure 3's allure2 plugin it does not honour
// ALLURE_NO_ANALYTICS (allure-framework/allure3 issue #476). The generated page is therefore
// cleaned of that snippet, and the cleaning fails loudly if the page changes shape, so a newer
// Allure never slips a tracker back in unnoticed. `npm run report:check` then proves in Chromium
// that the page makes no request off the machine.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The Allure settings the report is rendered with. */
export const ALLURE_CONFIG = path.join(here, 'allurerc.mjs');

const GTAG = /<script async src="https:\/\/www\.googletagmanager\.com\/gtag\/js\?id=[^"]*"><\/script>\s*<script>\s*window\.dataLayer = window\.dataLayer \|\| \[\];[\s\S]*?<\/script>/g;

/** Thrown when the page still refers to a tracker after cleaning. */
export class ReportAnalyticsError extends Error {
  constructor(file: string, what: string) {
    super(`${file} still contains ${what} after removing Allure's analytics snippet: the Allure report template changed. `
      + 'Update harness/report/offline-report.ts for the new template (or use an Allure release that honours ALLURE_NO_ANALYTICS).');
    this.name = 'ReportAnalyticsError';
  }
}

/** Removes Allure's Google Analytics snippet from a generated page; throws if any trace of it is left. */
export function withoutAnalytics(html: string, file = 'the report'): string {
  const cleaned = html.replace(GTAG, '');
  for (const marker of ['googletagmanager', 'gtag(', 'dataLayer']) {
    if (cleaned.includes(marker)) throw new ReportAnalyticsError(file, `"${marker}"`);
  }
  return cleaned;
}

/** Renders `results` (an Allure results folder) to `<output>/index.html`, offline; returns that file. */
export async function renderOfflineReport(results: string, output: string): Promise<string> {
  await execa('allure', ['generate', results, '--config', ALLURE_CONFIG, '--output', output], {
    preferLocal: true,
    localDir: path.resolve(here, '../..'),
    // Honoured by Allure releases that can switch analytics off; the cleaning below covers the rest.
    env: { ALLURE_NO_ANALYTICS: 'true' },
    stdin: 'ignore',
  });
  const file = path.join(output, 'index.html');
  await writeFile(file, withoutAnalytics(await readFile(file, 'utf8'), file));
  return file;
}
