import type { BankNumber, FlashBusy, FlashChange, FlashMemory } from '../contracts.js';
import { FLASH_WORD_BYTES, FlashBank, WordState } from './flash-bank.js';
import { FlashAddressError, FlashSectorError } from './flash-errors.js';
import { WholeMsCarry } from '../../clock/whole-ms-carry.js';
import { DEFAULT_FLASH_TIMING, programDurationMs, type FlashTiming } from './flash-timing.js';

/** Where the flash learns which sectors are write-protected (the option bytes' WPSN, RM0399 §4.5.2). */
export interface WriteProtectionSource {
  /** True when programming and erasing `sector` of `bank` must leave it unchanged. */
  isSectorWriteProtected(bank: BankNumber, sector: number): boolean;
}

/** Options for {@link SimFlash}. */
export interface SimFlashOptions {
  timing?: Partial<FlashTiming>;
  /** Usually the chip's SimOptionBytes; without one nothing is write-protected. */
  writeProtection?: WriteProtectionSource;
}

const BASE = 0x0800_0000;
const BANK_SIZE = 0x10_0000;
const SECTOR_SIZE = 128 * 1024;
const SECTORS_PER_BANK = 8;

const noProtection: WriteProtectionSource = { isSectorWriteProtected: () => false };

/**
 * The STM32H745's 2 MiB of user flash: two banks of eight 128 KiB sectors, erased to 0xFF,
 * programmed in 256-bit flash words with the ECC behaviour RM0399 describes. Operations change
 * the bytes at once and return how long the flash would stay busy; they never wait.
 * State persists across resets and power cycles (it is flash), sticky ECC errors included.
 */
export class SimFlash implements FlashMemory {
  readonly base = BASE;
  readonly size = 2 * BANK_SIZE;
  readonly sectorSize = SECTOR_SIZE;
  readonly sectorsPerBank = SECTORS_PER_BANK;
  readonly timing: Readonly<FlashTiming>;
  private readonly bytes = new Uint8Array(2 * BANK_SIZE).fill(0xff);
  private readonly states = new Uint8Array((2 * BANK_SIZE) / FLASH_WORD_BYTES);
  private readonly banks: readonly [FlashBank, FlashBank];
  private protection: WriteProtectionSource;
  /** Program times are fractions of a ms (130 µs a word); the carry keeps them from rounding up per call. */
  private readonly programCarry = new WholeMsCarry();
  private readonly wordScratch = new Uint8Array(FLASH_WORD_BYTES);
  private readonly changeListeners = new Set<(change: FlashChange) => void>();

  constructor(options: SimFlashOptions = {}) {
    this.timing = Object.freeze({ ...DEFAULT_FLASH_TIMING, ...options.timing });
    this.protection = options.writeProtection ?? noProtection;
    const wordsPerBank = BANK_SIZE / FLASH_WORD_BYTES;
    const bank = (n: BankNumber): FlashBank => new FlashBank(n, BASE + (n - 1) * BANK_SIZE, SECTOR_SIZE, SECTORS_PER_BANK,
      this.bytes.subarray((n - 1) * BANK_SIZE, n * BANK_SIZE), this.states.subarray((n - 1) * wordsPerBank, n * wordsPerBank));
    this.banks = [bank(1), bank(2)];
  }

  /**
   * The flash array itself, for a core that maps it and executes from it. Read it, never write it:
   * changes go through program and erase, which {@link onChange} reports.
   */
  memoryView(): Uint8Array {
    return this.bytes;
  }

  /** Calls `listener` with every program and erase, and the range it touched. */
  onChange(listener: (change: FlashChange) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  /** Connects the write protection once the option bytes exist (they are built from this flash). */
  useWriteProtection(source: WriteProtectionSource): void {
    this.protection = source;
  }

  /** True when [address, address+length) is user flash. */
  contains(address: number, length: number): boolean {
    return Number.isInteger(address) && Number.isInteger(length) && length >= 0
      && address >= BASE && address + length <= BASE + this.size;
  }

  /** Copies bytes out of user flash. */
  read(address: number, length: number): Uint8Array {
    this.check(address, length, 'read');
    return this.bytes.slice(address - BASE, address - BASE + length);
  }

  /** The bank and sector holding `address`. */
  locate(address: number): { bank: BankNumber; sector: number } {
    this.check(address, 1, 'locate');
    const bank = this.bankAt(address);
    return { bank: bank.bank, sector: bank.sectorAt(address - bank.base) };
  }

  /** The first address of `sector` in `bank`. */
  sectorAddress(bank: BankNumber, sector: number): number {
    return this.bank(bank, sector).base + sector * SECTOR_SIZE;
  }

  /** Programs bytes word by word; see {@link FlashBank.programWord}. Write-protected sectors are left as they are. */
  program(address: number, data: Uint8Array): FlashBusy {
    return this.programUntilPowerLoss(address, data, data.length);
  }

  /** Programs the first `bytesBeforeLoss` bytes of `data`; the flash word being written when power went gets an ECC error. */
  programUntilPowerLoss(address: number, data: Uint8Array, bytesBeforeLoss: number): FlashBusy {
    this.check(address, data.length, 'program');
    const end = address + Math.max(0, Math.min(bytesBeforeLoss, data.length));
    const fullEnd = address + data.length;
    let words = 0;
    const word = this.wordScratch;
    for (let wordStart = address - ((address - BASE) % FLASH_WORD_BYTES); wordStart < end; wordStart += FLASH_WORD_BYTES) {
      const bank = this.bankAt(wordStart);
      const offset = wordStart - bank.base;
      if (this.protection.isSectorWriteProtected(bank.bank, bank.sectorAt(offset))) continue;
      word.fill(0xff);
      const from = Math.max(address, wordStart);
      const to = Math.min(end, wordStart + FLASH_WORD_BYTES);
      // A byte loop, not set(subarray()): no view object per flash word on the hot path.
      for (let a = from; a < to; a++) word[a - wordStart] = data[a - address]!;
      const index = offset / FLASH_WORD_BYTES;
      const cut = to < Math.min(fullEnd, wordStart + FLASH_WORD_BYTES);
      if (cut) {
        bank.programWordCut(index, word, to - wordStart);
      } else {
        bank.programWord(index, word, from === wordStart && to === wordStart + FLASH_WORD_BYTES);
      }
      words += 1;
    }
    this.changed('program', address, end - address);
    return { durationMs: this.programCarry.take(programDurationMs(this.timing, words)) };
  }

  /** Erases one sector unless it is write-protected (then nothing changes and no time passes). */
  eraseSector(bank: BankNumber, sector: number): FlashBusy {
    return this.eraseSectorUntilPowerLoss(bank, sector, 1);
  }

  /** Erases the first `fraction` (0..1) of a sector, as when power fails part-way; the rest keeps its bits. */
  eraseSectorUntilPowerLoss(bank: BankNumber, sector: number, fraction: number): FlashBusy {
    const b = this.bank(bank, sector);
    if (this.protection.isSectorWriteProtected(bank, sector)) return { durationMs: 0 };
    const share = Math.max(0, Math.min(1, fraction));
    const length = Math.floor((SECTOR_SIZE * share) / FLASH_WORD_BYTES) * FLASH_WORD_BYTES;
    b.eraseRange(sector * SECTOR_SIZE, length);
    this.changed('erase', b.base + sector * SECTOR_SIZE, length);
    return { durationMs: Math.round(this.timing.sectorEraseMs * share) };
  }

  /**
   * Erases a whole bank. A bank with any write-protected sector is left untouched (the flash
   * interface refuses the bank erase with WRPERR; RM0399 §4.3, confidence L).
   */
  eraseBank(bank: BankNumber): FlashBusy {
    const b = this.bank(bank, 0);
    if (this.protectedSectors(bank).length > 0) return { durationMs: 0 };
    b.eraseAll();
    this.changed('erase', b.base, b.size);
    return { durationMs: this.timing.bankEraseMs };
  }

  /** Erases both banks; each bank holding a write-protected sector is skipped, as for {@link eraseBank}. */
  massErase(): FlashBusy {
    let erased = false;
    for (const b of this.banks) {
      if (this.protectedSectors(b.bank).length > 0) continue;
      b.eraseAll();
      this.changed('erase', b.base, b.size);
      erased = true;
    }
    return { durationMs: erased ? this.timing.massEraseMs : 0 };
  }

  /** Erases everything whatever the protection, as RDP regression to level 0 does. */
  eraseEverything(): FlashBusy {
    for (const b of this.banks) b.eraseAll();
    this.changed('erase', BASE, this.size);
    return { durationMs: this.timing.massEraseMs };
  }

  /** True when the option bytes protect `sector` of `bank`. */
  isWriteProtected(bank: BankNumber, sector: number): boolean {
    this.bank(bank, sector);
    return this.protection.isSectorWriteProtected(bank, sector);
  }

  /** The state of the flash word holding `address`. */
  wordStateAt(address: number): WordState {
    this.check(address, 1, 'word state');
    const bank = this.bankAt(address);
    return bank.wordState(Math.floor((address - bank.base) / FLASH_WORD_BYTES));
  }

  /**
   * Start addresses of the flash words in [address, address+length) that carry an ECC error,
   * for the application model to report what it reads (SNECCERR/DBECCERR on the real chip).
   */
  eccErrorWords(address: number = BASE, length: number = this.size): number[] {
    this.check(address, length, 'ECC scan');
    const found: number[] = [];
    const first = Math.floor((address - BASE) / FLASH_WORD_BYTES);
    const last = Math.ceil((address + length - BASE) / FLASH_WORD_BYTES);
    for (let i = first; i < last; i++) {
      if (this.states[i] === WordState.EccError) found.push(BASE + i * FLASH_WORD_BYTES);
    }
    return found;
  }

  /** Bytes of host memory the model holds: the flash array and one state byte per flash word. */
  memoryFootprintBytes(): number {
    return this.bytes.byteLength + this.states.byteLength;
  }

  private changed(kind: FlashChange['kind'], address: number, length: number): void {
    if (length <= 0) return;
    for (const l of [...this.changeListeners]) l({ kind, address, length });
  }

  private protectedSectors(bank: BankNumber): number[] {
    const found: number[] = [];
    for (let s = 0; s < SECTORS_PER_BANK; s++) if (this.protection.isSectorWriteProtected(bank, s)) found.push(s);
    return found;
  }

  private bankAt(address: number): FlashBank {
    return this.banks[address - BASE < BANK_SIZE ? 0 : 1];
  }

  private bank(bank: BankNumber, sector: number): FlashBank {
    if ((bank !== 1 && bank !== 2) || !Number.isInteger(sector) || sector < 0 || sector >= SECTORS_PER_BANK) {
      throw new FlashSectorError(bank, sector);
    }
    return this.banks[bank - 1]!;
  }

  private check(address: number, length: number, what: string): void {
    if (!this.contains(address, length)) throw new FlashAddressError(address, length, what);
  }
}
