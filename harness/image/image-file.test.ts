import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeDfu } from './dfuse-file.js';
import { ImageError } from './errors.js';
import { createFirmwareImage } from './firmware-image.js';
import { detectImageFormat, loadImageFile, parseImage, writeBinFile, writeDfuFile, writeHexFile } from './image-file.js';
import { buildTestAppImage } from './synthetic-app.js';

let dir = '';
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dfu-hil-image-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

async function faultOf(work: Promise<unknown>): Promise<ImageError> {
  const error = await work.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}

const app = buildTestAppImage({ name: 'dfu-hil-testapp', version: '1.0.0', size: 0x800 });

describe('loadImageFile', () => {
  it('round-trips an image through .dfu, .hex and .bin files', async () => {
    await writeDfuFile(join(dir, 'app.dfu'), app);
    await writeHexFile(join(dir, 'app.hex'), app);
    await writeBinFile(join(dir, 'app.bin'), app);
    for (const name of ['app.dfu', 'app.hex', 'app.bin']) {
      const image = await loadImageFile(join(dir, name));
      expect(image.source).toBe(join(dir, name));
      expect(image.segments).toEqual(app.segments);
    }
    expect((await loadImageFile(join(dir, 'app.dfu'))).format).toBe('dfu');
    expect((await loadImageFile(join(dir, 'app.bin'))).format).toBe('bin');
  });

  it('places a .bin at the given address, and refuses one without an address it cannot derive', async () => {
    await writeFile(join(dir, 'cm4.bin'), Uint8Array.from([1, 2, 3, 4]));
    const placed = await loadImageFile(join(dir, 'cm4.bin'), { address: 0x08100000 });
    expect(placed.segments[0]?.address).toBe(0x08100000);
    expect(placed.placement).toBeUndefined();
    const error = await faultOf(loadImageFile(join(dir, 'cm4.bin')));
    expect(error.fault).toBe('no-address');
    expect(error.message).toBe(`${join(dir, 'cm4.bin')}: a .bin carries no load address, and none can be derived without doubt: it is shorter than a vector table`);
    expect(error.hint).toMatch(/--address 0x08000000 \(bank 1, where the CM7 boots\) or --address 0x08100000/);
  });

  it('derives a .bin\'s address from a vector table that leaves no doubt, and says so', async () => {
    const bank2 = buildTestAppImage({ name: 'dfu-hil-cm4', version: '1.0.0', loadAddress: 0x08100000, core: 4 });
    await writeBinFile(join(dir, 'bank2.bin'), bank2);
    const image = await loadImageFile(join(dir, 'bank2.bin'));
    expect(image.segments).toEqual(bank2.segments);
    expect(image.placement).toEqual({ address: 0x08100000, how: 'from its vector table: the reset vector (0x08100441) and 164 other vectors point into the image only when it starts at 0x08100000' });
  });

  it('refuses an address for files that carry their own', async () => {
    await writeDfuFile(join(dir, 'own.dfu'), app);
    const error = await faultOf(loadImageFile(join(dir, 'own.dfu'), { address: 0x08100000 }));
    expect(error.message).toMatch(/a load address \(0x08100000\) was given, but a \.dfu file carries its own addresses/);
  });

  it('reads a DfuSe container as .dfu whatever its name', async () => {
    await writeFile(join(dir, 'renamed.bin'), writeDfu(app));
    const image = await loadImageFile(join(dir, 'renamed.bin'));
    expect(image.format).toBe('dfu');
    expect(image.segments).toEqual(app.segments);
  });

  it('strips a DFU suffix from a .bin and keeps its identity', async () => {
    const suffixed = Uint8Array.from([1, 2, 3, 4, 0x00, 0x02, 0x11, 0xdf, 0x83, 0x04, 0x00, 0x01, 0x55, 0x46, 0x44, 0x10, 0, 0, 0, 0]);
    // CRC as dfu-suffix -a would write it (checked against the real tool in dfu-util.test.ts).
    const { dfuSuffixCrc } = await import('./crc32.js');
    new DataView(suffixed.buffer).setUint32(16, dfuSuffixCrc(suffixed.subarray(0, 16)), true);
    await writeFile(join(dir, 'plain.bin'), suffixed);
    const image = await loadImageFile(join(dir, 'plain.bin'), { address: 0x08000000 });
    expect(image.segments).toEqual([{ address: 0x08000000, data: Uint8Array.from([1, 2, 3, 4]) }]);
    expect(image.device).toEqual({ vendorId: 0x0483, productId: 0xdf11, bcdDevice: 0x0200 });
    suffixed[0] = 9;
    await writeFile(join(dir, 'plain-bad.bin'), suffixed);
    expect((await faultOf(loadImageFile(join(dir, 'plain-bad.bin')))).fault).toBe('crc');
  });

  it('sniffs Intel HEX without the extension and refuses what it cannot tell', async () => {
    await writeHexFile(join(dir, 'firmware'), app);
    expect((await loadImageFile(join(dir, 'firmware'))).format).toBe('hex');
    await writeFile(join(dir, 'mystery.elf'), Uint8Array.from([0x7f, 0x45, 0x4c, 0x46]));
    const error = await faultOf(loadImageFile(join(dir, 'mystery.elf')));
    expect(error.code).toBe('image-unknown-format');
    expect(error.hint).toMatch(/\.bin.*\.hex.*\.dfu/);
  });

  it('reports a missing file as unreadable, naming it', async () => {
    const error = await faultOf(loadImageFile(join(dir, 'nope.dfu')));
    expect(error.fault).toBe('unreadable');
    expect(error.message).toContain('nope.dfu: cannot read the file');
  });

  it('reports an unwritable path as an ImageError', async () => {
    expect((await faultOf(writeDfuFile(join(dir, 'missing-dir', 'x.dfu'), app))).message).toMatch(/cannot write the file/);
  });

  it('writes a .bin with gaps filled with 0xFF', async () => {
    const gappy = createFirmwareImage({ source: 'g', format: 'hex', segments: [{ address: 0x100, data: Uint8Array.from([1]) }, { address: 0x103, data: Uint8Array.from([2]) }] });
    await writeBinFile(join(dir, 'gappy.bin'), gappy);
    expect(Array.from(await readFile(join(dir, 'gappy.bin')))).toEqual([1, 0xff, 0xff, 2]);
  });
});

describe('detectImageFormat / parseImage', () => {
  it('goes by extension, case-insensitively', () => {
    expect(detectImageFormat(Uint8Array.from([0]), 'X.HEX')).toBe('hex');
    expect(detectImageFormat(Uint8Array.from([0]), 'x.ihex')).toBe('hex');
    expect(detectImageFormat(Uint8Array.from([0]), 'x.Bin')).toBe('bin');
    expect(detectImageFormat(Uint8Array.from([0]), 'x')).toBeUndefined();
  });

  it('turns a .dfu without DfuSe prefix into a signature error', () => {
    expect(() => parseImage(Uint8Array.from([0x20, 0, 2, 0x20, 1, 2, 0, 8, 0, 0, 0, 0]), 'raw.dfu')).toThrow(/raw\.dfu: the file does not start with "DfuSe"/);
  });
});
