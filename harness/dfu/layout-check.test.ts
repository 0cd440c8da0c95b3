import { describe, expect, it } from 'vitest';
import { MemoryLayout } from './layout.js';
import { ImageError } from '../image/errors.js';
import { createFirmwareImage } from '../image/firmware-image.js';
import { checkImageAgainstLayouts } from './layout-check.js';

const flash = MemoryLayout.parse('@Internal Flash   /0x08000000/16*128Kg');
const optionBytes = MemoryLayout.parse('@Option Bytes   /0x5200201C/01*128 e');
const h745 = new Map([[0, flash], [1, optionBytes]]);

function problem(work: () => void): string {
  try {
    work();
  } catch (error) {
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).fault).toBe('outside-layout');
    return (error as ImageError).message;
  }
  throw new Error('expected an ImageError');
}

describe('checkImageAgainstLayouts', () => {
  it('accepts both banks on alt 0 and the option-byte block on alt 1', () => {
    const image = createFirmwareImage({ source: 'ok.dfu', format: 'dfu', targets: [
      { alternateSetting: 0, segments: [{ address: 0x08000000, data: new Uint8Array(32) }, { address: 0x081fffe0, data: new Uint8Array(32) }] },
      { alternateSetting: 1, segments: [{ address: 0x5200201c, data: new Uint8Array(128) }] },
    ] });
    expect(() => checkImageAgainstLayouts(image, h745)).not.toThrow();
    expect(() => checkImageAgainstLayouts(image, { 0: flash, 1: optionBytes })).not.toThrow();
  });

  it('names the element and the first address outside the layout', () => {
    const image = createFirmwareImage({ source: 'big.dfu', format: 'dfu', targets: [
      { alternateSetting: 0, segments: [{ address: 0x081fff00, data: new Uint8Array(0x200) }] },
    ] });
    expect(problem(() => checkImageAgainstLayouts(image, h745)))
      .toBe('big.dfu: target 0 (alt 0) element 0 0x081FFF00..0x08200100 is outside "Internal Flash" (0x08000000..0x08200000) from 0x08200000');
  });

  it('checks a .bin against alt 0', () => {
    const image = createFirmwareImage({ source: 'ram.bin', format: 'bin', segments: [{ address: 0x24000000, data: new Uint8Array(4) }] });
    expect(problem(() => checkImageAgainstLayouts(image, h745))).toMatch(/^ram\.bin: alt 0 element 0 0x24000000\.\.0x24000004 is outside/);
  });

  it('refuses a target for an alt setting the device lacks, and read-only memory', () => {
    const image = createFirmwareImage({ source: 'x.dfu', format: 'dfu', targets: [{ alternateSetting: 2, segments: [{ address: 0x08000000, data: new Uint8Array(4) }] }] });
    expect(problem(() => checkImageAgainstLayouts(image, h745))).toMatch(/no memory layout for alternate setting 2/);
    const system = MemoryLayout.parse('@System /0x1FF00000/01*122Ka');
    const rom = createFirmwareImage({ source: 'rom.bin', format: 'bin', segments: [{ address: 0x1ff00000, data: new Uint8Array(4) }] });
    expect(problem(() => checkImageAgainstLayouts(rom, { 0: system }))).toMatch(/writes sector 0x1FF00000\.\.0x1FF1E800 of "System", which is not writable/);
  });
});
