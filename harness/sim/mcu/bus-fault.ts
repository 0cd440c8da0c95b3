import { DfuHilError, hex32 } from '../../errors.js';

/** An access the simulated chip would answer with a bus error (unmapped, misaligned, or protected). */
export class BusFaultError extends DfuHilError {
  constructor(readonly address: number, problem: string, hint?: string) {
    super('sim-bus-fault', `bus fault at ${hex32(address)}: ${problem}`, {
      hint: hint ?? 'Only RAM, GPIO, RCC_RSR and user flash are modelled; use word-aligned addresses for registers.',
    });
  }
}
