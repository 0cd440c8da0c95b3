import { describe, expect, it } from 'vitest';
import { ImageError } from './errors.js';
import { announcedIdentity, decodeVersionBlock, encodeVersionBlock, readImageVersionBlock, VERSION_BLOCK_SIZE } from './version-block.js';

describe('version block', () => {
  it('encodes the documented layout byte for byte', () => {
    const bytes = encodeVersionBlock({ core: 7, name: 'dfu-hil-testapp', version: '1.0.0' });
    expect(bytes.length).toBe(VERSION_BLOCK_SIZE);
    expect(Array.from(bytes.subarray(0, 8))).toEqual([0x44, 0x48, 0x49, 0x4c, 1, 7, 0, 0]);
    expect(Buffer.from(bytes.subarray(8, 8 + 15)).toString('latin1')).toBe('dfu-hil-testapp');
    expect(Array.from(bytes.subarray(8 + 15, 0x20))).toEqual(new Array(24 - 15).fill(0));
    expect(Buffer.from(bytes.subarray(0x20, 0x25)).toString('latin1')).toBe('1.0.0');
    expect(Array.from(bytes.subarray(0x25, 0x30))).toEqual(new Array(11).fill(0));
  });

  it('round-trips a CM4 block', () => {
    const block = { core: 4 as const, name: 'cm4-blinky', version: '2.3.4-rc1' };
    expect(decodeVersionBlock(encodeVersionBlock(block))).toEqual(block);
  });

  it('reads the block at offset 0x400 of an image', () => {
    const image = new Uint8Array(0x800).fill(0xff);
    image.set(encodeVersionBlock({ core: 7, name: 'app', version: '9' }), 0x400);
    expect(readImageVersionBlock(image)).toEqual({ core: 7, name: 'app', version: '9' });
  });

  it('says "no block" for erased flash and for short images', () => {
    expect(decodeVersionBlock(new Uint8Array(48).fill(0xff))).toBeUndefined();
    expect(readImageVersionBlock(new Uint8Array(0x420))).toBeUndefined();
  });

  it('accepts a full-width name without a NUL', () => {
    const bytes = encodeVersionBlock({ core: 7, name: 'a', version: '1' });
    bytes.fill(0x41, 8, 0x20);
    expect(decodeVersionBlock(bytes)?.name).toBe('A'.repeat(24));
  });

  it('rejects a block with an unknown format or core, naming the source', () => {
    const bytes = encodeVersionBlock({ core: 7, name: 'a', version: '1' });
    bytes[4] = 2;
    expect(() => decodeVersionBlock(bytes, 0, 'app.bin')).toThrow(/app\.bin: version block format 2 is unknown/);
    bytes[4] = 1;
    bytes[5] = 3;
    const error = (() => { try { decodeVersionBlock(bytes); } catch (e) { return e; } return undefined; })();
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).code).toBe('image-version-block');
  });

  it('rejects names that would break the READY line or not fit', () => {
    expect(() => encodeVersionBlock({ core: 7, name: 'two words', version: '1' })).toThrow(ImageError);
    expect(() => encodeVersionBlock({ core: 7, name: 'x'.repeat(24), version: '1' })).toThrow(/at most 23 fit/);
    expect(() => encodeVersionBlock({ core: 7, name: 'ok', version: 'v'.repeat(16) })).toThrow(/at most 15 fit/);
    expect(() => encodeVersionBlock({ core: 7, name: '', version: '1' })).toThrow(ImageError);
    expect(() => encodeVersionBlock({ core: 5 as 7, name: 'a', version: '1' })).toThrow(/core 5/);
  });

  it('announces the block\'s identity, or unknown 0.0.0 when it is absent or malformed', () => {
    const image = new Uint8Array(0x800).fill(0xff);
    expect(announcedIdentity(image)).toEqual({ name: 'unknown', version: '0.0.0' });
    image.set(encodeVersionBlock({ core: 7, name: 'dfu-hil-testapp', version: '1.0.0' }), 0x400);
    expect(announcedIdentity(image)).toEqual({ name: 'dfu-hil-testapp', version: '1.0.0' });
    image[0x405] = 9;
    expect(announcedIdentity(image)).toEqual({ name: 'unknown', version: '0.0.0' });
  });
});
