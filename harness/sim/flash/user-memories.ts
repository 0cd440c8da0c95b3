import { SimOptionBytes, type SimOptionBytesOptions } from '../option-bytes/sim-option-bytes.js';
import type { FlashTiming } from './flash-timing.js';
import { SimFlash } from './sim-flash.js';

/** Options for {@link createUserMemories}. */
export interface UserMemoriesOptions {
  timing?: Partial<FlashTiming>;
  optionBytes?: Omit<SimOptionBytesOptions, 'flash'>;
}

/**
 * Builds a chip's flash and option bytes wired to each other: the flash takes its write
 * protection from the option bytes, and RDP regression erases the flash.
 */
export function createUserMemories(options: UserMemoriesOptions = {}): { flash: SimFlash; optionBytes: SimOptionBytes } {
  const flash = new SimFlash({ ...(options.timing ? { timing: options.timing } : {}) });
  const optionBytes = new SimOptionBytes({
    programMs: flash.timing.optionBytesProgramMs,
    ...options.optionBytes,
    flash,
  });
  flash.useWriteProtection(optionBytes);
  return { flash, optionBytes };
}
