import * as zlib from 'node:zlib';
import { DfuHilError } from '../errors.js';

/** Node lacks zlib.crc32 (it arrived in Node 20.15 / 22.2). */
export class Crc32UnavailableError extends DfuHilError {
  constructor() {
    super('crc32-unavailable', `node:zlib has no crc32() in Node ${process.version}; .dfu files cannot be checked or written`, {
      hint: 'Use Node.js 20.15 or newer (22.2+ on the 22 line).',
    });
  }
}

type Crc32Fn = (data: Uint8Array, value?: number) => number;

/** zlib.crc32, looked up at call time so an old Node fails with a clear error, not a TypeError. */
function zlibCrc32(): Crc32Fn {
  const fn = (zlib as { crc32?: Crc32Fn }).crc32;
  if (typeof fn !== 'function') throw new Crc32UnavailableError();
  return fn;
}

/** IEEE CRC-32 (the zlib/PNG one), optionally continuing from a previous result. */
export function crc32(data: Uint8Array, previous = 0): number {
  return zlibCrc32()(data, previous) >>> 0;
}

/**
 * The DFU suffix dwCRC: the same polynomial and initial value 0xFFFFFFFF, but without the
 * final inversion (DFU 1.1 appendix B; what dfu-util's dfu-suffix computes and checks).
 */
export function dfuSuffixCrc(data: Uint8Array): number {
  return ~crc32(data) >>> 0;
}
