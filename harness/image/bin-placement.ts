// Where a .bin goes when nobody says. A raw binary carries no address, and writing it at the
// wrong one bricks the application (it boots into garbage), so the address is taken from the
// image only when its Cortex-M vector table leaves exactly one possibility:
//   - word 0 (initial MSP) points into RAM, word 1 (reset vector) is a Thumb address in a flash bank;
//   - when all 166 entries of the STM32H745 table are handler-like (0, or Thumb addresses in that
//     bank), each handler must lie inside the image after the table; otherwise only the reset
//     handler is used, after the first two words;
//   - the table is aligned as VTOR requires: to the table size rounded up to a power of two
//     (0x400 for 166 entries; 128 bytes, the CM7's minimum, when the size is not known)
//     (ARMv7-M Architecture Reference Manual, B3.2.5 "Vector Table Offset Register");
//   - the whole image fits in that bank.
// One load address satisfying all of these is taken; none or several is a refusal.
import { hex32 } from '../errors.js';
import type { BinPlacement } from './firmware-image.js';
import { H745_FLASH_BANKS, H745_STACK_RAM, H745_VECTOR_TABLE_SIZE } from './vector-table.js';

/** Why no address could be derived, when none could. */
export interface PlacementRefusal {
  problem: string;
}

/** Most candidate addresses listed in a refusal. */
const LISTED = 4;

const inRange = (value: number, range: { start: number; end: number }): boolean => value >= range.start && value < range.end;

/** The load address of a raw Cortex-M image, when its vector table leaves exactly one; else why not. */
export function deriveBinPlacement(bytes: Uint8Array): BinPlacement | PlacementRefusal {
  if (bytes.length < 8) return { problem: 'it is shorter than a vector table' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (i: number): number => view.getUint32(i * 4, true);
  const msp = word(0);
  const reset = word(1);
  if (msp === 0xffffffff && reset === 0xffffffff) return { problem: 'its vector table is erased flash (0xFFFFFFFF)' };
  if ((msp & 3) !== 0 || !H745_STACK_RAM.some((r) => inRange(msp, r))) return { problem: `its first word ${hex32(msp)} is not an initial stack pointer in RAM, so it does not start with a vector table` };
  const bank = H745_FLASH_BANKS.find((b) => inRange(reset & ~1, b));
  if ((reset & 1) === 0 || !bank) return { problem: `its reset vector ${hex32(reset)} is not a Thumb address in flash` };

  const entries = Math.min(H745_VECTOR_TABLE_SIZE / 4, Math.floor(bytes.length / 4));
  const vectors = Array.from({ length: entries - 2 }, (_, i) => word(i + 2));
  const wholeTable = entries === H745_VECTOR_TABLE_SIZE / 4 && vectors.every((v) => v === 0 || ((v & 1) === 1 && inRange(v & ~1, bank)));
  const handlers = [reset, ...(wholeTable ? vectors.filter((v) => v !== 0) : [])].map((v) => (v & ~1) >>> 0);
  const tableSize = wholeTable ? H745_VECTOR_TABLE_SIZE : 8;
  const alignment = wholeTable ? 0x400 : 0x80;
  const lowest = Math.min(...handlers);
  const highest = Math.max(...handlers);

  const candidates: number[] = [];
  const first = Math.max(bank.start, highest - bytes.length + 1);
  for (let at = Math.ceil(first / alignment) * alignment; at + tableSize <= lowest; at += alignment) {
    if (at + bytes.length <= bank.end) candidates.push(at);
  }
  if (candidates.length === 1) {
    const address = candidates[0]!;
    const others = handlers.length - 1;
    return {
      address,
      how: `from its vector table: the reset vector (${hex32(reset)})${others > 0 ? ` and ${others} other vector${others === 1 ? '' : 's'} point` : ' points'} into the image only when it starts at ${hex32(address)}`,
    };
  }
  if (candidates.length === 0) return { problem: `its vector table fits no load address in the flash bank at ${hex32(bank.start)}` };
  const listed = candidates.slice(0, LISTED).map(hex32).join(', ');
  return { problem: `its vector table fits ${candidates.length} load addresses (${listed}${candidates.length > LISTED ? ', …' : ''})` };
}
