// How long the STM32H745 flash interface stays busy. Only the sector erase time is sourced;
// the others are settings whose defaults are marked unconfirmed so a rig can correct them.

/** Busy times of the simulated flash, in virtual milliseconds (or µs where named). */
export interface FlashTiming {
  /**
   * One 128 KiB sector at x32 parallelism. docs/stm32h7-facts.md §4: typically 1.1 s,
   * up to 2.2 s (an ST employee quoting the datasheet; confidence M).
   */
  sectorEraseMs: number;
  /** One whole bank (BER). Not found in the sources: unconfirmed default. */
  bankEraseMs: number;
  /** Both banks (MER). Not found in the sources: unconfirmed default. */
  massEraseMs: number;
  /** One 256-bit flash word. Not found in the sources (DS12923): unconfirmed default. */
  wordProgramUs: number;
  /** Erase + program of the option bytes (OPTSTART until OPT_BUSY clears). Not found: unconfirmed default. */
  optionBytesProgramMs: number;
}

/** The worst-case sector erase the same source gives (max 2.2 s at x32), for specs that want a slow chip. */
export const SECTOR_ERASE_MAX_MS = 2200;

/**
 * Defaults. Unconfirmed values are chosen so that a bank erase costs what its eight sectors
 * would (8 × 1.1 s) and a mass erase erases both banks in parallel; the word program time is
 * of the order the H7 family datasheets give at x32 (about 0.1 ms); treat all three as guesses.
 */
export const DEFAULT_FLASH_TIMING: Readonly<FlashTiming> = Object.freeze({
  sectorEraseMs: 1100,
  bankEraseMs: 8800, // unconfirmed
  massEraseMs: 8800, // unconfirmed
  wordProgramUs: 130, // unconfirmed
  optionBytesProgramMs: 100, // unconfirmed
});

/** Milliseconds, fractions included, for programming `words` flash words. */
export function programDurationMs(timing: FlashTiming, words: number): number {
  return (words * timing.wordProgramUs) / 1000;
}
