import type { DebugProbe } from '../probe/probe.js';

/**
 * The test application's `dfu jump` contract (docs/console-protocol.md, "Entry magic"): a
 * 64-bit word at the top of DTCM that its Reset_Handler checks after a software reset.
 */
export const DFU_ENTRY_MAGIC_ADDRESS = 0x2001fff0;
/** High word: the ROM entry 0x1FF09800; low word "DFU0". */
export const DFU_ENTRY_MAGIC = (0x1ff09800n << 32n) | 0x30554644n;

/** Enters the bootloader through the probe: write the magic word, then a system reset (SYSRESETREQ). */
export async function enterWithProbeMagic(probe: DebugProbe): Promise<void> {
  const word = new Uint8Array(8);
  new DataView(word.buffer).setBigUint64(0, DFU_ENTRY_MAGIC, true);
  await probe.writeMemory(DFU_ENTRY_MAGIC_ADDRESS, word);
  await probe.reset('system');
}
