import { DfuHilError, hex32 } from '../../errors.js';

/** An access the simulated chip would answer with a bus error (unmapped, misaligned, or protected). */
export class BusFaultError extends DfuHilError {
  constructor(readonly address: number, problem: string, hint?: string) {
    super('sim-bus-fault', `bus fault at ${hex32(address)}: ${problem}`, {
      hint: hint ?? 'Check the address against the STM32H745 memory map (RM0399 Table 7); registers take word-aligned 32-bit accesses.',
    });
  }
}
