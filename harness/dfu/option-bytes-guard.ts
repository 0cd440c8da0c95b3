// Safety rules for option-byte writes over DfuSe. The harness never writes option bytes unless
// the caller explicitly allows it, and never sets RDP level 2, whatever it is asked.
import { hex32 } from '../errors.js';
import { OptionBytesFormatError, OptionBytesRefusedError, RdpLevel2RefusedError } from './errors.js';
import type { ImageSegment } from '../image/firmware-image.js';
import type { MemoryLayout } from './layout.js';

/**
 * The STM32H7 FLASH register block (RM0399: FLASH base 0x52002000). The ROM's "Option Bytes"
 * alt starts inside it at FLASH_OPTSR_CUR (0x5200201C). Any write into the block is treated as
 * an option-byte write, whatever the layout calls it.
 */
export const H7_FLASH_REGISTERS = { start: 0x52002000, end: 0x52003000 } as const;

/** Start of the option-byte block the H7 ROM exposes (FLASH_OPTSR_CUR). */
export const H7_OPTION_BYTES_BASE = 0x5200201c;

/** RDP value for readout protection level 2 (irreversible; RM0399 Table 22). */
export const RDP_LEVEL_2 = 0xcc;

/**
 * Addresses of RDP bytes inside the block. RDP is bits 15:8 of FLASH_OPTSR (RM0399 §4.9), i.e.
 * byte 1 of the little-endian word. The block holds both OPTSR_CUR (0x5200201C) and OPTSR_PRG
 * (0x52002020); which of the two the ROM programs from is not documented, so both are checked.
 * Assumption, not read in AN3156: the DfuSe block is a straight image of the registers from
 * 0x5200201C on.
 */
export const H7_RDP_BYTE_ADDRESSES: readonly number[] = [0x5200201d, 0x52002021];


/** True when `layout` is an option-byte alt or [address, address+length) reaches the FLASH registers. */
export function isOptionBytesTarget(layout: MemoryLayout, address: number, length: number): boolean {
  if (/option\s*bytes/i.test(layout.name)) return true;
  return address < H7_FLASH_REGISTERS.end && address + length > H7_FLASH_REGISTERS.start;
}

/** Throws {@link RdpLevel2RefusedError} if `segment` would write 0xCC into an RDP byte. Always applies. */
export function refuseRdpLevel2(segment: ImageSegment): void {
  for (const rdp of H7_RDP_BYTE_ADDRESSES) {
    const offset = rdp - segment.address;
    if (offset >= 0 && offset < segment.data.length && segment.data[offset] === RDP_LEVEL_2) {
      throw new RdpLevel2RefusedError(rdp);
    }
  }
}

/**
 * Checks an option-byte write before anything is sent: RDP level 2 is refused always; any
 * other write needs `allowOptionBytes`; and the ROM takes only the whole block at its start
 * (AN3156 §5.1), so partial writes are refused too.
 */
export function checkOptionBytesWrite(layout: MemoryLayout, segment: ImageSegment, allowOptionBytes: boolean): void {
  refuseRdpLevel2(segment);
  if (!allowOptionBytes) throw new OptionBytesRefusedError(`write the option bytes ("${layout.name || 'option bytes'}") at ${hex32(segment.address)}`);
  const block = layout.segmentAt(segment.address);
  const blockStart = block?.start ?? layout.start;
  const blockSize = block ? block.end - block.start : layout.end - layout.start;
  if (segment.address !== blockStart || segment.data.length !== blockSize) {
    throw new OptionBytesFormatError(segment.address, segment.data.length, blockStart, blockSize);
  }
}
