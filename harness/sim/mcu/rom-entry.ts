// Whether the state code leaves when it jumps into the ROM lets a real ROM enumerate: AN2606
// §4.1's list (peripheral clocks off, PLLs off, interrupts disabled and none pending, SysTick
// stopped), the ROM's own table for the stack and entry, and what the bootloader profile says
// the ROM does about each (harness/sim/bootloader/profiles.ts, "Entered from running code").
import { hex32 } from '../../errors.js';
import type { RomEntryBehaviour, RomEntryOutcome } from '../bootloader/profiles.js';

/** The state the ROM inherits, as read off the chip at the first fetch from system memory. */
export interface RomHandOverState {
  pc: number;
  msp: number;
  primask: boolean;
  /** NVIC lines enabled and pending. */
  pendingIrqs: readonly number[];
  sysTickInterrupting: boolean;
  /** Enable registers (RCC_C1_xxxENR) that are not at their reset value. */
  clocksOn: ReadonlyArray<{ register: string; value: number }>;
  pllOn: boolean;
  /** RCC_CFGR.SWS: 0 is the HSI. */
  systemClockSource: number;
  cachesOn: boolean;
}

/** One thing the ROM would trip over. */
export interface RomEntryProblem {
  check: keyof RomEntryBehaviour['outcomes'];
  outcome: RomEntryOutcome;
  description: string;
}

/** Every deviation from a clean hand-over, with the profile's outcome for it. */
export function checkRomHandOver(state: RomHandOverState, rom: RomEntryBehaviour): RomEntryProblem[] {
  const problems: RomEntryProblem[] = [];
  const add = (check: RomEntryProblem['check'], description: string): void => {
    problems.push({ check, outcome: rom.outcomes[check], description });
  };
  if ((state.pc & ~1) !== (rom.vector.entry & ~1)) {
    add('notAtEntry', `the core entered system memory at ${hex32(state.pc)}, not at the ROM's entry ${hex32(rom.vector.entry & ~1)} (read from 0x1FF09804)`);
  }
  if (state.msp !== rom.vector.stackPointer) {
    add('stackNotFromVector', `MSP is ${hex32(state.msp)}, not the ROM's initial stack ${hex32(rom.vector.stackPointer)} from 0x1FF09800: the jump did not load it`);
  }
  if (state.primask) add('interruptsMasked', 'interrupts are masked (PRIMASK = 1): AN2606 §4.1 says the ROM does not re-enable them on parts with USB, so its USB stack never runs');
  if (state.pendingIrqs.length > 0) {
    add('interruptPending', `interrupt${state.pendingIrqs.length > 1 ? 's' : ''} ${state.pendingIrqs.join(', ')} ${state.pendingIrqs.length > 1 ? 'are' : 'is'} enabled and pending in the NVIC (AN2606 §4.1: disable interrupts and clear pending ones)`);
  }
  if (state.sysTickInterrupting) add('sysTickRunning', 'SysTick is counting with its interrupt enabled (AN2606 §4.1; ST\'s H7 sequence stops it with SysTick->CTRL = 0)');
  if (state.clocksOn.length > 0) {
    add('peripheralClocksOn', `peripheral clocks are still enabled (${state.clocksOn.map((c) => `${c.register}=${hex32(c.value)}`).join(', ')}); AN2606 §4.1: disable all peripheral clocks`);
  }
  if (state.pllOn || state.systemClockSource !== 0) {
    add('pllOn', `${state.pllOn ? 'a PLL is on' : 'the system clock is not the HSI'} (AN2606 §4.1: disable the PLLs in use; the ROM runs from the 64 MHz HSI)`);
  }
  if (state.cachesOn) add('cachesOn', 'the Cortex-M7 caches are on');
  return problems;
}

/** The problems that stop the ROM from enumerating. */
export function blockingProblems(problems: readonly RomEntryProblem[]): RomEntryProblem[] {
  return problems.filter((p) => p.outcome === 'no-enumeration');
}
