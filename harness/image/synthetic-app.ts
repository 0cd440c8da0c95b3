// Minimal Cortex-M images for specs and the simulated board: a vector table, the version
// block, two one-instruction handlers, and a deterministic filler so that a read-back that
// returns another image's bytes (or erased flash) is caught.
import { crc32 } from './crc32.js';
import { ImageError } from './errors.js';
import { createFirmwareImage, type FirmwareImage } from './firmware-image.js';
import { H745_VECTOR_TABLE_SIZE } from './vector-table.js';
import { encodeVersionBlock, VERSION_BLOCK_OFFSET, type ImageCore } from './version-block.js';

/** Offset of the reset handler (`b .`) inside a synthetic image. */
export const SYNTHETIC_RESET_HANDLER_OFFSET = 0x440;
/** Offset of the handler every other vector points to (`b .`). */
export const SYNTHETIC_DEFAULT_HANDLER_OFFSET = 0x444;
/** Smallest synthetic image: up to the end of the default handler. */
export const SYNTHETIC_MIN_SIZE = 0x448;
/** Default size: 8 KiB, a whole number of 32-byte flash words spanning several 1024-byte DFU blocks. */
export const SYNTHETIC_DEFAULT_SIZE = 0x2000;

/**
 * Default initial MSP per core. Below the top of RAM, clear of the V9.x ROM limitation
 * "application stack pointer must be lower than RAM end - 16 bytes" (AN2606 Table 136):
 * CM7 in DTCM, CM4 in SRAM3 (the CM4 cannot reach DTCM).
 */
export const SYNTHETIC_DEFAULT_MSP: Readonly<Record<ImageCore, number>> = Object.freeze({ 7: 0x2001ff00, 4: 0x30047f00 });

// Thumb `b .` followed by a `nop` so each handler fills a word.
const BRANCH_TO_SELF_AND_NOP = [0xfe, 0xe7, 0x00, 0xbf];

/** Options of {@link buildTestAppImage}. */
export interface TestAppOptions {
  name: string;
  version: string;
  /** Where the image is flashed (its vector table address). Default 0x08000000. */
  loadAddress?: number;
  /** 7 (Cortex-M7 application, bank 1) or 4 (Cortex-M4, usually at 0x08100000). Default 7. */
  core?: ImageCore;
  /** Image length in bytes, at least SYNTHETIC_MIN_SIZE. Default 8 KiB. */
  size?: number;
  /** Initial MSP; not checked, so specs can probe edge cases. Default per core, see SYNTHETIC_DEFAULT_MSP. */
  stackPointer?: number;
  /** False gives an erased-looking vector table (MSP and reset vector 0xFFFFFFFF) that is never valid code. */
  valid?: boolean;
}

/** A deterministic filler: xorshift32 seeded from the image's identity. */
function fillPattern(bytes: Uint8Array, from: number, to: number, seedText: string): void {
  let state = crc32(Buffer.from(seedText, 'latin1')) || 0x9e3779b9;
  for (let i = from; i < to; i++) {
    if ((i - from) % 4 === 0) {
      state ^= state << 13;
      state >>>= 0;
      state ^= state >>> 17;
      state ^= state << 5;
      state >>>= 0;
    }
    bytes[i] = (state >>> (((i - from) % 4) * 8)) & 0xff;
  }
}

/** Builds a minimal but valid Cortex-M image carrying a version block (docs/image-version-block.md). */
export function buildTestAppImage(options: TestAppOptions): FirmwareImage {
  const { name, version, loadAddress = 0x08000000, core = 7, size = SYNTHETIC_DEFAULT_SIZE, valid = true } = options;
  const source = `synthetic image ${name} ${version}`;
  const stackPointer = options.stackPointer ?? SYNTHETIC_DEFAULT_MSP[core];
  if (!Number.isInteger(size) || size < SYNTHETIC_MIN_SIZE) {
    throw new ImageError(source, 'invalid-argument', `size ${String(size)} is below the minimum of ${SYNTHETIC_MIN_SIZE} bytes (vector table, version block, handlers)`);
  }
  // The vector table is read with word loads, so it must be word-aligned.
  if (!Number.isInteger(loadAddress) || loadAddress < 0 || loadAddress % 4 !== 0 || loadAddress + size > 0x1_0000_0000) {
    throw new ImageError(source, 'invalid-argument', `load address ${String(loadAddress)} is not a word-aligned 32-bit address with room for ${size} bytes`);
  }
  if (!Number.isInteger(stackPointer) || stackPointer < 0 || stackPointer > 0xffffffff) {
    throw new ImageError(source, 'invalid-argument', `stack pointer ${String(stackPointer)} is not a 32-bit value`);
  }
  const block = encodeVersionBlock({ core, name, version });

  const bytes = new Uint8Array(size);
  fillPattern(bytes, 0, size, `${name}@${version}#${core}`);
  const view = new DataView(bytes.buffer);
  const resetVector = (loadAddress + SYNTHETIC_RESET_HANDLER_OFFSET) | 1;
  const defaultVector = (loadAddress + SYNTHETIC_DEFAULT_HANDLER_OFFSET) | 1;
  view.setUint32(0, valid ? stackPointer : 0xffffffff, true);
  view.setUint32(4, valid ? resetVector >>> 0 : 0xffffffff, true);
  for (let offset = 8; offset < H745_VECTOR_TABLE_SIZE; offset += 4) view.setUint32(offset, defaultVector >>> 0, true);
  bytes.set(block, VERSION_BLOCK_OFFSET);
  bytes.set(BRANCH_TO_SELF_AND_NOP, SYNTHETIC_RESET_HANDLER_OFFSET);
  bytes.set(BRANCH_TO_SELF_AND_NOP, SYNTHETIC_DEFAULT_HANDLER_OFFSET);
  return createFirmwareImage({ source, format: 'synthetic', segments: [{ address: loadAddress, data: bytes }] });
}
