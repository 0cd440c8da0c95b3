import { describe, expect, it } from 'vitest';
import { DEFAULT_BIN_ADDRESS, loadBin } from './bin.js';
import { ImageError } from './errors.js';

describe('loadBin', () => {
  it('places a copy of the bytes at the load address', () => {
    const bytes = Uint8Array.from([1, 2, 3]);
    const image = loadBin(bytes, 0x08100000, 'cm4.bin');
    bytes[0] = 9;
    expect(image).toMatchObject({ source: 'cm4.bin', format: 'bin' });
    expect(image.segments).toEqual([{ address: 0x08100000, data: Uint8Array.from([1, 2, 3]) }]);
    expect(DEFAULT_BIN_ADDRESS).toBe(0x08000000);
  });

  it('refuses empty files, bad addresses and bytes past 4 GiB', () => {
    expect(() => loadBin(new Uint8Array(0), 0x08000000, 'e.bin')).toThrow('e.bin: the file is empty');
    expect(() => loadBin(new Uint8Array(1), 0x1_0000_0000, 'a.bin')).toThrow(ImageError);
    expect(() => loadBin(new Uint8Array(1), 1.5, 'a.bin')).toThrow(/not a 32-bit address/);
    expect(() => loadBin(new Uint8Array(2), 0xffffffff, 'a.bin')).toThrow(/run past the end of the 32-bit address space/);
  });
});
