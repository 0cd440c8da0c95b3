import type { BankNumber } from '../contracts.js';

/** Bytes in one 256-bit flash word, the H7's programming unit (RM0399 §4.3; FLASH_NB_32BITWORD_IN_FLASHWORD = 8). */
export const FLASH_WORD_BYTES = 32;

/**
 * What a flash word has been through since its sector was last erased, one byte per word so
 * that 2 MiB of flash costs 64 KiB of bookkeeping rather than an object per word.
 */
export const WordState = {
  /** Erased and never programmed: reads all 1s without an ECC error. */
  Virgin: 0,
  /** Programmed once as a whole word. */
  Programmed: 1,
  /** Programmed with only part of its bytes (FW): the rest read 0xFF, but the word is no longer virgin. */
  ForceWritten: 2,
  /** Programmed again without an erase (or cut short): RM0399 "inconsistent ECC code that will be systematically reported". */
  EccError: 3,
} as const;
export type WordState = (typeof WordState)[keyof typeof WordState];

/**
 * One bank of user flash: its bytes and the state of each flash word. The bank knows offsets
 * only; {@link SimFlash} maps addresses and applies write protection.
 */
export class FlashBank {
  readonly wordCount: number;

  constructor(
    readonly bank: BankNumber,
    readonly base: number,
    readonly sectorSize: number,
    readonly sectorCount: number,
    /** The bank's bytes (a view into the chip's flash array). */
    private readonly bytes: Uint8Array,
    /** One {@link WordState} per flash word (a view into the chip's state array). */
    private readonly words: Uint8Array,
  ) {
    this.wordCount = bytes.length / FLASH_WORD_BYTES;
  }

  /** Bytes in the bank. */
  get size(): number {
    return this.bytes.length;
  }

  /** The sector holding bank offset `offset`. */
  sectorAt(offset: number): number {
    return Math.floor(offset / this.sectorSize);
  }

  /** Copies `length` bytes from bank offset `offset`. */
  read(offset: number, length: number): Uint8Array {
    return this.bytes.slice(offset, offset + length);
  }

  /** The state of the flash word at word index `index`. */
  wordState(index: number): WordState {
    return this.words[index] as WordState;
  }

  /**
   * Programs one flash word from `word` (32 bytes; bytes the caller does not cover are 0xFF).
   * Flash cells only go from 1 to 0, so new bits are ANDed in. A word that was not virgin
   * ends up with a sticky ECC error; a word covered only in part is force-written.
   */
  programWord(index: number, word: Uint8Array, wholeWord: boolean): void {
    const at = index * FLASH_WORD_BYTES;
    for (let i = 0; i < FLASH_WORD_BYTES; i++) this.bytes[at + i]! &= word[i]!;
    if (this.words[index] === WordState.Virgin) {
      this.words[index] = wholeWord ? WordState.Programmed : WordState.ForceWritten;
    } else {
      this.words[index] = WordState.EccError;
    }
  }

  /**
   * Programs only the first `count` bytes of one flash word and stops, as when power fails
   * mid-word: the word's ECC no longer matches its bits.
   */
  programWordCut(index: number, word: Uint8Array, count: number): void {
    const at = index * FLASH_WORD_BYTES;
    for (let i = 0; i < count; i++) this.bytes[at + i]! &= word[i]!;
    this.words[index] = WordState.EccError;
  }

  /** Erases a sector: all bytes 0xFF, every word virgin, ECC errors gone. */
  eraseSector(sector: number): void {
    this.eraseRange(sector * this.sectorSize, this.sectorSize);
  }

  /** Erases the whole bank. */
  eraseAll(): void {
    this.eraseRange(0, this.bytes.length);
  }

  /** Erases `length` bytes from `offset` (word aligned); also used for an erase cut short by power loss. */
  eraseRange(offset: number, length: number): void {
    this.bytes.fill(0xff, offset, offset + length);
    this.words.fill(WordState.Virgin, offset / FLASH_WORD_BYTES, (offset + length) / FLASH_WORD_BYTES);
  }
}
