import { describe, expect, it } from 'vitest';
import { hex32 } from '../errors.js';
import { deriveBinPlacement } from './bin-placement.js';
import { imageToBin } from './firmware-image.js';
import { buildTestAppImage } from './synthetic-app.js';

const binOf = (loadAddress: number, size?: number): Uint8Array =>
  imageToBin(buildTestAppImage({ name: 'app', version: '1.0.0', loadAddress, ...(size ? { size } : {}) }));

describe('a .bin\'s load address from its vector table', () => {
  it('finds the start of either bank when the handlers leave only that', () => {
    expect(deriveBinPlacement(binOf(0x08000000))).toMatchObject({ address: 0x08000000 });
    expect(deriveBinPlacement(binOf(0x08100000))).toMatchObject({ address: 0x08100000 });
  });

  it('refuses an image linked part-way into a bank, where several 0x400-aligned starts fit', () => {
    const refusal = deriveBinPlacement(binOf(0x08020400));
    expect(refusal).toEqual({ problem: 'its vector table fits 7 load addresses (0x0801EC00, 0x0801F000, 0x0801F400, 0x0801F800, …)' });
  });

  it('refuses what is not a vector table: erased, no stack pointer, an even or off-flash reset vector', () => {
    const erased = new Uint8Array(0x800).fill(0xff);
    expect(deriveBinPlacement(erased)).toEqual({ problem: 'its vector table is erased flash (0xFFFFFFFF)' });
    const text = Buffer.from('hello world, not firmware at all');
    expect(deriveBinPlacement(text)).toMatchObject({ problem: expect.stringMatching(/not an initial stack pointer in RAM/) });
    const even = binOf(0x08000000);
    new DataView(even.buffer).setUint32(4, 0x08000440, true);
    expect(deriveBinPlacement(even)).toEqual({ problem: 'its reset vector 0x08000440 is not a Thumb address in flash' });
    expect(deriveBinPlacement(Uint8Array.of(1, 2, 3))).toEqual({ problem: 'it is shorter than a vector table' });
  });

  it('uses only the reset vector when the rest is no table, and then refuses unless one 128-byte-aligned start fits', () => {
    // Two words and code: the reset handler at +0x10 of a 0x40-byte image fits only a start at 0x08000000.
    const tiny = new Uint8Array(0x40);
    const view = new DataView(tiny.buffer);
    view.setUint32(0, 0x2001ff00, true);
    view.setUint32(4, 0x08000011, true);
    view.setUint32(8, 0xdeadbeef, true);
    expect(deriveBinPlacement(tiny)).toEqual({ address: 0x08000000, how: `from its vector table: the reset vector (${hex32(0x08000011)}) points into the image only when it starts at 0x08000000` });
    // The same handler 0x800 bytes in, in a bigger image: starts 0x80 apart all fit.
    const big = new Uint8Array(0x1000);
    new DataView(big.buffer).setUint32(0, 0x2001ff00, true);
    new DataView(big.buffer).setUint32(4, 0x08000811, true);
    new DataView(big.buffer).setUint32(8, 0xdeadbeef, true);
    expect(deriveBinPlacement(big)).toMatchObject({ problem: expect.stringMatching(/^its vector table fits 17 load addresses/) });
  });

  it('refuses an image that would not fit its bank', () => {
    // Handlers near the start, but the image longer than what is left of bank 1 after 0x08000000.
    const huge = new Uint8Array(0x100000 + 0x400);
    huge.set(binOf(0x08000000).subarray(0, 0x800));
    expect(deriveBinPlacement(huge)).toEqual({ problem: 'its vector table fits no load address in the flash bank at 0x08000000' });
  });
});
