import { DfuHilError, hex32 } from '../errors.js';

/** What a DfuSe memory segment allows, from its type letter ('a'..'g'). */
export interface SegmentAccess {
  readable: boolean;
  erasable: boolean;
  writable: boolean;
}

/** A run of equal sectors: "16*128Kg" at 0x08000000. */
export interface MemorySegment extends SegmentAccess {
  start: number;
  sectorSize: number;
  sectorCount: number;
  /** One past the last byte. */
  end: number;
}

/** One sector of a segment. */
export interface Sector {
  start: number;
  size: number;
  segment: MemorySegment;
}

/** The layout string did not parse. */
export class LayoutError extends DfuHilError {
  constructor(readonly layout: string, problem: string) {
    super('dfuse-layout', `bad DfuSe memory layout "${layout}": ${problem}`, {
      hint: 'The device\'s iInterface string should read like "@Internal Flash  /0x08000000/16*128Kg".',
    });
  }
}

const MULTIPLIER: Record<string, number> = { ' ': 1, B: 1, K: 1024, M: 1024 * 1024 };

/**
 * A DfuSe memory layout as described by an alternate setting's iInterface string, e.g.
 * `@Internal Flash   /0x08000000/16*128Kg` or `@Option Bytes   /0x5200201C/01*128 e`.
 */
export class MemoryLayout {
  constructor(readonly name: string, readonly segments: readonly MemorySegment[], readonly source: string) {}

  /** Parses an iInterface string (ST AN3156 / dfu-util syntax). */
  static parse(text: string): MemoryLayout {
    if (!text.startsWith('@')) throw new LayoutError(text, 'it does not start with "@"');
    const parts = text.slice(1).split('/');
    const name = parts[0] ?? '';
    if (parts.length < 3) throw new LayoutError(text, 'expected "@name/0xADDRESS/count*size<unit><type>"');
    const segments: MemorySegment[] = [];
    for (let i = 1; i < parts.length; i += 2) {
      const addressText = parts[i]!.trim();
      const sectorsText = parts[i + 1];
      if (!/^0x[0-9a-fA-F]{1,8}$/.test(addressText)) throw new LayoutError(text, `"${addressText}" is not a hex address`);
      if (sectorsText === undefined || sectorsText.trim() === '') throw new LayoutError(text, `no sectors after ${addressText}`);
      let start = Number.parseInt(addressText, 16);
      for (const group of sectorsText.split(',')) {
        const m = /^\s*(\d+)\*(\d+)([ BKM]?)([a-g])\s*$/.exec(group);
        if (!m) throw new LayoutError(text, `"${group}" is not of the form count*size<unit><type>`);
        const sectorCount = Number(m[1]);
        const sectorSize = Number(m[2]) * MULTIPLIER[m[3] || ' ']!;
        if (sectorCount === 0 || sectorSize === 0) throw new LayoutError(text, `"${group}" describes no memory`);
        const bits = m[4]!.charCodeAt(0) - 'a'.charCodeAt(0) + 1;
        const end = start + sectorCount * sectorSize;
        if (end > 0x1_0000_0000) throw new LayoutError(text, `"${group}" at ${hex32(start)} runs past the 32-bit address space`);
        segments.push({ start, sectorSize, sectorCount, end, readable: (bits & 1) !== 0, erasable: (bits & 2) !== 0, writable: (bits & 4) !== 0 });
        start = end;
      }
    }
    return new MemoryLayout(name.trim(), segments, text);
  }

  /** First byte of the layout. */
  get start(): number {
    return this.segments[0]?.start ?? 0;
  }

  /** One past the last byte. */
  get end(): number {
    return Math.max(...this.segments.map((s) => s.end));
  }

  /** The segment holding `address`, if any. */
  segmentAt(address: number): MemorySegment | undefined {
    return this.segments.find((s) => address >= s.start && address < s.end);
  }

  /** The sector holding `address`, if any. */
  sectorAt(address: number): Sector | undefined {
    const segment = this.segmentAt(address);
    if (!segment) return undefined;
    const index = Math.floor((address - segment.start) / segment.sectorSize);
    return { start: segment.start + index * segment.sectorSize, size: segment.sectorSize, segment };
  }

  /** True when every byte of [address, address+length) lies in the layout. */
  contains(address: number, length: number): boolean {
    return this.uncovered(address, length) === undefined;
  }

  /** The first address of [address, address+length) outside the layout, if any. */
  uncovered(address: number, length: number): number | undefined {
    let at = address;
    const end = address + length;
    while (at < end) {
      const segment = this.segmentAt(at);
      if (!segment) return at;
      at = segment.end;
    }
    return undefined;
  }

  /** Every sector [address, address+length) touches, in address order. */
  sectorsTouched(address: number, length: number): Sector[] {
    const sectors: Sector[] = [];
    if (length <= 0) return sectors;
    let at = address;
    const end = address + length;
    while (at < end) {
      const sector = this.sectorAt(at);
      if (!sector) { at += 1; continue; }
      sectors.push(sector);
      at = sector.start + sector.size;
    }
    return sectors;
  }
}
