// The planner without a device: its checks, and properties over random images, layouts and
// block sizes, judged by a small model of a DfuSe device that places block N at
// (N − 2) × wTransferSize + pointer and refuses to program a byte twice without an erase.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DfuDescriptorError, DfuRangeError, OptionBytesRefusedError, RdpLevel2RefusedError } from './errors.js';
import { blockRuns, describePlan, planDownload, sectorAfterWrite, sectorDigest, sectorDigestAfterWrite, type BlockPlacement, type DfuseOp, type DownloadPlan, type DownloadPlanOptions } from './dfuse-plan.js';
import type { ImageSegment } from '../image/firmware-image.js';
import { MemoryLayout } from './layout.js';

// Modest run counts: the suite runs on 2 cores alongside everything else.
const RUNS = { numRuns: 100 };
const H7 = MemoryLayout.parse('@Internal Flash   /0x08000000/16*128Kg');
const OPTION_BYTES = MemoryLayout.parse('@Option Bytes   /0x5200201C/01*128 e');
const H7_PLACEMENT: BlockPlacement = { transferSize: 1024, descriptorTransferSize: 1024, maxBlockNumber: 0xffff, addressing: 'run' };

function options(overrides: Partial<DownloadPlanOptions> = {}): DownloadPlanOptions {
  return { placement: H7_PLACEMENT, writeAlignment: 8, erase: 'touched', verify: false, allowOptionBytes: false, ...overrides };
}

function pattern(length: number, seed = 0): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 7 + seed) & 0xff);
}

const kinds = (plan: DownloadPlan): string[] => plan.ops.map((op) => op.op);

/**
 * A DfuSe device in miniature: memory for the layout, an address pointer, and a flag per byte
 * that says it was programmed since its sector's last erase. It places data blocks by its own
 * wTransferSize, whatever the plan believes, and fails on anything a real flash would not take.
 */
class ModelDevice {
  readonly memory: Uint8Array;
  private readonly programmed: Uint8Array;
  private pointer: number | undefined;
  readonly erased: number[] = [];
  readonly skipped = new Set<number>();

  constructor(readonly layout: MemoryLayout, readonly descriptorTransferSize: number, initial?: Uint8Array) {
    this.memory = initial ? initial.slice() : new Uint8Array(layout.end - layout.start).fill(0xff);
    // What a board held before is programmed flash: nothing may be written over it unerased.
    this.programmed = new Uint8Array(this.memory.length).fill(1);
  }

  run(plan: DownloadPlan): void {
    for (const op of plan.ops) {
      if ('sector' in op && op.sector !== undefined && op.op !== 'check-sector' && this.skipped.has(op.sector)) continue;
      this.apply(op);
    }
  }

  private apply(op: DfuseOp): void {
    const at = (address: number): number => address - this.layout.start;
    switch (op.op) {
      case 'check-sector':
        if (Buffer.from(this.memory.subarray(at(op.sector), at(op.sector) + op.size)).equals(Buffer.from(op.expected))) this.skipped.add(op.sector);
        return;
      case 'erase-sector': {
        const sector = this.layout.sectorAt(op.sector)!;
        expect(sector.start).toBe(op.sector);
        this.memory.fill(0xff, at(sector.start), at(sector.start) + sector.size);
        this.programmed.fill(0, at(sector.start), at(sector.start) + sector.size);
        this.erased.push(op.sector);
        return;
      }
      case 'mass-erase':
        this.memory.fill(0xff);
        this.programmed.fill(0);
        return;
      case 'set-address':
        this.pointer = op.address;
        return;
      case 'write-block': {
        expect(this.pointer, 'a data block before any Set Address Pointer').toBeDefined();
        const address = (op.block - 2) * this.descriptorTransferSize + this.pointer!;
        expect(op.address, `block ${op.block} after pointer 0x${this.pointer!.toString(16)}`).toBe(address);
        expect(address % 8, 'an unaligned write').toBe(0);
        expect(op.data.length % 8, 'a block that is not whole 8-byte units').toBe(0);
        const from = at(address);
        const twice = this.programmed.subarray(from, from + op.data.length).indexOf(1);
        expect(twice, `byte 0x${(address + Math.max(0, twice)).toString(16)} written without its sector erased`).toBe(-1);
        this.memory.set(op.data, from);
        this.programmed.fill(1, from, from + op.data.length);
        return;
      }
      case 'verify':
        expect(Buffer.from(this.memory.subarray(at(op.address), at(op.address) + op.data.length)).equals(Buffer.from(op.data))).toBe(true);
        return;
      default:
        throw new Error(`the model does not take ${op.op}`);
    }
  }
}

/** What a cold download leaves: each touched sector erased then written, the rest as it was. */
function coldResult(layout: MemoryLayout, initial: Uint8Array, segments: readonly ImageSegment[]): Uint8Array {
  const out = initial.slice();
  const padded = segments.map((s) => (s.data.length % 8 === 0 ? s : { address: s.address, data: Uint8Array.from([...s.data, ...new Array<number>(8 - (s.data.length % 8)).fill(0xff)]) }));
  const touched = new Map<number, number>();
  for (const s of padded) for (const sector of layout.sectorsTouched(s.address, s.data.length)) touched.set(sector.start, sector.size);
  for (const [start, size] of touched) out.set(sectorAfterWrite(padded, { start, size }), start - layout.start);
  return out;
}

// Small layouts and block sizes, so random images cross sectors and runs often.
const caseArb = fc.record({
  sectorSize: fc.constantFrom(256, 512, 1024),
  sectorCount: fc.integer({ min: 2, max: 6 }),
  descriptorTransferSize: fc.constantFrom(32, 64, 128, 200),
  hostSize: fc.option(fc.constantFrom(16, 60, 64, 100, 128), { nil: undefined }),
  maxBlockNumber: fc.constantFrom(2, 3, 5, 0xffff),
  addressing: fc.constantFrom('run' as const, 'per-block' as const),
  parts: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 80 }), length: fc.integer({ min: 1, max: 700 }), seed: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 3 }),
  initialSeed: fc.nat({ max: 255 }),
  /** Which sectors already hold what the image would leave there. */
  alreadyThere: fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }),
  /** Which of those the cache vouches for, and which it remembers wrongly (as other content). */
  cacheKnows: fc.array(fc.constantFrom('nothing', 'truth', 'stale'), { minLength: 6, maxLength: 6 }),
}).map((c) => {
  const layout = MemoryLayout.parse(`@Flash /0x08000000/${c.sectorCount}*${c.sectorSize} g`);
  const size = layout.end - layout.start;
  const segments: ImageSegment[] = [];
  let at = 0;
  for (const p of c.parts) {
    at = Math.ceil((at + p.gap) / 8) * 8;
    const length = Math.min(p.length, size - at);
    if (length <= 0) break;
    segments.push({ address: layout.start + at, data: pattern(length, p.seed) });
    at += length;
  }
  const placement: BlockPlacement = {
    transferSize: c.hostSize ?? c.descriptorTransferSize, descriptorTransferSize: c.descriptorTransferSize, maxBlockNumber: c.maxBlockNumber, addressing: c.addressing,
  };
  const initial = pattern(size, c.initialSeed);
  const cold = coldResult(layout, initial, segments);
  // Sectors that already hold what the download would leave: copy the cold result into them.
  for (let i = 0; i < c.sectorCount; i++) {
    if (c.alreadyThere[i]) initial.set(cold.subarray(i * c.sectorSize, (i + 1) * c.sectorSize), i * c.sectorSize);
  }
  const knownSectors = new Map<number, string>();
  for (let i = 0; i < c.sectorCount; i++) {
    const start = layout.start + i * c.sectorSize;
    const actual = sectorDigest(initial.subarray(i * c.sectorSize, (i + 1) * c.sectorSize));
    if (c.cacheKnows[i] === 'truth') knownSectors.set(start, actual);
    // A cache that remembers other content costs a needless write, never a wrong result.
    if (c.cacheKnows[i] === 'stale') knownSectors.set(start, sectorDigest(Uint8Array.of(i)));
  }
  return { layout, segments, placement, initial, cold, knownSectors, descriptorTransferSize: c.descriptorTransferSize, alreadyThere: c.alreadyThere };
}).filter((c) => c.segments.length > 0);

describe('planDownload properties', () => {
  it('cold: every written byte\'s sector is erased before it, blocks land where the device places them, aligned, and the result is the image', () => {
    fc.assert(fc.property(caseArb, (c) => {
      const plan = planDownload(c.segments, c.layout, options({ placement: c.placement, verify: true }));
      const device = new ModelDevice(c.layout, c.descriptorTransferSize, c.initial);
      device.run(plan);
      expect(Buffer.from(device.memory).equals(Buffer.from(c.cold))).toBe(true);
      // Erase-first: no erase after the first block.
      const firstWrite = kinds(plan).indexOf('write-block');
      expect(kinds(plan).lastIndexOf('erase-sector')).toBeLessThan(firstWrite);
      expect(device.erased).toEqual([...new Set(device.erased)]);
    }), RUNS);
  });

  it('runs: blocks 2, 3, … after each pointer, full-size but for a run\'s last, never past the block limit', () => {
    fc.assert(fc.property(caseArb, (c) => {
      const plan = planDownload(c.segments, c.layout, options({ placement: c.placement }));
      let expected = 0;
      let lastLength = 0;
      let size = 0;
      for (const op of plan.ops) {
        if (op.op === 'set-address') {
          expected = 2;
          continue;
        }
        if (op.op !== 'write-block') continue;
        expect(op.block).toBe(expected);
        expect(op.block).toBeLessThanOrEqual(Math.max(2, c.placement.maxBlockNumber));
        if (op.block > 2) {
          expect(lastLength).toBe(size);
          expect(c.placement.addressing).toBe('run');
        }
        size = Math.max(size, op.data.length);
        lastLength = op.data.length;
        expected += 1;
      }
    }), RUNS);
  });

  it('differential by read-back ends exactly as a cold download, and touches only the sectors that differed', () => {
    fc.assert(fc.property(caseArb, (c) => {
      const plan = planDownload(c.segments, c.layout, options({ placement: c.placement, verify: true, skipUnchanged: true }));
      const device = new ModelDevice(c.layout, c.descriptorTransferSize, c.initial);
      device.run(plan);
      expect(Buffer.from(device.memory).equals(Buffer.from(c.cold))).toBe(true);
      for (const start of device.erased) {
        const i = (start - c.layout.start) / c.layout.segments[0]!.sectorSize;
        expect(c.initial.subarray(i * c.layout.segments[0]!.sectorSize, (i + 1) * c.layout.segments[0]!.sectorSize)).not.toEqual(c.cold.subarray(i * c.layout.segments[0]!.sectorSize, (i + 1) * c.layout.segments[0]!.sectorSize));
      }
      // Every check comes before the first erase.
      const firstErase = kinds(plan).indexOf('erase-sector');
      if (firstErase >= 0) expect(kinds(plan).lastIndexOf('check-sector')).toBeLessThan(firstErase);
    }), RUNS);
  });

  it('differential with a cache that knows some sectors ends as a cold download, reading back only the ones it does not know', () => {
    fc.assert(fc.property(caseArb, (c) => {
      const plan = planDownload(c.segments, c.layout, options({ placement: c.placement, skipUnchanged: true, knownSectors: c.knownSectors }));
      const device = new ModelDevice(c.layout, c.descriptorTransferSize, c.initial);
      device.run(plan);
      expect(Buffer.from(device.memory).equals(Buffer.from(c.cold))).toBe(true);
      for (const op of plan.ops) if (op.op === 'check-sector') expect(c.knownSectors.has(op.sector)).toBe(false);
      for (const s of plan.sectors) expect(s.basis).toBe(c.knownSectors.has(s.start) ? 'cache' : 'read-back');
    }), RUNS);
  });

  it('blockRuns covers a range exactly, in order, each block at (N − 2) × size + pointer', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 5000 }), fc.constantFrom(8, 64, 1024), fc.constantFrom(2, 4, 0xffff), fc.boolean(), (length, size, maxBlockNumber, same) => {
      const placement: BlockPlacement = { transferSize: size, descriptorTransferSize: same ? size : size * 2, maxBlockNumber, addressing: 'run' };
      const problems: string[] = [];
      let offset = 0;
      for (const run of blockRuns(0x08000000, length, placement)) {
        if (run.pointer !== 0x08000000 + offset) problems.push(`run at 0x${run.pointer.toString(16)} after ${offset} bytes`);
        for (const b of run.blocks) {
          if (b.offset !== offset) problems.push(`block ${b.block} at offset ${b.offset}, expected ${offset}`);
          if (b.address !== run.pointer + (b.block - 2) * size) problems.push(`block ${b.block} placed at 0x${b.address.toString(16)}`);
          if (b.block > (same ? maxBlockNumber : 2)) problems.push(`block number ${b.block}`);
          offset += b.length;
        }
      }
      expect(problems).toEqual([]);
      expect(offset).toBe(length);
    }), RUNS);
  });
});

describe('planDownload', () => {
  it('plans erase-first: each touched sector once, then one pointer per segment and its blocks, then the read-back', () => {
    const plan = planDownload([
      { address: 0x08020000, data: pattern(2500) },
      { address: 0x0801fff8, data: pattern(8) },
    ], H7, options({ verify: true }));
    expect(describePlan(plan)).toEqual([
      'ERASE 0x08000000', 'ERASE 0x08020000',
      'SET_ADDRESS 0x0801FFF8', 'DNLOAD#2 8 -> 0x0801FFF8',
      'SET_ADDRESS 0x08020000', 'DNLOAD#2 1024 -> 0x08020000', 'DNLOAD#3 1024 -> 0x08020400', 'DNLOAD#4 456 -> 0x08020800',
      'VERIFY 0x0801FFF8 +8', 'VERIFY 0x08020000 +2500',
    ]);
    expect(plan.sectors.map((s) => [s.start, s.action, s.basis])).toEqual([[0x08000000, 'write', 'full'], [0x08020000, 'write', 'full']]);
  });

  it('differential: reads back the sectors the cache does not know, skips the one it knows unchanged, writes the one it knows changed', () => {
    const image = [{ address: 0x08000000, data: pattern(3 * 128 * 1024) }];
    const digests = [0, 1, 2].map((i) => sectorDigest(sectorAfterWrite(image, { start: 0x08000000 + i * 0x20000, size: 0x20000 })));
    const plan = planDownload(image, H7, options({ skipUnchanged: true, knownSectors: new Map([[0x08000000, digests[0]!], [0x08020000, 'something else']]) }));
    expect(plan.sectors.map((s) => [s.start, s.action, s.basis])).toEqual([
      [0x08000000, 'skip', 'cache'], [0x08020000, 'write', 'cache'], [0x08040000, 'check', 'read-back'],
    ]);
    const lines = describePlan(plan);
    expect(lines.slice(0, 3)).toEqual(['CHECK 0x08040000 +131072', 'ERASE 0x08020000', 'ERASE 0x08040000']);
    // Writes are split at sector boundaries, one pointer per sector, so each sector's can be left out.
    expect(lines.filter((l) => l.startsWith('SET_ADDRESS'))).toEqual(['SET_ADDRESS 0x08020000 (sector 0x08020000)', 'SET_ADDRESS 0x08040000 (sector 0x08040000)']);
    expect(plan.ops.some((op) => 'sector' in op && op.sector === 0x08000000)).toBe(false);
  });

  it('is cold with mass erase or no erase, even when asked to skip unchanged sectors', () => {
    for (const erase of ['mass', 'none'] as const) {
      const plan = planDownload([{ address: 0x08000000, data: pattern(64) }], H7, options({ erase, skipUnchanged: true }));
      expect(plan.differential).toBe(false);
      expect(kinds(plan)).not.toContain('check-sector');
    }
    expect(kinds(planDownload([{ address: 0x08000000, data: pattern(64) }], H7, options({ erase: 'mass' })))[0]).toBe('mass-erase');
  });

  it('cuts a transfer size that is not a multiple of the alignment, and then sets the pointer per block', () => {
    const plan = planDownload([{ address: 0x08000000, data: pattern(2000) }], H7, options({ placement: { ...H7_PLACEMENT, transferSize: 1000 } }));
    expect(describePlan(plan).filter((l) => !l.startsWith('ERASE'))).toEqual([
      'SET_ADDRESS 0x08000000', 'DNLOAD#2 1000 -> 0x08000000', 'SET_ADDRESS 0x080003E8', 'DNLOAD#2 1000 -> 0x080003E8',
    ]);
    expect(() => planDownload([{ address: 0x08000000, data: pattern(8) }], H7, options({ placement: { ...H7_PLACEMENT, transferSize: 4 } }))).toThrow(DfuDescriptorError);
  });

  it('appends leave when asked', () => {
    expect(describePlan(planDownload([{ address: 0x08000000, data: pattern(8) }], H7, options({ leave: 0x08000000 }))).at(-1)).toBe('LEAVE -> 0x08000000');
    expect(describePlan(planDownload([{ address: 0x08000000, data: pattern(8) }], H7, options({ leave: null }))).at(-1)).toBe('LEAVE');
  });

  it('refuses before planning: outside the layout, overlaps, misalignment, an empty image', () => {
    expect(() => planDownload([{ address: 0x081ffff0, data: pattern(32) }], H7, options())).toThrow(DfuRangeError);
    expect(() => planDownload([{ address: 0x08000000, data: pattern(32) }, { address: 0x08000010, data: pattern(8) }], H7, options())).toThrow(/overlap/);
    expect(() => planDownload([{ address: 0x08000004, data: pattern(8) }], H7, options())).toThrow(/aligned/);
    expect(() => planDownload([{ address: 0x08000000, data: new Uint8Array() }], H7, options())).toThrow(/no bytes/);
  });

  it('plans an option-byte write as one whole-block DNLOAD, only with consent, never RDP level 2', () => {
    const block = new Uint8Array(128);
    block[1] = 0xaa;
    expect(() => planDownload([{ address: 0x5200201c, data: block }], OPTION_BYTES, options())).toThrow(OptionBytesRefusedError);
    const plan = planDownload([{ address: 0x5200201c, data: block }], OPTION_BYTES, options({ allowOptionBytes: true }));
    expect(describePlan(plan)).toEqual(['OPTION_BYTES 128 -> 0x5200201C']);
    expect(plan.optionBytes).toBe(true);
    block[1] = 0xcc;
    expect(() => planDownload([{ address: 0x5200201c, data: block }], OPTION_BYTES, options({ allowOptionBytes: true }))).toThrow(RdpLevel2RefusedError);
  });
});

describe('sectorDigestAfterWrite', () => {
  it('hashes what sectorAfterWrite builds, piece by piece, for any pieces of a sector', () => {
    const sectorArb = fc.record({
      size: fc.constantFrom(256, 4096, 5000, 10_000),
      parts: fc.array(fc.record({ gap: fc.integer({ min: 0, max: 3000 }), length: fc.integer({ min: 1, max: 3000 }), seed: fc.nat({ max: 255 }) }), { maxLength: 4 }),
    });
    fc.assert(fc.property(sectorArb, ({ size, parts }) => {
      const sector = { start: 0x0800_0000, size };
      const segments: ImageSegment[] = [];
      let at = sector.start - 100;
      for (const p of parts) {
        at += p.gap;
        segments.push({ address: at, data: new Uint8Array(p.length).map((_, i) => (i * 13 + p.seed) & 0xff) });
        at += p.length;
      }
      expect(sectorDigestAfterWrite(segments, sector)).toBe(sectorDigest(sectorAfterWrite(segments, sector)));
    }), { seed: 1702, numRuns: 300 });
  });
});
