// The npm `dfu` package (WebDFU, Flipper-Zero/webdfu 0.1.5), a browser DFU client, against the
// simulated board through umockdev, driven through the `usb` package's WebUSB API by
// clients/npm-dfu-driver.ts in a child process (the process must start under umockdev's preload).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imageToBin } from '../image/firmware-image.js';
import { loadReferenceImages, REPO_ROOT, type ReferenceImages } from '../rig/reference-images.js';
import type { SimRig } from '../rig/sim/sim-rig.js';
import type { ExposedBoard } from './exposed-board.js';
import { exposeSimBoard, type ExposedSimBoard } from './testing/interop-board.js';
import { findUmockdevSupport, type UmockdevTools } from './umockdev-support.js';
import { patternBytes } from '../image/testing/pattern-bytes.js';

const support = await findUmockdevSupport();
const dfuVersion = ((): string | undefined => {
  try {
    // The package's exports hide package.json: find it next to its entry point.
    const entry = createRequire(import.meta.url).resolve('dfu');
    return (JSON.parse(readFileSync(path.join(path.dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return undefined;
  }
})();
const skipReason = !support.available ? support.reason : dfuVersion === undefined ? 'the npm `dfu` package is not installed (npm install)' : undefined;
const suffix = skipReason ? ` (skipped: ${skipReason})` : '';
const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'clients', 'npm-dfu-driver.ts');

describe.skipIf(skipReason !== undefined)(`npm dfu ${dfuVersion ?? ''} through usb's WebUSB against the simulated ROM bootloader${suffix}`, () => {
  let images: ReferenceImages;
  let board: ExposedSimBoard;
  let rig: SimRig;
  let exposed: ExposedBoard;
  let dir: string;

  beforeAll(async () => {
    images = await loadReferenceImages();
    dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-npm-dfu-'));
  });
  afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

  beforeEach(async () => {
    board = await exposeSimBoard(images, support as UmockdevTools, 0.1);
    ({ rig, exposed } = board);
  });

  afterEach(() => board.close());

  async function client(...args: string[]): Promise<Record<string, unknown>> {
    const r = await exposed.run(process.execPath, ['--import', 'tsx', DRIVER, ...args], { timeoutMs: 120_000, cwd: REPO_ROOT });
    const last = r.stdout.trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(last) as Record<string, unknown>;
    } catch {
      throw new Error(`the npm dfu driver printed no report (exit ${r.exitCode}): ${r.all}`);
    }
  }

  it('lists the board as a DfuSe device with both layouts and the ROM\'s functional descriptor', async () => {
    expect(await client('list')).toMatchObject({
      vendorId: 0x0483, productId: 0xdf11, serialNumber: '200364500000', type: 'DfuSe',
      interfaces: [{ alternate: 0, name: '@Internal Flash   /0x08000000/16*128Kg' }, { alternate: 1, name: '@Option Bytes   /0x5200201C/01*128 e' }],
      properties: { TransferSize: 1024, CanUpload: true, CanDownload: true, ManifestationTolerant: false, WillDetach: true, DetachTimeOut: 255, DFUVersion: 0x011a },
    });
  });

  it('downloads, and reads back what it wrote after the board has been through leave and DFU entry again', async () => {
    const data = patternBytes(5000);
    const file = path.join(dir, 'data.bin');
    await writeFile(file, data);
    const written = await client('write', '0x08040000', file);
    expect(written).toMatchObject({ written: 5000, events: ['erase/end', 'write/end'] });
    expect(rig.backends.board.flash.read(0x0804_0000, 5000)).toEqual(data);
    // The write's leave jumps to 0x08040000, which holds no vector table: the chip resets into image A.
    await rig.waitForApp();
    await rig.enterDfu('console-jump');
    const back = path.join(dir, 'back.bin');
    expect(await client('read', '0x08040000', '5000', back)).toEqual({ read: 5000 });
    expect(new Uint8Array(await readFile(back))).toEqual(data);
  });

  it('leave: every byte is written, then the write reports an error, because the H7 ROM is gone before its GETSTATUS completes; image B boots', async () => {
    const file = path.join(dir, 'app-b.bin');
    const bin = imageToBin(images.appB);
    await writeFile(file, bin);
    const mark = rig.console.mark();
    const written = await client('write', '0x08000000', file);
    // WebDFU do_dfuse_write(): SET_ADDRESS + zero-length DNLOAD, then poll_until(dfuMANIFEST), whose
    // GETSTATUS fails: the job emits 'error', not 'end' (Flipper-Zero/webdfu index.ts).
    expect(written).toMatchObject({ ended: false, written: bin.length, events: ['erase/end', 'write/end'] });
    expect(String(written.error)).toMatch(/^DFU GETSTATUS failed: .*LIBUSB_TRANSFER_NO_DEVICE/);
    const banner = await rig.console.waitForReady(2000, { after: mark });
    expect([banner.name, banner.version]).toEqual([images.identity.b.name, images.identity.b.version]);
  });
});
