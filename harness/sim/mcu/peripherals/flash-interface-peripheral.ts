// The embedded flash interface's registers (RM0399 §4.9; CMSIS FLASH_TypeDef, FLASH_CR_*,
// FLASH_SR_*, FLASH_OPTCR_*; keys in docs/stm32h7-facts.md §4): access control, the unlock key
// sequences of both banks and of the option bytes, and the option status and boot registers
// read from the option bytes in force. Programming and erasing through these registers is not
// modelled: the flash changes through the bootloader, the probe, or a factory load.
import type { ResetCause } from '../../contracts.js';
import { OPTION_BLOCK_BASE, OPTION_BLOCK_SIZE } from '../../option-bytes/option-register-map.js';
import { BasePeripheral } from '../mmio-peripheral.js';

/** FLASH_R_BASE. */
export const FLASH_INTERFACE_BASE = 0x52002000;
/** The unlock keys (RM0399 §4.5.1). */
export const FlashKey = { KEY1: 0x45670123, KEY2: 0xcdef89ab, OPTKEY1: 0x08192a3b, OPTKEY2: 0x4c5d6e7f } as const;

const ACR = 0x00;
const OPTCR = 0x18;
const ECC_FA1 = 0x60;
/** Per bank: KEYR, CR, SR, CCR; bank 2 is 0x100 further. */
const BANK = { KEYR: 0x04, CR: 0x0c, SR: 0x10, CCR: 0x14 } as const;
const CR_LOCK = 1 << 0;
const OPTCR_OPTLOCK = 1 << 0;
/** SR bits software clears through CCR: EOP, the error flags and CRCEND (CMSIS FLASH_CCR_CLR_*, bits 16-19 and 21-27). */
const SR_CLEARABLE = 0x0fef0000;
/** ACR after reset: LATENCY 7 wait states, WRHIGHFREQ 3 (RM0399 FLASH_ACR reset value). */
const ACR_RESET = 0x37;
/** CRx after reset: locked, PSIZE = 0b11 (x64). */
const CR_RESET = 0x31;

/** What the interface reads the option registers from. */
export interface OptionRegisterSource {
  readBlock(): Uint8Array;
}

/** What a wrong unlock sequence does: a bus error the core takes as a fault (RM0399 §4.5.1). */
export type BusErrorReporter = (address: number, reason: string) => void;

/** FLASH interface registers of both banks. */
export class FlashInterfacePeripheral extends BasePeripheral {
  private acr = ACR_RESET;
  private readonly cr = [CR_RESET, CR_RESET];
  private readonly sr = [0, 0];
  private readonly keyStep = [0, 0];
  /** A bank whose unlock went wrong stays locked until the next reset. */
  private readonly keyFailed = [false, false];
  private optcr = OPTCR_OPTLOCK;
  private optKeyStep = 0;
  private optKeyFailed = false;
  private readonly eccAddress = [0, 0];

  constructor(private readonly options: OptionRegisterSource, private readonly busError: BusErrorReporter) {
    super('FLASH', FLASH_INTERFACE_BASE, 0x2000);
  }

  /** True while bank `bank`'s control register is locked. */
  isLocked(bank: 1 | 2): boolean {
    return (this.cr[bank - 1]! & CR_LOCK) !== 0;
  }

  /** Records an ECC error found in `bank` at flash-word index `word` (SNECCERR, ECC_FAx), as a read of that word reports it. */
  reportEccError(bank: 1 | 2, word: number): void {
    this.sr[bank - 1]! |= 1 << 25;
    this.eccAddress[bank - 1] = word & 0x7fff;
  }

  read32(offset: number): number {
    const o = offset & ~3;
    if (o === ACR || o === ACR + 0x100) return this.acr;
    if (o === OPTCR || o === OPTCR + 0x100) return this.optcr;
    const optionOffset = FLASH_INTERFACE_BASE + o - OPTION_BLOCK_BASE;
    if (optionOffset >= 0 && optionOffset < OPTION_BLOCK_SIZE && o < 0x60) {
      return new DataView(this.options.readBlock().buffer).getUint32(optionOffset, true);
    }
    if (o === ECC_FA1 || o === ECC_FA1 + 0x100) return this.eccAddress[o === ECC_FA1 ? 0 : 1]!;
    const bank = this.bankRegister(o);
    if (bank) {
      switch (bank.register) {
        case BANK.KEYR: return 0;
        case BANK.CR: return this.cr[bank.index]!;
        case BANK.SR: return this.sr[bank.index]!;
        case BANK.CCR: return 0;
      }
    }
    return this.unimplemented(o, false);
  }

  write32(offset: number, value: number): void {
    const o = offset & ~3;
    const v = value >>> 0;
    if (o === ACR || o === ACR + 0x100) { this.acr = v & 0x3f; return; }
    if (o === 0x08 || o === 0x108) { this.optionKey(v); return; }
    if (o === OPTCR || o === OPTCR + 0x100) {
      // Only the lock can be set while locked; the rest waits for OPTKEY1/OPTKEY2.
      if ((this.optcr & OPTCR_OPTLOCK) !== 0) this.optcr |= v & OPTCR_OPTLOCK;
      else this.optcr = (v & ~0x2) >>> 0;
      return;
    }
    const bank = this.bankRegister(o);
    if (bank) {
      const i = bank.index;
      switch (bank.register) {
        case BANK.KEYR: this.bankKey(i, v); return;
        case BANK.CR:
          if ((this.cr[i]! & CR_LOCK) !== 0) return;
          this.cr[i] = v;
          return;
        case BANK.SR: return;
        case BANK.CCR: this.sr[i] = (this.sr[i]! & ~(v & SR_CLEARABLE)) >>> 0; return;
      }
    }
    // The option registers' *_PRG words would be programmed on OPTSTART; not modelled.
    this.unimplemented(o, true);
  }

  reset(_cause: ResetCause): void {
    this.acr = ACR_RESET;
    this.cr[0] = this.cr[1] = CR_RESET;
    this.sr[0] = this.sr[1] = 0;
    this.keyStep[0] = this.keyStep[1] = 0;
    this.keyFailed[0] = this.keyFailed[1] = false;
    this.optcr = OPTCR_OPTLOCK;
    this.optKeyStep = 0;
    this.optKeyFailed = false;
    this.eccAddress[0] = this.eccAddress[1] = 0;
  }

  private bankKey(i: number, v: number): void {
    if (this.keyFailed[i] || (this.cr[i]! & CR_LOCK) === 0) {
      this.fail(FLASH_INTERFACE_BASE + BANK.KEYR + 0x100 * i, `a key written to FLASH_KEYR${i + 1} ${this.keyFailed[i] ? 'after a wrong sequence' : 'while it is unlocked'}`);
      this.keyFailed[i] = true;
      return;
    }
    if (this.keyStep[i] === 0 && v === FlashKey.KEY1) { this.keyStep[i] = 1; return; }
    if (this.keyStep[i] === 1 && v === FlashKey.KEY2) {
      this.keyStep[i] = 0;
      this.cr[i] = this.cr[i]! & ~CR_LOCK;
      return;
    }
    this.keyFailed[i] = true;
    this.fail(FLASH_INTERFACE_BASE + BANK.KEYR + 0x100 * i, `a wrong unlock sequence on FLASH_KEYR${i + 1} (0x${v.toString(16).padStart(8, '0')}); the bank stays locked until reset`);
  }

  private optionKey(v: number): void {
    if (this.optKeyFailed) return;
    if (this.optKeyStep === 0 && v === FlashKey.OPTKEY1) { this.optKeyStep = 1; return; }
    if (this.optKeyStep === 1 && v === FlashKey.OPTKEY2) {
      this.optKeyStep = 0;
      this.optcr &= ~OPTCR_OPTLOCK;
      return;
    }
    this.optKeyFailed = true;
    this.fail(FLASH_INTERFACE_BASE + 0x08, 'a wrong unlock sequence on FLASH_OPTKEYR; the option bytes stay locked until reset');
  }

  private fail(address: number, reason: string): void {
    this.busError(address, reason);
  }

  private bankRegister(o: number): { index: number; register: number } | undefined {
    for (const index of [0, 1]) {
      const r = o - 0x100 * index;
      if (r === BANK.KEYR || r === BANK.CR || r === BANK.SR || r === BANK.CCR) return { index, register: r };
    }
    return undefined;
  }
}
