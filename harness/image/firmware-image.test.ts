import { describe, expect, it } from 'vitest';
import { ImageError } from './errors.js';
import { createFirmwareImage, imageBytesAt, imageDigest, imageEnd, imageSize, imageStart, imageToBin, normaliseSegments } from './firmware-image.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe('normaliseSegments', () => {
  it('sorts, merges adjacent runs and drops empty segments', () => {
    const out = normaliseSegments([
      { address: 0x08000010, data: bytes(5, 6) },
      { address: 0x08000000, data: bytes(1, 2) },
      { address: 0x08000002, data: bytes(3, 4) },
      { address: 0x08000100, data: bytes() },
    ], 'test');
    expect(out).toEqual([
      { address: 0x08000000, data: bytes(1, 2, 3, 4) },
      { address: 0x08000010, data: bytes(5, 6) },
    ]);
  });

  it('names both ranges of an overlap', () => {
    expect(() => normaliseSegments([
      { address: 0x08000000, data: new Uint8Array(0x20) },
      { address: 0x0800001f, data: new Uint8Array(2) },
    ], 'app.hex')).toThrow('app.hex: bytes 0x0800001F..0x08000021 overlap bytes 0x08000000..0x08000020');
  });

  it('refuses segments past the 32-bit address space', () => {
    expect(() => normaliseSegments([{ address: 0xfffffffe, data: new Uint8Array(3) }], 's')).toThrow(ImageError);
    expect(() => normaliseSegments([{ address: -1, data: new Uint8Array(1) }], 's')).toThrow(/not a 32-bit address/);
  });
});

describe('createFirmwareImage', () => {
  it('refuses an image without bytes', () => {
    const error = (() => { try { createFirmwareImage({ source: 'x.bin', format: 'bin', segments: [] }); } catch (e) { return e as ImageError; } return undefined; })();
    expect(error).toBeInstanceOf(ImageError);
    expect(error?.code).toBe('image-empty');
    expect(error?.hint).toBeTruthy();
  });

  it('derives the flat view from DfuSe targets and keeps their elements', () => {
    const image = createFirmwareImage({
      source: 's', format: 'dfu',
      targets: [
        { alternateSetting: 0, name: 'Internal Flash', segments: [{ address: 0x08000004, data: bytes(2) }, { address: 0x08000000, data: bytes(1, 1, 1, 1) }] },
        { alternateSetting: 1, segments: [{ address: 0x5200201c, data: bytes(9) }] },
      ],
    });
    expect(image.targets?.[0]?.segments.map((s) => s.address)).toEqual([0x08000004, 0x08000000]);
    expect(image.segments).toEqual([{ address: 0x08000000, data: bytes(1, 1, 1, 1, 2) }, { address: 0x5200201c, data: bytes(9) }]);
    expect(imageSize(image)).toBe(6);
    expect(imageStart(image)).toBe(0x08000000);
    expect(imageEnd(image)).toBe(0x5200201d);
  });

  it('names the target when its elements overlap', () => {
    expect(() => createFirmwareImage({
      source: 'f.dfu', format: 'dfu',
      targets: [{ alternateSetting: 0, segments: [{ address: 0x100, data: new Uint8Array(4) }, { address: 0x102, data: new Uint8Array(4) }] }],
    })).toThrow(/f\.dfu: target 0 \(alt 0\): elements overlap/);
  });
});

describe('image bytes and digests', () => {
  const image = createFirmwareImage({ source: 's', format: 'bin', segments: [{ address: 0x10, data: bytes(1, 2) }, { address: 0x14, data: bytes(3) }] });

  it('fills gaps with 0xFF', () => {
    expect(Array.from(imageToBin(image))).toEqual([1, 2, 0xff, 0xff, 3]);
    expect(Array.from(imageBytesAt(image, 0x0f, 4, 0))).toEqual([0, 1, 2, 0]);
  });

  it('hashes like crc32/sha256sum of the bytes', () => {
    const check = createFirmwareImage({ source: 's', format: 'bin', segments: [{ address: 0, data: Buffer.from('123456789') }] });
    // The CRC-32 check value and SHA-256 of "123456789" are published test vectors.
    expect(imageDigest(check)).toEqual({ size: 9, crc32: 'cbf43926', sha256: '15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225' });
  });
});
