// Opens the offline report in a real headless Chromium (Debian `chromium`) from file://, finds
// its tests and an attachment, and records every request the page makes: none may leave the
// machine. Requests that would leave are recorded and refused, so the check itself never
// reaches the network.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Page } from 'playwright-core';

/** Where Debian installs Chromium. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

/** The Chromium binary to use: CHROMIUM_PATH, else Debian's, else none. */
export function findChromium(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const candidates = [env.CHROMIUM_PATH, DEBIAN_CHROMIUM, '/usr/bin/chromium-browser'].filter((p): p is string => !!p);
  return candidates.find((p) => existsSync(p));
}

/** What the check saw. */
export interface ReportCheckResult {
  /** Test titles in the report's tree, all sections opened. */
  tests: string[];
  /** The total the report's header states. */
  total: number | undefined;
  /** The first text attachment of the first test, opened. */
  attachment: { name: string; text: string } | undefined;
  /** Every URL the page asked for. */
  requests: string[];
  /** Those that would have left the machine (anything but file:, data:, blob:, about:). */
  external: string[];
}

const LOCAL_SCHEMES = ['file:', 'data:', 'blob:', 'about:', 'chrome-extension:'];

function isLocal(url: string): boolean {
  return LOCAL_SCHEMES.some((scheme) => url.startsWith(scheme));
}

// Clicks each section title of the report's tree once, nested ones as they appear, inside the
// page: driving hundreds of clicks one by one from outside takes minutes on a large report.
const OPEN_TREE = `(async () => {
  const opened = new Set();
  for (;;) {
    const next = [...document.querySelectorAll('[data-testid=tree-section]')].find((s) => !opened.has(s.getAttribute('data-tree-node-id')));
    if (!next) return opened.size;
    opened.add(next.getAttribute('data-tree-node-id'));
    next.querySelector(':scope > [data-testid=tree-section-title]').click();
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
})()`;

/** Opens every section of the report's tree, nested ones too; returns the test titles. */
async function openTree(page: Page): Promise<string[]> {
  await page.evaluate(OPEN_TREE);
  return page.locator('[data-testid=tree-leaf-title]').allInnerTexts();
}

/**
 * Opens tests one by one (by their result id, as the tree links them) until one has a text
 * attachment, and opens that attachment. Unit tests have none; HIL tests have several, and as
 * the specs run last, the search starts from the end of the tree.
 */
async function firstTextAttachment(page: Page): Promise<ReportCheckResult['attachment']> {
  const ids = await page.locator('[data-testid=tree-leaf]').evaluateAll((els) => els.map((e) => e.getAttribute('data-tree-node-id') ?? ''));
  for (const id of ids.filter(Boolean).reverse()) {
    // A same-document navigation: the report routes by the fragment.
    await page.evaluate((hash) => { (globalThis as unknown as { location: { hash: string } }).location.hash = hash; }, id);
    await page.locator('[data-testid=test-result-info-title]').waitFor();
    const header = page.locator('[data-testid=test-result-attachment-header]', { hasText: 'text/plain' }).first();
    if (await header.count() === 0) continue;
    const name = (await header.innerText()).split('\n').map((line) => line.trim()).find((line) => line !== '' && !/^\d+$/.test(line)) ?? '';
    await header.click();
    const content = page.locator('[data-testid=test-result-attachment]', { has: header }).locator('[data-testid=code-attachment-content]');
    return { name, text: await content.innerText() };
  }
  return undefined;
}

/** Runs the check on `file` (the report's index.html). */
export async function checkOfflineReport(file: string, options: { executablePath: string; timeoutMs?: number }): Promise<ReportCheckResult> {
  const timeout = options.timeoutMs ?? 60_000;
  const profile = await mkdtemp(path.join(tmpdir(), 'dfu-hil-chromium-'));
  const requests: string[] = [];
  const external: string[] = [];
  // Flags for a quiet headless Chromium in a container: no sandbox (root), no GPU, no QUIC, and
  // none of its own background traffic (updates, sync, first-run), in a fresh profile.
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: options.executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    context.on('request', (request) => {
      requests.push(request.url());
      if (!isLocal(request.url())) external.push(request.url());
    });
    context.on('weberror', (error) => { requests.push(`(page error) ${error.error().message}`); });
    await context.route('**/*', async (route) => {
      if (isLocal(route.request().url())) await route.continue();
      else await route.abort('blockedbyclient');
    });
    const page = context.pages()[0] ?? await context.newPage();
    page.on('websocket', (ws) => { requests.push(ws.url()); external.push(ws.url()); });
    page.setDefaultTimeout(timeout);
    await page.goto(pathToFileURL(file).href);
    await page.locator('[data-testid=tree-section], [data-testid=tree-leaf]').first().waitFor();
    const totalText = await page.locator('[data-testid=metadata-item-total] [data-testid=metadata-value]').first().innerText().catch(() => undefined);
    const tests = await openTree(page);
    const attachment = await firstTextAttachment(page);
    const total = totalText === undefined ? undefined : Number(totalText.replace(/\D/g, ''));
    return { tests, total, attachment, requests, external };
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}
