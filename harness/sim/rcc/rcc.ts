import type { ResetCause } from '../contracts.js';
import { RESET_FLAGS, RsrBit } from './reset-flags.js';

/** RCC base (CMSIS: D3_AHB1PERIPH_BASE + 0x4400). */
export const RCC_BASE = 0x58024400;
/** RCC_RSR, the common reset status register (offset 0xD0). */
export const RCC_RSR_ADDRESS = RCC_BASE + 0xd0;
/** RCC_C1_RSR, the CM7's view (RCC_C1_BASE = RCC_BASE + 0x130, RSR at +0). */
export const RCC_C1_RSR_ADDRESS = RCC_BASE + 0x130;
/** RCC_C2_RSR, the CM4's view (RCC_C2_BASE = RCC_BASE + 0x190). */
export const RCC_C2_RSR_ADDRESS = RCC_BASE + 0x190;

const FLAG_MASK = 0xfffe0000;

/**
 * The part of RCC the board needs: the reset status flags. The three RSR addresses share one
 * register here; whether RMVF in RCC_C1_RSR also clears RCC_C2_RSR's copy is not modelled
 * (confidence L, the harness only reads the CM7's view).
 */
export class Rcc {
  private rsr = RESET_FLAGS['power-on'];

  /** RCC_RSR now. */
  get resetStatus(): number {
    return this.rsr >>> 0;
  }

  /** Records a reset: flags accumulate until software writes RMVF; a power-on starts afresh. */
  recordReset(cause: ResetCause): void {
    this.rsr = cause === 'power-on' ? RESET_FLAGS['power-on'] : (this.rsr | RESET_FLAGS[cause]) >>> 0;
  }

  /** True when `address` is one of the modelled RCC registers. */
  contains(address: number): boolean {
    return address === RCC_RSR_ADDRESS || address === RCC_C1_RSR_ADDRESS || address === RCC_C2_RSR_ADDRESS;
  }

  /** Reads a modelled register. */
  read32(_address: number): number {
    return this.rsr >>> 0;
  }

  /** Writes a modelled register: the flags are read-only, RMVF=1 clears them all. */
  write32(_address: number, value: number): void {
    if (value & RsrBit.RMVF) this.rsr = 0;
    this.rsr &= FLAG_MASK;
  }
}
