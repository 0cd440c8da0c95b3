import { createHash } from 'node:crypto';
import { hex32 } from '../errors.js';
import { crc32 } from './crc32.js';
import { ImageError } from './errors.js';

/** Bytes to be placed at an absolute address. */
export interface ImageSegment {
  address: number;
  data: Uint8Array;
}

/** The USB identity a DFU suffix names (0xFFFF in a field means "any"). */
export interface DeviceIdentity {
  vendorId: number;
  productId: number;
  bcdDevice: number;
}

/** One DfuSe target: the elements meant for one alternate setting. */
export interface DfuseTarget {
  alternateSetting: number;
  /** Absent when the target is unnamed (bTargetNamed = 0). */
  name?: string;
  /** The elements in file order; each is one SET_ADDRESS + download run. */
  segments: readonly ImageSegment[];
}

/** Where an image came from, as its reader saw it. */
export type ImageFormat = 'bin' | 'hex' | 'dfu' | 'elf' | 'synthetic';

/**
 * A firmware image, whatever file it came from. `segments` is the flat view (every target's
 * bytes, sorted, adjacent runs merged, no overlaps); `targets` keeps DfuSe structure.
 */
export interface FirmwareImage {
  /** File path or a description, used in every message about the image. */
  readonly source: string;
  readonly format: ImageFormat;
  readonly segments: readonly ImageSegment[];
  readonly targets?: readonly DfuseTarget[];
  /** From a .dfu suffix. */
  readonly device?: DeviceIdentity;
  /** From an Intel HEX start linear address record (type 05). */
  readonly startAddress?: number;
  /** How a .bin's load address was found when nobody gave one (see bin-placement.ts). */
  readonly placement?: BinPlacement;
}

/** A .bin's load address found from its contents, and how. */
export interface BinPlacement {
  address: number;
  /** One sentence saying how, for the person who left the address out. */
  how: string;
}

/** What {@link createFirmwareImage} needs. */
export interface FirmwareImageInit {
  source: string;
  format: ImageFormat;
  /** Flat segments; ignored when `targets` is given (the flat view is derived from them). */
  segments?: readonly ImageSegment[];
  targets?: readonly DfuseTarget[];
  device?: DeviceIdentity;
  startAddress?: number;
  placement?: BinPlacement;
}

const ADDRESS_SPACE_END = 0x1_0000_0000;

/** Checks one segment's address and length fit the 32-bit address space. */
function checkSegment(segment: ImageSegment, source: string, what: string): void {
  const { address, data } = segment;
  if (!Number.isInteger(address) || address < 0 || address >= ADDRESS_SPACE_END) {
    throw new ImageError(source, 'invalid-argument', `${what} has address ${String(address)}, which is not a 32-bit address`);
  }
  if (address + data.length > ADDRESS_SPACE_END) {
    throw new ImageError(source, 'size-mismatch', `${what} at ${hex32(address)} (${data.length} bytes) runs past the end of the 32-bit address space`);
  }
}

/** The range [start, end) as ST writes it: 0x08000000..0x08000400. */
export function describeRange(address: number, length: number): string {
  return `${hex32(address)}..${hex32(address + length)}`;
}

/**
 * Sorts segments, rejects overlaps (naming both), drops empty ones and merges adjacent runs.
 * Returns new segments; input arrays are never modified or aliased by merged output.
 */
export function normaliseSegments(segments: readonly ImageSegment[], source: string): ImageSegment[] {
  segments.forEach((s, i) => checkSegment(s, source, `segment ${i}`));
  const sorted = segments.filter((s) => s.data.length > 0).slice().sort((a, b) => a.address - b.address);
  const out: { address: number; parts: Uint8Array[]; end: number }[] = [];
  for (const segment of sorted) {
    const last = out[out.length - 1];
    const end = segment.address + segment.data.length;
    if (last && segment.address < last.end) {
      throw new ImageError(source, 'overlap',
        `bytes ${describeRange(segment.address, segment.data.length)} overlap bytes ${describeRange(last.address, last.end - last.address)}`);
    }
    if (last && segment.address === last.end) {
      last.parts.push(segment.data);
      last.end = end;
    } else {
      out.push({ address: segment.address, parts: [segment.data], end });
    }
  }
  return out.map(({ address, parts }) => ({ address, data: concatBytes(parts) }));
}

/** Joins byte arrays into a fresh one. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Builds a checked image: throws ImageError for overlaps, bad addresses or no bytes at all. */
export function createFirmwareImage(init: FirmwareImageInit): FirmwareImage {
  const { source } = init;
  let segments: ImageSegment[];
  let targets: DfuseTarget[] | undefined;
  if (init.targets) {
    targets = init.targets.map((t, ti) => {
      if (!Number.isInteger(t.alternateSetting) || t.alternateSetting < 0 || t.alternateSetting > 255) {
        throw new ImageError(source, 'invalid-argument', `target ${ti} has alternate setting ${String(t.alternateSetting)}; it must be 0..255`);
      }
      t.segments.forEach((s, ei) => checkSegment(s, source, `target ${ti} (alt ${t.alternateSetting}) element ${ei}`));
      // Overlaps inside one target are named with the target so the message points into the file.
      try {
        normaliseSegments(t.segments, source);
      } catch (error) {
        if (error instanceof ImageError && error.fault === 'overlap') {
          throw new ImageError(source, 'overlap', `target ${ti} (alt ${t.alternateSetting}): elements overlap: ${error.problem}`);
        }
        throw error;
      }
      return { ...t, segments: t.segments.map((s) => ({ address: s.address, data: s.data })) };
    });
    segments = normaliseSegments(targets.flatMap((t) => t.segments), source);
  } else {
    segments = normaliseSegments(init.segments ?? [], source);
  }
  if (segments.length === 0) throw new ImageError(source, 'empty', 'the image holds no bytes');
  if (init.startAddress !== undefined && (!Number.isInteger(init.startAddress) || init.startAddress < 0 || init.startAddress >= ADDRESS_SPACE_END)) {
    throw new ImageError(source, 'invalid-argument', `start address ${String(init.startAddress)} is not a 32-bit address`);
  }
  return {
    source,
    format: init.format,
    segments,
    ...(targets ? { targets } : {}),
    ...(init.device ? { device: { ...init.device } } : {}),
    ...(init.startAddress !== undefined ? { startAddress: init.startAddress } : {}),
    ...(init.placement ? { placement: { ...init.placement } } : {}),
  };
}

/** Total bytes the image writes (gaps excluded). */
export function imageSize(image: FirmwareImage): number {
  return image.segments.reduce((n, s) => n + s.data.length, 0);
}

/** First byte the image writes. */
export function imageStart(image: FirmwareImage): number {
  return image.segments[0]?.address ?? 0;
}

/** One past the last byte the image writes. */
export function imageEnd(image: FirmwareImage): number {
  const last = image.segments[image.segments.length - 1];
  return last ? last.address + last.data.length : 0;
}

/**
 * The image's bytes in [address, address+length), with `fill` where the image has none
 * (0xFF by default: what erased flash reads).
 */
export function imageBytesAt(image: FirmwareImage, address: number, length: number, fill = 0xff): Uint8Array {
  const out = new Uint8Array(length).fill(fill);
  const end = address + length;
  for (const s of image.segments) {
    const sEnd = s.address + s.data.length;
    if (sEnd <= address || s.address >= end) continue;
    const from = Math.max(address, s.address);
    const to = Math.min(end, sEnd);
    out.set(s.data.subarray(from - s.address, to - s.address), from - address);
  }
  return out;
}

/** The image as one flat binary from its first to its last byte, gaps filled with `fill`. */
export function imageToBin(image: FirmwareImage, fill = 0xff): Uint8Array {
  return imageBytesAt(image, imageStart(image), imageEnd(image) - imageStart(image), fill);
}

/** Size and hashes for reports and manifests. */
export interface ImageDigest {
  size: number;
  /** IEEE CRC-32 (as zlib, `crc32` tools and STM32CubeProgrammer's checksum use it), 8 hex digits. */
  crc32: string;
  sha256: string;
}

/**
 * Hashes the segments' bytes concatenated in address order (addresses and gaps are not hashed),
 * so a one-segment image hashes exactly like its .bin (`sha256sum app.bin`).
 */
export function imageDigest(image: FirmwareImage): ImageDigest {
  const hash = createHash('sha256');
  let crc = 0;
  for (const s of image.segments) {
    hash.update(s.data);
    crc = crc32(s.data, crc);
  }
  return { size: imageSize(image), crc32: crc.toString(16).padStart(8, '0'), sha256: hash.digest('hex') };
}
