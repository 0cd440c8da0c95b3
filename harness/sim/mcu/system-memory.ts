// System memory bank 1 (0x1FF00000–0x1FF1FFFF) as code on the chip reads it. The ROM's code is
// not ST's and is never executed here: a fetch from it hands the chip to the simulated
// bootloader. What entry code reads is real in shape: the two vector tables and the ID byte.
import { SYSTEM_MEMORY } from './boot-config.js';

/** The bootloader start address (AN2606 Table 135): its initial SP, then its entry. */
export const BOOTLOADER_START = 0x1ff09800;
/** Where the bootloader ID byte sits: "last byte address − 1 of system memory" (AN2606 §4.2, Table 226). */
export const BOOTLOADER_ID_ADDRESS = 0x1ff1e7fe;

/** The words the ROM's tables hold. */
export interface RomVector {
  stackPointer: number;
  entry: number;
}

/** Builds system memory's bytes: erased-looking (0xFF) except the vector tables at 0x1FF00000 and 0x1FF09800 and the ID. */
export function buildSystemMemory(vector: RomVector, bootloaderId: number): Uint8Array {
  const bytes = new Uint8Array(SYSTEM_MEMORY.end - SYSTEM_MEMORY.start).fill(0xff);
  const view = new DataView(bytes.buffer);
  for (const table of [SYSTEM_MEMORY.start, BOOTLOADER_START]) {
    view.setUint32(table - SYSTEM_MEMORY.start, vector.stackPointer >>> 0, true);
    view.setUint32(table - SYSTEM_MEMORY.start + 4, vector.entry >>> 0, true);
  }
  bytes[BOOTLOADER_ID_ADDRESS - SYSTEM_MEMORY.start] = bootloaderId & 0xff;
  return bytes;
}
