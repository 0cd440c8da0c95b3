// Where the option registers sit in the 128-byte block the ST bootloader exposes at 0x5200201C
// (FLASH base 0x52002000 + 0x1C), and their bit fields. Offsets and fields are from
// STMicroelectronics/cmsis_device_h7 Include/stm32h745xx.h (FLASH_TypeDef and the
// FLASH_OPTSR_* / FLASH_BOOT7_* / FLASH_BOOT4_* / FLASH_WPSN_* definitions).

/** FLASH_OPTSR_CUR, the first byte of the bootloader's "Option Bytes" alternate setting. */
export const OPTION_BLOCK_BASE = 0x5200_201c;
/** The block size the H7 ROM's layout string gives ("01*128 e"). */
export const OPTION_BLOCK_SIZE = 128;
/**
 * The register window from 0x5200201C to FLASH+0x150, both banks' option registers: what
 * STM32CubeProgrammer reads on H743 over DFU (308 bytes, in its log in
 * https://community.st.com/s/question/0D53W00000HM7kF/stm32cubeprogrammer-fail-to-connect-over-dfu).
 */
export const OPTION_WINDOW_SIZE = 308;

/** Byte offsets of the registers inside the block (FLASH register offset − 0x1C). */
export const OptionRegisterOffset = {
  OPTSR_CUR: 0x00, // FLASH+0x1C
  OPTSR_PRG: 0x04, // FLASH+0x20
  OPTCCR: 0x08, // FLASH+0x24
  PRAR_CUR1: 0x0c, // FLASH+0x28
  PRAR_PRG1: 0x10, // FLASH+0x2C
  SCAR_CUR1: 0x14, // FLASH+0x30
  SCAR_PRG1: 0x18, // FLASH+0x34
  WPSN_CUR1: 0x1c, // FLASH+0x38
  WPSN_PRG1: 0x20, // FLASH+0x3C
  BOOT7_CUR: 0x24, // FLASH+0x40
  BOOT7_PRG: 0x28, // FLASH+0x44
  BOOT4_CUR: 0x2c, // FLASH+0x48
  BOOT4_PRG: 0x30, // FLASH+0x4C
  // 0x34..0x44: CRCCR1, CRCSADD1, CRCEADD1, CRCDATA, ECC_FA1 (FLASH+0x50..0x60); the rest is reserved.
  // The bank-2 PRAR/SCAR/WPSN registers sit at FLASH+0x128..0x13C, outside the 128-byte block but
  // inside the 308-byte window.
  PRAR_CUR2: 0x10c, // FLASH+0x128
  PRAR_PRG2: 0x110, // FLASH+0x12C
  SCAR_CUR2: 0x114, // FLASH+0x130
  SCAR_PRG2: 0x118, // FLASH+0x134
  WPSN_CUR2: 0x11c, // FLASH+0x138
  WPSN_PRG2: 0x120, // FLASH+0x13C
} as const;

/** FLASH_OPTSR bit fields (CMSIS FLASH_OPTSR_*_Pos). */
export const Optsr = {
  OPT_BUSY: 1 << 0,
  BOR_LEV_SHIFT: 2,
  BOR_LEV_MASK: 0x3 << 2,
  IWDG1_SW: 1 << 4,
  IWDG2_SW: 1 << 5,
  NRST_STOP_D1: 1 << 6,
  NRST_STBY_D1: 1 << 7,
  RDP_SHIFT: 8,
  RDP_MASK: 0xff << 8,
  FZ_IWDG_STOP: 1 << 17,
  FZ_IWDG_SDBY: 1 << 18,
  ST_RAM_SIZE_MASK: 0x3 << 19,
  SECURITY: 1 << 21,
  BCM4: 1 << 22,
  BCM7: 1 << 23,
  NRST_STOP_D2: 1 << 24,
  NRST_STBY_D2: 1 << 25,
  IO_HSLV: 1 << 29,
  OPTCHANGEERR: 1 << 30,
  SWAP_BANK_OPT: 0x8000_0000,
} as const;

/** OPTSR bits a program operation can change; OPT_BUSY and OPTCHANGEERR are status, the rest reserved. */
export const OPTSR_PROGRAMMABLE = (Optsr.BOR_LEV_MASK | Optsr.IWDG1_SW | Optsr.IWDG2_SW | Optsr.NRST_STOP_D1 | Optsr.NRST_STBY_D1
  | Optsr.RDP_MASK | Optsr.FZ_IWDG_STOP | Optsr.FZ_IWDG_SDBY | Optsr.ST_RAM_SIZE_MASK | Optsr.SECURITY | Optsr.BCM4 | Optsr.BCM7
  | Optsr.NRST_STOP_D2 | Optsr.NRST_STBY_D2 | Optsr.IO_HSLV | Optsr.SWAP_BANK_OPT) >>> 0;

/** RDP byte values (RM0399 Table 22; HAL OB_RDP_LEVEL_x). Any value but these two is level 1. */
export const RdpByte = { Level0: 0xaa, Level2: 0xcc, Level1: 0x55 } as const;

/**
 * The factory OPTSR value. Confirmed fields (RM0399 §4.4.7, §4.5.3; docs/stm32h7-facts.md §1, §4): RDP 0xAA, BCM7 = BCM4 = 1.
 * The rest follow RM0399's factory column as far as known: watchdogs in software mode, no reset on
 * Stop/Standby entry, IWDG frozen in Stop/Standby, BOR off, no security, no bank swap.
 * Unconfirmed: ST_RAM_SIZE (0 here) and the reserved bits 27:28 (set, as read on H7 parts).
 */
export const FACTORY_OPTSR = 0x1bc6_aaf0;

/** FLASH_BOOT7: BCM7_ADD0 in bits 15:0, BCM7_ADD1 in 31:16; factory 0x0800 / 0x1FF0 (RM0399 §4.4.7, Table 20). */
export const FACTORY_BOOT7 = (0x1ff0 << 16 | 0x0800) >>> 0;
/** FLASH_BOOT4: BCM4_ADD0 in bits 15:0, BCM4_ADD1 in 31:16; factory 0x0810 / 0x1000 (RM0399 §4.4.7, Table 20). */
export const FACTORY_BOOT4 = (0x1000 << 16 | 0x0810) >>> 0;
/** FLASH_WPSN: bit n = 0 protects sector n (HAL FLASH_OB_EnableWRP clears the bits); factory: nothing protected. */
export const FACTORY_WPSN = 0xff;
/**
 * FLASH_PRAR / FLASH_SCAR: an area whose start (bits 11:0) is above its end (bits 27:16) is
 * empty, which is how the factory leaves PCROP and the secure area. Exact factory value unconfirmed.
 */
export const FACTORY_EMPTY_AREA = 0x0000_00ff;
