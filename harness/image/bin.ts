import { hex32 } from '../errors.js';
import { ImageError } from './errors.js';
import { createFirmwareImage, type FirmwareImage } from './firmware-image.js';

/** The start of bank 1, where the CM7 boots (BOOT_CM7_ADD0 = 0x0800); a .bin goes there only when asked or derived (bin-placement.ts). */
export const DEFAULT_BIN_ADDRESS = 0x08000000;

/** Wraps raw bytes as an image loaded at `address`. */
export function loadBin(bytes: Uint8Array, address: number, source: string): FirmwareImage {
  if (!Number.isInteger(address) || address < 0 || address > 0xffffffff) {
    throw new ImageError(source, 'invalid-argument', `load address ${String(address)} is not a 32-bit address`, {
      hint: 'Give the .bin its load address, e.g. 0x08000000 for bank 1 or 0x08100000 for bank 2.',
    });
  }
  if (bytes.length === 0) throw new ImageError(source, 'empty', 'the file is empty');
  if (address + bytes.length > 0x1_0000_0000) {
    throw new ImageError(source, 'size-mismatch', `${bytes.length} bytes at ${hex32(address)} run past the end of the 32-bit address space`);
  }
  return createFirmwareImage({ source, format: 'bin', segments: [{ address, data: bytes.slice() }] });
}
