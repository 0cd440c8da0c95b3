import { describe, expect, it } from 'vitest';
import { ImageError } from './errors.js';
import { buildTestAppImage, SYNTHETIC_DEFAULT_SIZE } from './synthetic-app.js';
import { imageVectorProblem } from './vector-table.js';
import { readImageVersionBlock } from './version-block.js';

function only(image: ReturnType<typeof buildTestAppImage>): { address: number; data: Uint8Array; view: DataView } {
  expect(image.segments).toHaveLength(1);
  const segment = image.segments[0]!;
  return { ...segment, view: new DataView(segment.data.buffer, segment.data.byteOffset, segment.data.byteLength) };
}

describe('buildTestAppImage', () => {
  it('builds a valid CM7 image at 0x08000000 with its version block', () => {
    const { address, data, view } = only(buildTestAppImage({ name: 'dfu-hil-testapp', version: '1.0.0' }));
    expect(address).toBe(0x08000000);
    expect(data.length).toBe(SYNTHETIC_DEFAULT_SIZE);
    expect(view.getUint32(0, true)).toBe(0x2001ff00);
    expect(view.getUint32(4, true)).toBe(0x08000441);
    expect(view.getUint32(8, true)).toBe(0x08000445);
    expect(view.getUint32(0x294, true)).toBe(0x08000445);
    expect(Array.from(data.subarray(0x440, 0x448))).toEqual([0xfe, 0xe7, 0x00, 0xbf, 0xfe, 0xe7, 0x00, 0xbf]);
    expect(imageVectorProblem(data, address)).toBeUndefined();
    expect(readImageVersionBlock(data)).toEqual({ core: 7, name: 'dfu-hil-testapp', version: '1.0.0' });
  });

  it('builds a CM4 image for bank 2 with its stack in SRAM', () => {
    const { address, data, view } = only(buildTestAppImage({ name: 'cm4', version: '1', core: 4, loadAddress: 0x08100000, size: 0x1000 }));
    expect(address).toBe(0x08100000);
    expect(data.length).toBe(0x1000);
    expect(view.getUint32(0, true)).toBe(0x30047f00);
    expect(view.getUint32(4, true)).toBe(0x08100441);
    expect(imageVectorProblem(data, address)).toBeUndefined();
    expect(readImageVersionBlock(data)?.core).toBe(4);
  });

  it('is deterministic and differs between versions outside the version block', () => {
    const a = only(buildTestAppImage({ name: 'app', version: '1.0.0' })).data;
    const again = only(buildTestAppImage({ name: 'app', version: '1.0.0' })).data;
    const b = only(buildTestAppImage({ name: 'app', version: '1.0.1' })).data;
    expect(Buffer.compare(a, again)).toBe(0);
    expect(Buffer.compare(a.subarray(0x448), b.subarray(0x448))).not.toBe(0);
    // The filler must not look like erased flash, or a missing write would go unnoticed.
    expect(a.subarray(0x448).every((x) => x === 0xff)).toBe(false);
  });

  it('gives an invalid vector table when asked, keeping the version block', () => {
    const { address, data, view } = only(buildTestAppImage({ name: 'bad', version: '1', valid: false }));
    expect(view.getUint32(0, true)).toBe(0xffffffff);
    expect(view.getUint32(4, true)).toBe(0xffffffff);
    expect(imageVectorProblem(data, address)).toMatch(/erased/);
    expect(readImageVersionBlock(data)?.name).toBe('bad');
  });

  it('uses a given stack pointer as is', () => {
    const { view } = only(buildTestAppImage({ name: 'sp', version: '1', stackPointer: 0x24080000 }));
    expect(view.getUint32(0, true)).toBe(0x24080000);
  });

  it('rejects sizes too small for the layout and misaligned load addresses', () => {
    expect(() => buildTestAppImage({ name: 'a', version: '1', size: 0x400 })).toThrow(ImageError);
    expect(() => buildTestAppImage({ name: 'a', version: '1', loadAddress: 0x08000002 })).toThrow(/load address/);
    expect(() => buildTestAppImage({ name: 'a b', version: '1' })).toThrow(ImageError);
  });
});
