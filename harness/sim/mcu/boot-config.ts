import type { RdpLevel } from '../contracts.js';

/** The option-byte values the chip reads at every reset to decide what each core runs. */
export interface BootConfig {
  rdpLevel: RdpLevel;
  /** MSB halves of the boot addresses (RM0399 §4.4.7): factory 0x0800 / 0x1FF0. */
  bootCm7Add0: number;
  bootCm7Add1: number;
  /** Factory 0x0810 / 0x1000. */
  bootCm4Add0: number;
  bootCm4Add1: number;
  /** Core enables; both 1 at the factory. */
  bcm7: boolean;
  bcm4: boolean;
}

/** Factory option values (RM0399 §4.4.7, Table 20; docs/stm32h7-facts.md §1). */
export const FACTORY_BOOT_CONFIG: Readonly<BootConfig> = Object.freeze({
  rdpLevel: 0, bootCm7Add0: 0x0800, bootCm7Add1: 0x1ff0, bootCm4Add0: 0x0810, bootCm4Add1: 0x1000, bcm7: true, bcm4: true,
});

/** System memory bank 1, where the ROM bootloader lives (0x1FF00000–0x1FF1FFFF). */
export const SYSTEM_MEMORY = { start: 0x1ff00000, end: 0x1ff20000 } as const;

/** True when `address` is in system memory (the ROM bootloader). */
export function isSystemMemory(address: number): boolean {
  return address >= SYSTEM_MEMORY.start && address < SYSTEM_MEMORY.end;
}
