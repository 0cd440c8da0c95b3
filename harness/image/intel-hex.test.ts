import { describe, expect, it } from 'vitest';
import { ImageError } from './errors.js';
import { createFirmwareImage } from './firmware-image.js';
import { readHex, writeHex } from './intel-hex.js';
import { imageErrorOf } from './testing/image-error-of.js';

// What objcopy -O ihex writes for 20 bytes at 0x0800FFF8 with an entry point: an extended
// linear address record per 64 KiB, a start linear address record, EOF.
const OBJCOPY_STYLE = [
  ':020000040800F2',
  ':08FFF8000102030405060708DD',
  ':020000040801F1',
  ':0C000000090A0B0C0D0E0F101112131446',
  ':0400000508000441AA',
  ':00000001FF',
  '',
].join('\r\n');

describe('readHex', () => {
  it('reads data across an extended linear address boundary and keeps the start address', () => {
    const image = readHex(OBJCOPY_STYLE, 'app.hex');
    expect(image.format).toBe('hex');
    expect(image.segments).toEqual([{ address: 0x0800fff8, data: Uint8Array.from({ length: 20 }, (_, i) => i + 1) }]);
    expect(image.startAddress).toBe(0x08000441);
  });

  it('accepts bytes as well as text', () => {
    expect(readHex(Buffer.from(OBJCOPY_STYLE), 'app.hex').segments[0]?.address).toBe(0x0800fff8);
  });

  it('reports a bad checksum naming the file and the record', () => {
    const error = imageErrorOf(() => readHex(OBJCOPY_STYLE.replace(':08FFF8000102030405060708DD', ':08FFF8000102030405060708DE'), 'app.hex'));
    expect(error.code).toBe('image-hex-record');
    expect(error.message).toMatch(/^app\.hex: not valid Intel HEX: Checksum failed at record 2/);
  });

  it('reports garbage, a missing EOF, unknown record types and an empty file', () => {
    expect(imageErrorOf(() => readHex('hello', 'a.hex')).fault).toBe('hex-record');
    expect(imageErrorOf(() => readHex(':020000040800F2\n', 'a.hex')).message).toMatch(/No EOF record/);
    expect(imageErrorOf(() => readHex(':00000006FA\n:00000001FF\n', 'a.hex')).message).toMatch(/Invalid record type 0x06/);
    expect(imageErrorOf(() => readHex('   \n', 'a.hex')).fault).toBe('empty');
    expect(imageErrorOf(() => readHex(':00000001FF\n', 'a.hex')).fault).toBe('empty');
  });

  it('reports overlapping data records', () => {
    const overlapping = ':0400000001020304F2\n:0400020005060708E0\n:00000001FF\n';
    expect(imageErrorOf(() => readHex(overlapping, 'o.hex')).fault).toBe('hex-record');
  });

  it('refuses conflicting start addresses and addresses at or above 0x80000000', () => {
    const twoStarts = OBJCOPY_STYLE.replace(':00000001FF', ':0400000508000401EA\r\n:00000001FF');
    expect(imageErrorOf(() => readHex(twoStarts, 's.hex')).message).toMatch(/conflicting start linear address records: 0x08000441, 0x08000401/);
    const qspi = ':0200000490006A\n' + ':0100000001FE\n:00000001FF\n';
    expect(imageErrorOf(() => readHex(qspi, 'q.hex')).message).toMatch(/extended linear address 0x90000000 is at or above 0x80000000/);
  });
});

describe('writeHex', () => {
  it('writes extended linear address, data, start linear address and EOF records', () => {
    const image = createFirmwareImage({ source: 's', format: 'hex', segments: [{ address: 0x0800fff8, data: Uint8Array.from({ length: 20 }, (_, i) => i + 1) }], startAddress: 0x08000441 });
    expect(writeHex(image)).toBe(OBJCOPY_STYLE.replaceAll('\r\n', '\n'));
  });

  it('honours the record size and omits the start record when there is none', () => {
    const image = createFirmwareImage({ source: 's', format: 'bin', segments: [{ address: 0x20, data: new Uint8Array(4).fill(0xaa) }] });
    expect(writeHex(image, { recordSize: 2 })).toBe(':020000040000FA\n:02002000AAAA8A\n:02002200AAAA88\n:00000001FF\n');
    expect(() => writeHex(image, { recordSize: 256 })).toThrow(ImageError);
  });

  it('refuses bytes it could not read back', () => {
    const image = createFirmwareImage({ source: 'q', format: 'bin', segments: [{ address: 0x90000000, data: new Uint8Array(1) }] });
    expect(imageErrorOf(() => writeHex(image)).fault).toBe('invalid-argument');
  });
});
