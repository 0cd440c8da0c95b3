// Interop with Debian's dfu-util: its dfu-suffix is the reference for the DFU suffix CRC.
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from './crc32.js';
import { writeDfu } from './dfuse-file.js';
import { createFirmwareImage } from './firmware-image.js';
import { loadImageFile } from './image-file.js';
import { buildTestAppImage } from './synthetic-app.js';

const dfuSuffix = (process.env.PATH ?? '').split(delimiter).map((d) => join(d, 'dfu-suffix')).find((p) => existsSync(p));

let dir = '';
beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'dfu-hil-dfu-util-')); });
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

describe('dfu-util interop', () => {
  it.skipIf(dfuSuffix === undefined)(`dfu-suffix --check accepts a .dfu written by the project${dfuSuffix === undefined ? ' (skipped: dfu-suffix from Debian dfu-util is not on PATH)' : ''}`, async () => {
    const image = createFirmwareImage({ source: 'interop', format: 'dfu', device: { vendorId: 0x0483, productId: 0xdf11, bcdDevice: 0x0200 }, targets: [
      { alternateSetting: 0, name: 'Internal Flash', segments: buildTestAppImage({ name: 'app', version: '1.2.3' }).segments },
      { alternateSetting: 1, segments: [{ address: 0x5200201c, data: new Uint8Array(128).fill(0xaa) }] },
    ] });
    const file = writeDfu(image);
    const path = join(dir, 'app.dfu');
    await writeFile(path, file);
    const result = await execa(dfuSuffix!, ['--check', path], { reject: false });
    expect(result.exitCode).toBe(0);
    const crc = new DataView(file.buffer).getUint32(file.length - 4, true);
    expect(result.stdout).toMatch(/Vendor ID:\s+0x0483/);
    expect(result.stdout).toMatch(/Product ID:\s+0xDF11/);
    expect(result.stdout).toMatch(/BCD DFU:\s+0x011A/);
    expect(result.stdout).toContain(`CRC:\t\t0x${crc.toString(16).toUpperCase().padStart(8, '0')}`);
  });

  it.skipIf(dfuSuffix === undefined)(`dfu-suffix --check rejects the plain zlib CRC, so the check above means something${dfuSuffix === undefined ? ' (skipped: dfu-suffix not on PATH)' : ''}`, async () => {
    const file = writeDfu(buildTestAppImage({ name: 'app', version: '1' }));
    new DataView(file.buffer).setUint32(file.length - 4, crc32(file.subarray(0, file.length - 4)), true);
    const path = join(dir, 'zlib-crc.dfu');
    await writeFile(path, file);
    const result = await execa(dfuSuffix!, ['--check', path], { reject: false });
    expect(result.exitCode).not.toBe(0);
    expect(result.stderr).toMatch(/CRC does not match/);
  });

  it.skipIf(dfuSuffix === undefined)(`a .bin suffixed by dfu-suffix -a loads without its suffix${dfuSuffix === undefined ? ' (skipped: dfu-suffix not on PATH)' : ''}`, async () => {
    const app = buildTestAppImage({ name: 'app', version: '1', size: 0x600 });
    const path = join(dir, 'suffixed.bin');
    await writeFile(join(dir, 'raw.bin'), app.segments[0]!.data);
    await copyFile(join(dir, 'raw.bin'), path);
    const result = await execa(dfuSuffix!, ['-v', '0483', '-p', 'df11', '-d', '0200', '-a', path], { reject: false });
    expect(result.exitCode).toBe(0);
    const image = await loadImageFile(path, { address: 0x08000000 });
    expect(image.segments).toEqual(app.segments);
    expect(image.device).toEqual({ vendorId: 0x0483, productId: 0xdf11, bcdDevice: 0x0200 });
  });
});
