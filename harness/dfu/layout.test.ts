import { describe, expect, it } from 'vitest';
import { LayoutError, MemoryLayout } from './layout.js';

describe('MemoryLayout.parse', () => {
  it('parses the H7 ROM internal flash string', () => {
    const layout = MemoryLayout.parse('@Internal Flash   /0x08000000/16*128Kg');
    expect(layout.name).toBe('Internal Flash');
    expect(layout.segments).toEqual([{ start: 0x08000000, sectorSize: 131072, sectorCount: 16, end: 0x08200000, readable: true, erasable: true, writable: true }]);
    expect(layout.sectorAt(0x08100000)).toMatchObject({ start: 0x08100000, size: 131072 });
  });

  it('parses the option bytes string with a space as the unit', () => {
    const layout = MemoryLayout.parse('@Option Bytes   /0x5200201C/01*128 e');
    expect(layout.segments[0]).toEqual({ start: 0x5200201c, sectorSize: 128, sectorCount: 1, end: 0x5200209c, readable: true, erasable: false, writable: true });
  });

  it('parses several groups and several address blocks', () => {
    const layout = MemoryLayout.parse('@Internal Flash  /0x08000000/04*016Kg,01*064Kg,07*128Kg/0x1FFF0000/01*30Ka');
    expect(layout.segments.map((s) => [s.start, s.sectorSize, s.sectorCount])).toEqual([
      [0x08000000, 16384, 4], [0x08010000, 65536, 1], [0x08020000, 131072, 7], [0x1fff0000, 30720, 1],
    ]);
    expect(layout.segments[3]).toMatchObject({ readable: true, erasable: false, writable: false });
  });

  it('lists exactly the sectors an image touches', () => {
    const layout = MemoryLayout.parse('@Internal Flash   /0x08000000/16*128Kg');
    const touched = layout.sectorsTouched(0x0801fff0, 0x20020);
    expect(touched.map((s) => s.start)).toEqual([0x08000000, 0x08020000, 0x08040000]);
    expect(layout.sectorsTouched(0x08000000, 0)).toEqual([]);
  });

  it('finds the first address outside the layout', () => {
    const layout = MemoryLayout.parse('@Internal Flash   /0x08000000/16*128Kg');
    expect(layout.contains(0x081ffff0, 16)).toBe(true);
    expect(layout.uncovered(0x081ffff0, 17)).toBe(0x08200000);
  });

  it.each([
    ['Internal Flash/0x08000000/16*128Kg', 'does not start with "@"'],
    ['@Internal Flash/08000000/16*128Kg', 'is not a hex address'],
    ['@Internal Flash/0x08000000/16x128Kg', 'count*size'],
    ['@Internal Flash/0x08000000/16*128Kz', 'count*size'],
    ['@Internal Flash/0x08000000/00*128Kg', 'describes no memory'],
    ['@Internal Flash/0x08000000', 'expected'],
  ])('rejects %s', (text, problem) => {
    expect(() => MemoryLayout.parse(text)).toThrow(LayoutError);
    expect(() => MemoryLayout.parse(text)).toThrow(problem);
  });
});
