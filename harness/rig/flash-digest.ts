import { hex32 } from '../errors.js';

/** Per-sector CRC32s of the user flash: cheap to keep, enough to show what a test changed. */
export interface FlashDigest {
  base: number;
  sectorSize: number;
  crcs: number[];
}

/** One line per sector, changed sectors marked, for the report's flash diff. */
export function describeFlashDiff(before: FlashDigest, after: FlashDigest): string {
  return after.crcs.map((crc, i) => {
    const was = before.crcs[i] ?? 0;
    const start = hex32(after.base + i * after.sectorSize);
    return was === crc
      ? `   sector ${String(i).padStart(2)} ${start}  crc ${hex32(crc)}`
      : ` * sector ${String(i).padStart(2)} ${start}  crc ${hex32(was)} -> ${hex32(crc)}  changed`;
  }).join('\n');
}

/** Indexes of the sectors whose CRC differs. */
export function changedSectors(before: FlashDigest, after: FlashDigest): number[] {
  return after.crcs.flatMap((crc, i) => (before.crcs[i] === crc ? [] : [i]));
}
