// Where and what the test application writes before `dfu jump`'s software reset. The real
// firmware (firmware-images/) must use the same values; they live here and in the README.

/**
 * The 64-bit word sits in the last 16 bytes of DTCM, above the application's stack (initial
 * MSP 0x2001FF00) and outside the 16 KB at 0x20000000 the ROM bootloader uses (AN2606
 * Table 135), so neither the stack nor the bootloader overwrites it.
 */
export const DFU_MAGIC_ADDRESS = 0x2001fff0;

/**
 * High word: the bootloader entry (0x1FF09800, AN2606 Table 135); low word "DFU0" in ASCII.
 * Written with one 64-bit store, as H7 ECC RAM needs for the word to survive a reset.
 */
export const DFU_MAGIC = (0x1ff09800n << 32n) | 0x30554644n;

/** The ROM bootloader entry the early jump branches to. */
export const BOOTLOADER_ENTRY = 0x1ff09800;
