// The offline report end to end: Allure results in, one HTML file out, opened in headless
// Chromium from file:// with every request recorded.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReportAnalyticsError, renderOfflineReport, withoutAnalytics } from './offline-report.js';
import { checkOfflineReport, findChromium } from './report-check.js';

const GA = '<script async src="https://www.googletagmanager.com/gtag/js?id=G-TEST"></script>\n    <script>\n        window.dataLayer = window.dataLayer || [];\n        function gtag(){dataLayer.push(arguments);}\n        gtag(\'js\', new Date());\n    </script>';

describe('withoutAnalytics', () => {
  it('removes the gtag loader and its inline configuration, and nothing else', () => {
    expect(withoutAnalytics(`<body><p>a</p>\n    ${GA}\n<script>window.allure = {};</script></body>`)).toBe('<body><p>a</p>\n    \n<script>window.allure = {};</script></body>');
  });

  it('fails loudly when a tracker is left in a shape it does not know', () => {
    expect(() => withoutAnalytics('<script src="https://www.googletagmanager.com/gtm.js"></script>', 'x.html')).toThrow(ReportAnalyticsError);
    expect(() => withoutAnalytics('<script>gtag("config")</script>')).toThrow(/template changed/);
  });
});

const chromium = findChromium();
const skipped = chromium ? '' : ' (skipped: Chromium is not installed; sudo apt-get install -y --no-install-recommends chromium)';

let dir = '';
beforeAll(async () => { dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-report-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

/** One leave spec run on one rig over two transports, as the reporter writes it. */
async function writeResults(folder: string): Promise<void> {
  await mkdir(folder, { recursive: true });
  for (const [i, transport] of ['in-process', 'libusb+umockdev'].entries()) {
    const uuid = `0000000${i}-0000-4000-8000-000000000000`;
    await writeFile(path.join(folder, `${uuid}-attachment.txt`), `dev1  OUT LEAVE  type=21 value=2 index=0 len=0  -> ok (${transport})`);
    await writeFile(path.join(folder, `${uuid}-result.json`), JSON.stringify({
      uuid, name: 'leaving DFU returns to the application', fullName: 'dfu-hil:specs/leave.spec.ts#leaving DFU returns to the application',
      historyId: `leave:${transport}`, testCaseId: 'leave', status: 'passed', stage: 'finished', start: 1_700_000_000_000 + i, stop: 1_700_000_000_500 + i,
      labels: [{ name: 'parentSuite', value: 'leaving DFU' }, { name: 'rig', value: 'sim-h745' }, { name: 'transport', value: transport }],
      parameters: [{ name: 'rig', value: 'sim-h745' }, { name: 'transport', value: transport }],
      attachments: [{ name: 'USB transfer trace', source: `${uuid}-attachment.txt`, type: 'text/plain' }], steps: [], links: [],
    }));
  }
}

describe.skipIf(chromium === undefined)(`the offline report in headless Chromium${skipped}`, () => {
  it('opens from file://, shows each transport\'s test and its attachment, and makes no request off the machine', async () => {
    const results = path.join(dir, 'results');
    await writeResults(results);
    const file = await renderOfflineReport(results, path.join(dir, 'report'));
    expect((await readFile(file, 'utf8')).length).toBeGreaterThan(100_000);

    const check = await checkOfflineReport(file, { executablePath: chromium! });
    expect(check.tests).toEqual(['leaving DFU returns to the application', 'leaving DFU returns to the application']);
    expect(check.total).toBe(2);
    expect(check.attachment?.name).toBe('USB transfer trace');
    expect(check.attachment?.text).toMatch(/OUT LEAVE .* -> ok \((in-process|libusb\+umockdev)\)/);
    expect(check.requests).toEqual([`file://${file}`]);
    expect(check.external).toEqual([]);
  }, 120_000);

  it('records, and refuses, a request that would leave the machine', async () => {
    const file = path.join(dir, 'report', 'index.html');
    const tracked = path.join(dir, 'report', 'tracked.html');
    await writeFile(tracked, (await readFile(file, 'utf8')).replace('</body>', `${GA}</body>`));
    const check = await checkOfflineReport(tracked, { executablePath: chromium! });
    expect(check.external).toEqual(['https://www.googletagmanager.com/gtag/js?id=G-TEST']);
    expect(check.tests).toHaveLength(2);
  }, 120_000);
});
