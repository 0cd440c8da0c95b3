// The DfuSe download as data: which sectors to erase, where each block goes, what to read back.
// Pure: an image, a memory layout and options in, a list of operations out, before a single
// request is sent. The executor (dfuse-executor.ts) runs the list over a DFU session.
//
// Blocks follow DfuSe's addressing (AN3156 §4.1; ST's DFU class, usbd_dfu.c): block N lands at
// (N − 2) × wTransferSize + pointer, so one Set Address Pointer serves a contiguous run of
// blocks 2, 3, … as long as every block but the run's last has the descriptor's wTransferSize.
import { createHash } from 'node:crypto';
import { hex32 } from '../errors.js';
import { DfuDescriptorError, DfuRangeError } from './errors.js';
import type { ImageSegment } from '../image/firmware-image.js';
import type { MemoryLayout, Sector } from './layout.js';
import { checkOptionBytesWrite, isOptionBytesTarget, refuseRdpLevel2 } from './option-bytes-guard.js';
import { DFUSE_FIRST_DATA_BLOCK, dfuseBlockAddress } from './protocol.js';

/** Highest wBlockNum: wValue is 16 bits. */
export const MAX_BLOCK_NUMBER = 0xffff;

/** How blocks are numbered and placed. */
export interface BlockPlacement {
  /** Bytes per block this host sends or asks for. */
  transferSize: number;
  /** The device's wTransferSize (functional descriptor), which it places blocks by; unknown without a descriptor. */
  descriptorTransferSize: number | undefined;
  /** Highest block number before the pointer is set again (at most 0xFFFF). */
  maxBlockNumber: number;
  /**
   * 'run': one Set Address Pointer per contiguous run, blocks 2, 3, …; 'per-block': a pointer
   * before every block, each sent as block 2 (as dfu-util, pydfu and webdfu download).
   */
  addressing: 'run' | 'per-block';
}

/** One block of a run: its wBlockNum, where the device puts it, and which bytes of the range it carries. */
export interface PlacedBlock {
  block: number;
  address: number;
  offset: number;
  length: number;
}

/** One Set Address Pointer and the blocks that follow it. */
export interface BlockRun {
  pointer: number;
  blocks: PlacedBlock[];
}

/** True when runs of several blocks are safe: the host's block size is the one the device places blocks by. */
export function runsAllowed(placement: BlockPlacement): boolean {
  return placement.addressing === 'run' && placement.transferSize === placement.descriptorTransferSize;
}

/**
 * Splits [address, address + length) into runs. Only a run's last block may be short, and a new
 * run starts before the 16-bit block number would pass `maxBlockNumber`. With another block
 * size than the device's (an override, or a wTransferSize above the 4096 clamp) every block
 * gets its own pointer: the device would misplace block 3 and later.
 */
export function blockRuns(address: number, length: number, placement: BlockPlacement): BlockRun[] {
  const size = placement.transferSize;
  const lastBlock = runsAllowed(placement) ? Math.min(MAX_BLOCK_NUMBER, Math.max(DFUSE_FIRST_DATA_BLOCK, placement.maxBlockNumber)) : DFUSE_FIRST_DATA_BLOCK;
  const runs: BlockRun[] = [];
  let offset = 0;
  while (offset < length) {
    const pointer = address + offset;
    const run: BlockRun = { pointer, blocks: [] };
    for (let block = DFUSE_FIRST_DATA_BLOCK; block <= lastBlock && offset < length; block++) {
      const bytes = Math.min(size, length - offset);
      run.blocks.push({ block, address: dfuseBlockAddress(block, size, pointer), offset, length: bytes });
      offset += bytes;
    }
    runs.push(run);
  }
  return runs;
}

/** A sector by its start and size. */
export interface SectorSpan {
  start: number;
  size: number;
}

/**
 * One step of a download. Operations that carry `sector` belong to that sector alone: the
 * executor leaves them out when a `check-sector` found the sector already holding its bytes.
 */
export type DfuseOp =
  /** Read the sector back and compare it with what erasing and writing would leave in it. */
  | { op: 'check-sector'; sector: number; size: number; expected: Uint8Array }
  | { op: 'erase-sector'; sector: number; size: number }
  | { op: 'mass-erase' }
  | { op: 'set-address'; address: number; sector?: number }
  | { op: 'write-block'; block: number; address: number; data: Uint8Array; sector?: number }
  /** The whole option-byte block in one DNLOAD; the device resets afterwards (AN3156 §5.1). */
  | { op: 'write-option-bytes'; address: number; data: Uint8Array }
  /** Read the bytes back (in runs, as placed above) and compare. */
  | { op: 'verify'; address: number; data: Uint8Array; sector?: number }
  | { op: 'leave'; address?: number };

/** Why a sector is or is not written. */
export type SectorAction =
  /** Erase and write it: a cold download, or the cache knows it holds something else. */
  | 'write'
  /** Read it back first; erase and write it only if it differs. */
  | 'check'
  /** The cache knows it already holds these bytes: nothing is sent for it. */
  | 'skip';

/** What the plan does with one sector the image touches. */
export interface SectorPlan extends SectorSpan {
  action: SectorAction;
  /** SHA-256 of the whole sector as the download leaves it (the image's bytes, 0xFF elsewhere). */
  digest: string;
  /** Where the decision came from. */
  basis: 'full' | 'cache' | 'read-back';
}

/** Options of {@link planDownload}. */
export interface DownloadPlanOptions {
  placement: BlockPlacement;
  /** Segment starts must be aligned to this; ends are padded with 0xFF (AN2606 §4.6: 8 on the H7). */
  writeAlignment: number;
  /** 'touched' erases each sector the image touches once; 'mass' erases everything first; 'none' skips erasing. */
  erase: 'touched' | 'mass' | 'none';
  /** Read the image back after writing it. */
  verify: boolean;
  /** Consent of both the call and the session to write option bytes. RDP level 2 is refused regardless. */
  allowOptionBytes: boolean;
  /**
   * Differential flashing: leave alone every sector that already holds what erasing and writing
   * it would leave there. Only with sector erase ('touched'); ignored otherwise.
   */
  skipUnchanged?: boolean;
  /** Sector digests (start → SHA-256 of the whole sector) the caller vouches for, from a cache. */
  knownSectors?: ReadonlyMap<number, string>;
  /** Leave DFU mode afterwards, jumping to this address (or to the device's pointer when null). */
  leave?: number | null;
}

/** A download, planned: the operations in order, and the decisions behind them. */
export interface DownloadPlan {
  ops: DfuseOp[];
  erase: 'touched' | 'mass' | 'none';
  /** Whether unchanged sectors are skipped. */
  differential: boolean;
  /** Whether what is written is read back. */
  verify: boolean;
  /** Every sector the image touches, in address order, with what is done to it. */
  sectors: SectorPlan[];
  /** The segments as written: sorted, empty ones dropped, ends padded to the write alignment. */
  segments: ImageSegment[];
  /** Bytes the image carries (before padding). */
  imageBytes: number;
  optionBytes: boolean;
}

const BY_ADDRESS = (a: ImageSegment, b: ImageSegment): number => a.address - b.address;

/** The segments of an image, sorted, without empty ones; refuses an image with no bytes. */
export function normaliseSegments(given: readonly ImageSegment[], layout: MemoryLayout): ImageSegment[] {
  const segments = given.filter((s) => s.data.length > 0).sort(BY_ADDRESS);
  if (segments.length === 0) throw new DfuRangeError('empty', given[0]?.address ?? layout.start, 'the image has no bytes to write');
  return segments;
}

/**
 * Checks the whole image against the layout and the option-byte rules, before any request is
 * sent. Returns true when it is an option-byte write (already checked as one).
 */
export function checkImage(segments: readonly ImageSegment[], layout: MemoryLayout, options: Pick<DownloadPlanOptions, 'erase' | 'allowOptionBytes' | 'writeAlignment' | 'placement'>): boolean {
  for (const s of segments) refuseRdpLevel2(s);
  const optionBytes = segments.filter((s) => isOptionBytesTarget(layout, s.address, s.data.length));
  if (optionBytes.length > 0) {
    for (const s of optionBytes) checkOptionBytesWrite(layout, s, options.allowOptionBytes);
    if (segments.length > 1) {
      throw new DfuRangeError('overlap', segments[1]!.address, 'an option-byte write must be the only segment of its download');
    }
    const block = segments[0]!;
    if (layout.uncovered(block.address, block.data.length) !== undefined) {
      throw new DfuRangeError('outside-layout', block.address, `the option-byte block is not in the selected alt's layout "${layout.name}"`);
    }
    if (options.placement.transferSize < block.data.length) {
      throw new DfuDescriptorError(`wTransferSize ${options.placement.transferSize} is smaller than the ${block.data.length}-byte option-byte block`,
        'The block must go in one DNLOAD; raise the transfer size.');
    }
    return true;
  }
  let previousEnd = -1;
  for (const s of segments) {
    if (s.address < previousEnd) throw new DfuRangeError('overlap', s.address, 'image segments overlap');
    previousEnd = s.address + s.data.length;
    const outside = layout.uncovered(s.address, s.data.length);
    if (outside !== undefined) {
      throw new DfuRangeError('outside-layout', outside, `${s.data.length}-byte segment from ${hex32(s.address)} leaves the layout "${layout.name}" (${hex32(layout.start)}..${hex32(layout.end - 1)})`);
    }
    for (const sector of layout.sectorsTouched(s.address, s.data.length)) {
      if (!sector.segment.writable) throw new DfuRangeError('not-writable', sector.start, `layout "${layout.name}" marks the sector not writable`);
      if (!sector.segment.erasable && options.erase !== 'none') throw new DfuRangeError('not-erasable', sector.start, `layout "${layout.name}" marks the sector not erasable`);
    }
    if (s.address % options.writeAlignment !== 0) {
      throw new DfuRangeError('misaligned', s.address, `segment start is not ${options.writeAlignment}-byte aligned`);
    }
  }
  return false;
}

/** Refuses a read outside the layout or of memory the layout marks unreadable. */
export function checkReadable(layout: MemoryLayout, address: number, length: number): void {
  const outside = layout.uncovered(address, length);
  if (outside !== undefined) {
    throw new DfuRangeError('outside-layout', outside, `read of ${length} bytes from ${hex32(address)} leaves the layout "${layout.name}"`);
  }
  for (const sector of layout.sectorsTouched(address, length)) {
    if (!sector.segment.readable) throw new DfuRangeError('not-readable', sector.start, `layout "${layout.name}" marks the memory not readable`);
  }
}

/** `segment` with its end padded with 0xFF (erased flash) to a multiple of `alignment`. */
export function padToAlignment(segment: ImageSegment, alignment: number): ImageSegment {
  const rest = segment.data.length % alignment;
  if (rest === 0) return segment;
  const data = new Uint8Array(segment.data.length + alignment - rest).fill(0xff);
  data.set(segment.data);
  return { address: segment.address, data };
}

/** Every sector the segments touch, once each, in address order. */
export function sectorsTouched(segments: readonly ImageSegment[], layout: MemoryLayout): Sector[] {
  const seen = new Map<number, Sector>();
  for (const s of segments) {
    for (const sector of layout.sectorsTouched(s.address, s.data.length)) seen.set(sector.start, sector);
  }
  return [...seen.values()].sort((a, b) => a.start - b.start);
}

/** The whole sector as erasing it and writing `segments` leaves it: their bytes, 0xFF elsewhere. */
export function sectorAfterWrite(segments: readonly ImageSegment[], sector: SectorSpan): Uint8Array {
  const out = new Uint8Array(sector.size).fill(0xff);
  const end = sector.start + sector.size;
  for (const s of segments) {
    const from = Math.max(s.address, sector.start);
    const to = Math.min(s.address + s.data.length, end);
    if (from < to) out.set(s.data.subarray(from - s.address, to - s.address), from - sector.start);
  }
  return out;
}

/** SHA-256 of a sector's bytes, as the cache keeps them. */
export function sectorDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const ERASED_RUN = new Uint8Array(4096).fill(0xff);

/**
 * {@link sectorDigest} of {@link sectorAfterWrite}, hashed piece by piece: the same digest
 * without a sector-sized copy for every sector an image touches.
 */
export function sectorDigestAfterWrite(segments: readonly ImageSegment[], sector: SectorSpan): string {
  const hash = createHash('sha256');
  const erased = (length: number): void => {
    for (let left = length; left > 0; left -= ERASED_RUN.length) hash.update(ERASED_RUN.subarray(0, Math.min(left, ERASED_RUN.length)));
  };
  let at = sector.start;
  for (const piece of piecesIn(segments, sector)) {
    erased(piece.address - at);
    hash.update(piece.data);
    at = piece.address + piece.data.length;
  }
  erased(sector.start + sector.size - at);
  return hash.digest('hex');
}

/** The parts of `segments` inside one sector, in address order. */
function piecesIn(segments: readonly ImageSegment[], sector: SectorSpan): ImageSegment[] {
  const end = sector.start + sector.size;
  const pieces: ImageSegment[] = [];
  for (const s of segments) {
    const from = Math.max(s.address, sector.start);
    const to = Math.min(s.address + s.data.length, end);
    if (from < to) pieces.push({ address: from, data: s.data.subarray(from - s.address, to - s.address) });
  }
  return pieces;
}

/**
 * Every block must start aligned (AN2606 §4.6), so written blocks are a whole number of
 * alignment units: a transfer size that is not is cut down, and then, no longer the device's
 * wTransferSize, sent one block per pointer.
 */
function alignedPlacement(placement: BlockPlacement, alignment: number): BlockPlacement {
  const transferSize = placement.transferSize - (placement.transferSize % alignment);
  if (transferSize === 0) {
    throw new DfuDescriptorError(`the transfer size ${placement.transferSize} is smaller than the ${alignment}-byte write alignment`,
      `Use a transfer size of at least ${alignment} bytes (the device's wTransferSize, 1024 on ST's STM32H7 ROM).`);
  }
  return { ...placement, transferSize };
}

function writeOps(segment: ImageSegment, placement: BlockPlacement, sector: number | undefined): DfuseOp[] {
  const ops: DfuseOp[] = [];
  const tag = sector === undefined ? {} : { sector };
  for (const run of blockRuns(segment.address, segment.data.length, placement)) {
    ops.push({ op: 'set-address', address: run.pointer, ...tag });
    for (const b of run.blocks) ops.push({ op: 'write-block', block: b.block, address: b.address, data: segment.data.subarray(b.offset, b.offset + b.length), ...tag });
  }
  return ops;
}

/**
 * Turns an image and a layout into the operations that write it: checks first (range, layout
 * access, alignment, option-byte rules; nothing is planned for an image that would be refused),
 * then erase-first: every sector check, every erase, then the blocks in runs, then the
 * read-back, then leave if asked. With `skipUnchanged`, a sector that already holds what the
 * download would leave in it is neither erased nor written; the cache's digests decide where
 * they are known, a read-back where they are not. Writes are split at sector boundaries then,
 * so each sector's operations can be left out on their own.
 */
export function planDownload(image: readonly ImageSegment[], layout: MemoryLayout, options: DownloadPlanOptions): DownloadPlan {
  const segments = normaliseSegments(image, layout);
  const imageBytes = segments.reduce((n, s) => n + s.data.length, 0);
  const leave: DfuseOp[] = options.leave === undefined ? [] : [options.leave === null ? { op: 'leave' } : { op: 'leave', address: options.leave }];
  if (checkImage(segments, layout, options)) {
    const block = segments[0]!;
    return {
      ops: [{ op: 'write-option-bytes', address: block.address, data: block.data }, ...leave],
      erase: 'none', differential: false, verify: false, sectors: [], segments, imageBytes, optionBytes: true,
    };
  }
  const padded = segments.map((s) => padToAlignment(s, options.writeAlignment));
  const placement = alignedPlacement(options.placement, options.writeAlignment);
  const differential = options.erase === 'touched' && options.skipUnchanged === true;
  const sectors: SectorPlan[] = sectorsTouched(padded, layout).map((sector) => {
    const span = { start: sector.start, size: sector.size };
    const digest = sectorDigestAfterWrite(padded, span);
    if (!differential) return { ...span, action: 'write', digest, basis: 'full' };
    const known = options.knownSectors?.get(sector.start);
    if (known === undefined) return { ...span, action: 'check', digest, basis: 'read-back' };
    return { ...span, action: known === digest ? 'skip' : 'write', digest, basis: 'cache' };
  });

  const ops: DfuseOp[] = [];
  if (differential) {
    for (const s of sectors) {
      if (s.action === 'check') ops.push({ op: 'check-sector', sector: s.start, size: s.size, expected: sectorAfterWrite(padded, s) });
    }
  }
  if (options.erase === 'mass') ops.push({ op: 'mass-erase' });
  if (options.erase === 'touched') {
    for (const s of sectors) if (s.action !== 'skip') ops.push({ op: 'erase-sector', sector: s.start, size: s.size });
  }
  if (differential) {
    const written = sectors.filter((s) => s.action !== 'skip');
    for (const s of written) for (const piece of piecesIn(padded, s)) ops.push(...writeOps(piece, placement, s.start));
    if (options.verify) {
      for (const s of written) for (const piece of piecesIn(segments, s)) ops.push({ op: 'verify', address: piece.address, data: piece.data, sector: s.start });
    }
  } else {
    for (const segment of padded) ops.push(...writeOps(segment, placement, undefined));
    if (options.verify) for (const s of segments) ops.push({ op: 'verify', address: s.address, data: s.data });
  }
  ops.push(...leave);
  return { ops, erase: options.erase, differential, verify: options.verify, sectors, segments: padded, imageBytes, optionBytes: false };
}

/** One line per operation, for logs and reports: "ERASE 0x08020000", "SET_ADDRESS 0x08020000", "DNLOAD#2 1024 -> 0x08020000". */
export function describePlan(plan: DownloadPlan): string[] {
  return plan.ops.map((op) => {
    const of = 'sector' in op && op.sector !== undefined && op.op !== 'erase-sector' && op.op !== 'check-sector' ? ` (sector ${hex32(op.sector)})` : '';
    switch (op.op) {
      case 'check-sector': return `CHECK ${hex32(op.sector)} +${op.size}`;
      case 'erase-sector': return `ERASE ${hex32(op.sector)}`;
      case 'mass-erase': return 'MASS_ERASE';
      case 'set-address': return `SET_ADDRESS ${hex32(op.address)}${of}`;
      case 'write-block': return `DNLOAD#${op.block} ${op.data.length} -> ${hex32(op.address)}${of}`;
      case 'write-option-bytes': return `OPTION_BYTES ${op.data.length} -> ${hex32(op.address)}`;
      case 'verify': return `VERIFY ${hex32(op.address)} +${op.data.length}${of}`;
      case 'leave': return op.address === undefined ? 'LEAVE' : `LEAVE -> ${hex32(op.address)}`;
    }
  });
}
