import { DfuHilError } from '../../errors.js';
import type { BankNumber, FlashBusy, OptionBytesStore, RdpLevel } from '../contracts.js';
import { DEFAULT_FLASH_TIMING } from '../flash/flash-timing.js';
import {
  FACTORY_BOOT4, FACTORY_BOOT7, FACTORY_EMPTY_AREA, FACTORY_OPTSR, FACTORY_WPSN, OPTION_BLOCK_BASE, OPTION_BLOCK_SIZE,
  OPTION_WINDOW_SIZE,
  OPTSR_PROGRAMMABLE, OptionRegisterOffset, Optsr, RdpByte,
} from './option-register-map.js';

/** The option values, one field per FLASH register (bank-2 ones included, though the DFU block does not reach them). */
export interface OptionRegisters {
  optsr: number;
  prar1: number;
  scar1: number;
  wpsn1: number;
  boot7: number;
  boot4: number;
  prar2: number;
  scar2: number;
  wpsn2: number;
}

/** What a chip leaves the factory with, and what RDP regression restores. */
export const FACTORY_OPTIONS: Readonly<OptionRegisters> = Object.freeze({
  optsr: FACTORY_OPTSR,
  prar1: FACTORY_EMPTY_AREA,
  scar1: FACTORY_EMPTY_AREA,
  wpsn1: FACTORY_WPSN,
  boot7: FACTORY_BOOT7,
  boot4: FACTORY_BOOT4,
  prar2: FACTORY_EMPTY_AREA,
  scar2: FACTORY_EMPTY_AREA,
  wpsn2: FACTORY_WPSN,
});

/** What the option bytes need of the flash: the full erase that RDP regression performs. */
export interface RegressibleFlash {
  eraseEverything(): FlashBusy;
}

/** Options for {@link SimOptionBytes}. */
export interface SimOptionBytesOptions {
  /** Values the chip starts with (both loaded and programmed); the rest are factory values. */
  initial?: Partial<OptionRegisters>;
  /** The user flash, erased by RDP regression. Can also be connected later with {@link SimOptionBytes.connectFlash}. */
  flash?: RegressibleFlash;
  /** Busy time of one option-byte change; default {@link DEFAULT_FLASH_TIMING}.optionBytesProgramMs (unconfirmed). */
  programMs?: number;
}

/** The option-byte block written to the bootloader had the wrong size. */
export class OptionBlockError extends DfuHilError {
  constructor(readonly length: number) {
    super('sim-option-block', `an option-byte block must be exactly ${OPTION_BLOCK_SIZE} or ${OPTION_WINDOW_SIZE} bytes, got ${length}`, {
      hint: 'Read the whole block from 0x5200201C first, change the *_PRG words, and write all 128 bytes back.',
    });
  }
}

/** RDP level 2 is in force: the option bytes can no longer change (RM0399 §4.5.3). */
export class OptionBytesFrozenError extends DfuHilError {
  constructor(what: string) {
    super('sim-option-bytes-frozen', `${what} refused: readout protection level 2 is permanent on this chip`, {
      hint: 'Level 2 (RDP 0xCC) cannot be undone, on a real chip or in the simulator. Build a new simulated board.',
    });
  }
}

const u32 = (v: number): number => v >>> 0;

/**
 * The STM32H745's option bytes as the flash interface presents them from FLASH_OPTSR_CUR on.
 * Like the chip, it keeps two sets: the values in force ("current", the *_CUR registers) and the
 * values programmed ("programmed", the *_PRG registers), which the option-byte loader makes
 * current at the next reset ({@link loadAtReset}, called by the board).
 */
export class SimOptionBytes implements OptionBytesStore {
  readonly base = OPTION_BLOCK_BASE;
  readonly blockSize = OPTION_BLOCK_SIZE;
  readonly windowSize = OPTION_WINDOW_SIZE;
  private readonly programMs: number;
  private flash: RegressibleFlash | undefined;
  private current: OptionRegisters;
  private programmed: OptionRegisters;
  private level2Latched = false;

  constructor(options: SimOptionBytesOptions = {}) {
    this.current = { ...FACTORY_OPTIONS, ...options.initial };
    this.programmed = { ...this.current };
    this.flash = options.flash;
    this.programMs = options.programMs ?? DEFAULT_FLASH_TIMING.optionBytesProgramMs;
    this.latchLevel2();
  }

  /** Connects the flash that RDP regression erases (the flash is usually built after the option bytes). */
  connectFlash(flash: RegressibleFlash): void {
    this.flash = flash;
  }

  /** A copy of the values in force. */
  currentValues(): OptionRegisters {
    return { ...this.current };
  }

  /** A copy of the values programmed for the next reset. */
  programmedValues(): OptionRegisters {
    return { ...this.programmed };
  }

  /**
   * The 128 bytes from 0x5200201C, little-endian words: the CUR registers show the values in force,
   * the PRG registers the values programmed; status, CRC and ECC registers read 0.
   */
  readBlock(): Uint8Array {
    return this.readWindow().slice(0, OPTION_BLOCK_SIZE);
  }

  /** The 308-byte window from 0x5200201C: the block, then up to the bank-2 option registers (FLASH+0x128..0x13C). */
  readWindow(): Uint8Array {
    const out = new Uint8Array(OPTION_WINDOW_SIZE);
    const view = new DataView(out.buffer);
    const put = (offset: number, value: number): void => view.setUint32(offset, u32(value), true);
    put(OptionRegisterOffset.OPTSR_CUR, this.current.optsr);
    put(OptionRegisterOffset.OPTSR_PRG, this.programmed.optsr);
    put(OptionRegisterOffset.PRAR_CUR1, this.current.prar1);
    put(OptionRegisterOffset.PRAR_PRG1, this.programmed.prar1);
    put(OptionRegisterOffset.SCAR_CUR1, this.current.scar1);
    put(OptionRegisterOffset.SCAR_PRG1, this.programmed.scar1);
    put(OptionRegisterOffset.WPSN_CUR1, this.current.wpsn1);
    put(OptionRegisterOffset.WPSN_PRG1, this.programmed.wpsn1);
    put(OptionRegisterOffset.BOOT7_CUR, this.current.boot7);
    put(OptionRegisterOffset.BOOT7_PRG, this.programmed.boot7);
    put(OptionRegisterOffset.BOOT4_CUR, this.current.boot4);
    put(OptionRegisterOffset.BOOT4_PRG, this.programmed.boot4);
    put(OptionRegisterOffset.PRAR_CUR2, this.current.prar2);
    put(OptionRegisterOffset.PRAR_PRG2, this.programmed.prar2);
    put(OptionRegisterOffset.SCAR_CUR2, this.current.scar2);
    put(OptionRegisterOffset.SCAR_PRG2, this.programmed.scar2);
    put(OptionRegisterOffset.WPSN_CUR2, this.current.wpsn2);
    put(OptionRegisterOffset.WPSN_PRG2, this.programmed.wpsn2);
    return out;
  }

  /**
   * Erases then programs the options from a whole 128-byte block, or from the 308-byte window
   * (bank-2 registers too). The values are taken from the *_PRG words, as the flash interface
   * programs from those registers; the *_CUR words are read-only and ignored. How the ROM maps the
   * block onto the registers is not documented (unconfirmed); this is the register-faithful reading.
   */
  programBlock(bytes: Uint8Array): FlashBusy {
    if (bytes.length !== OPTION_BLOCK_SIZE && bytes.length !== OPTION_WINDOW_SIZE) throw new OptionBlockError(bytes.length);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const word = (offset: number): number => view.getUint32(offset, true);
    return this.program({
      optsr: word(OptionRegisterOffset.OPTSR_PRG),
      prar1: word(OptionRegisterOffset.PRAR_PRG1),
      scar1: word(OptionRegisterOffset.SCAR_PRG1),
      wpsn1: word(OptionRegisterOffset.WPSN_PRG1),
      boot7: word(OptionRegisterOffset.BOOT7_PRG),
      boot4: word(OptionRegisterOffset.BOOT4_PRG),
      ...(bytes.length === OPTION_WINDOW_SIZE ? {
        prar2: word(OptionRegisterOffset.PRAR_PRG2),
        scar2: word(OptionRegisterOffset.SCAR_PRG2),
        wpsn2: word(OptionRegisterOffset.WPSN_PRG2),
      } : {}),
    });
  }

  /**
   * Programs some option registers (as code writing *_PRG then OPTSTART would). Taking RDP from
   * level 1 to 0 erases the user flash at once (RM0399 §4.5.3). At level 2 only SWAP_BANK changes.
   */
  program(values: Partial<OptionRegisters>): FlashBusy {
    if (this.level2Latched) {
      const swap = (values.optsr ?? this.programmed.optsr) & Optsr.SWAP_BANK_OPT;
      this.programmed.optsr = u32((this.programmed.optsr & ~Optsr.SWAP_BANK_OPT) | swap);
      return { durationMs: this.programMs };
    }
    const next: OptionRegisters = { ...this.programmed, ...values };
    next.optsr = u32((this.programmed.optsr & ~OPTSR_PROGRAMMABLE) | (next.optsr & OPTSR_PROGRAMMABLE));
    for (const key of ['wpsn1', 'wpsn2'] as const) next[key] = next[key] & 0xff;
    let durationMs = this.programMs;
    if (this.rdpLevel() === 1 && rdpOf(next.optsr) === RdpByte.Level0) durationMs += this.eraseFlash();
    this.programmed = next;
    return { durationMs };
  }

  /** Sets or clears write protection of sectors in one bank (bit n of `protectedMask` = sector n protected). */
  programWriteProtection(bank: BankNumber, protectedMask: number): FlashBusy {
    const wpsn = ~protectedMask & 0xff;
    return this.program(bank === 1 ? { wpsn1: wpsn } : { wpsn2: wpsn });
  }

  /** The option-byte loader at reset: programmed values come into force. Level 2 latches for good. */
  loadAtReset(): void {
    this.current = { ...this.programmed };
    this.latchLevel2();
  }

  /**
   * RDP regression (Read Unprotect): the user flash is erased whatever its protection, and
   * the options go back to their factory values, in force from the next reset.
   */
  regressToLevel0(): FlashBusy {
    if (this.level2Latched) throw new OptionBytesFrozenError('RDP regression');
    const erase = this.eraseFlash();
    this.programmed = { ...FACTORY_OPTIONS };
    return { durationMs: erase + this.programMs };
  }

  /** The readout protection in force: 0xAA → 0, 0xCC → 2, anything else → 1. */
  rdpLevel(): RdpLevel {
    return levelOf(rdpOf(this.current.optsr));
  }

  /** The readout protection that will be in force after the next reset. */
  programmedRdpLevel(): RdpLevel {
    return levelOf(rdpOf(this.programmed.optsr));
  }

  /**
   * True once RDP level 2 has been in force: the chip never boots from system memory again and
   * the debug port stays closed (RM0399 §4.5.3; AN2606 §4.1). Survives everything.
   */
  get systemMemoryBootDisabled(): boolean {
    return this.level2Latched;
  }

  /** BOOT_CM7_ADD0: the MSB half of the CM7 boot address when BOOT = 0 (factory 0x0800). */
  bootCm7Add0(): number {
    return this.current.boot7 & 0xffff;
  }

  /** BOOT_CM7_ADD1: the MSB half of the CM7 boot address when BOOT = 1 (factory 0x1FF0). */
  bootCm7Add1(): number {
    return this.current.boot7 >>> 16;
  }

  /** BOOT_CM4_ADD0: the MSB half of the CM4 boot address when BOOT = 0 (factory 0x0810). */
  bootCm4Add0(): number {
    return this.current.boot4 & 0xffff;
  }

  /** BOOT_CM4_ADD1: the MSB half of the CM4 boot address when BOOT = 1 (factory 0x1000). */
  bootCm4Add1(): number {
    return this.current.boot4 >>> 16;
  }

  /** BCM7: the Cortex-M7 starts at reset. */
  bcm7(): boolean {
    return (this.current.optsr & Optsr.BCM7) !== 0;
  }

  /** BCM4: the Cortex-M4 starts at reset. */
  bcm4(): boolean {
    return (this.current.optsr & Optsr.BCM4) !== 0;
  }

  /** IWDG1_SW: 1 = the watchdog is started by software, 0 = it runs from reset. */
  iwdg1Software(): boolean {
    return (this.current.optsr & Optsr.IWDG1_SW) !== 0;
  }

  /** SWAP_BANK_OPT: the banks are swapped in the memory map. */
  swapBank(): boolean {
    return (this.current.optsr & Optsr.SWAP_BANK_OPT) !== 0;
  }

  /** Sectors of `bank` that the WPSN value in force protects (bit = 0 → protected). */
  writeProtectedSectors(bank: BankNumber): number[] {
    const wpsn = bank === 1 ? this.current.wpsn1 : this.current.wpsn2;
    const found: number[] = [];
    for (let s = 0; s < 8; s++) if ((wpsn & (1 << s)) === 0) found.push(s);
    return found;
  }

  /** True when `sector` of `bank` is write-protected now (for {@link SimFlash}). */
  isSectorWriteProtected(bank: BankNumber, sector: number): boolean {
    const wpsn = bank === 1 ? this.current.wpsn1 : this.current.wpsn2;
    return (wpsn & (1 << sector)) === 0;
  }

  private eraseFlash(): number {
    return this.flash?.eraseEverything().durationMs ?? 0;
  }

  private latchLevel2(): void {
    if (rdpOf(this.current.optsr) === RdpByte.Level2) this.level2Latched = true;
  }
}

function rdpOf(optsr: number): number {
  return (optsr & Optsr.RDP_MASK) >>> Optsr.RDP_SHIFT;
}

function levelOf(rdp: number): RdpLevel {
  if (rdp === RdpByte.Level0) return 0;
  if (rdp === RdpByte.Level2) return 2;
  return 1;
}
