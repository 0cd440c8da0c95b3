// What the GPIO registers should read after leaving DFU: RM0399 §12.4 reset values (the host's
// own copy: the simulator keeps its own, so one cannot silently follow the other), adjusted
// by the rig's listed exceptions.
import { hex32 } from '../errors.js';
import { GPIO_PORTS, GPIO_REGISTERS, type GpioPortName, type GpioRegisterName, type GpioRegisters, type GpioSnapshot } from '../serial/console-protocol.js';
import type { RigConfig } from './config/load-rigs.js';

/** RM0399 §12.4 reset values; ports C..K share one set. */
export function gpioResetValues(port: GpioPortName): GpioRegisters {
  const zero = { OTYPER: 0, ODR: 0, AFRL: 0, AFRH: 0 };
  if (port === 'A') return { ...zero, MODER: 0xabffffff, OSPEEDR: 0x0c000000, PUPDR: 0x64000000 };
  if (port === 'B') return { ...zero, MODER: 0xfffffebf, OSPEEDR: 0x000000c0, PUPDR: 0x00000100 };
  return { ...zero, MODER: 0xffffffff, OSPEEDR: 0, PUPDR: 0 };
}

/** One register the expectation pins down, with the bits that matter. */
export interface GpioRegisterExpectation {
  port: GpioPortName;
  register: GpioRegisterName;
  value: number;
  /** Bits compared; the rest are don't-care. */
  mask: number;
  /** Why it differs from reset, when an exception made it so. */
  reason?: string;
}

/** A register that did not read as expected. */
export interface GpioMismatch {
  port: GpioPortName;
  register: GpioRegisterName;
  expected: number;
  actual: number | undefined;
  mask: number;
  reason?: string;
}

/** The full expectation for ports A..K: the baseline with the rig's exceptions folded in. */
export function gpioExpectationAfterLeave(config: RigConfig, baseline: GpioSnapshot = resetSnapshot()): GpioRegisterExpectation[] {
  const out: GpioRegisterExpectation[] = [];
  for (const port of GPIO_PORTS) {
    for (const register of GPIO_REGISTERS) {
      let value = baseline[port]?.[register] ?? 0;
      const reasons: string[] = [];
      for (const e of config.expect.gpioAfterLeave.exceptions) {
        if (e.port !== port || e.register !== register) continue;
        value = ((value & ~e.mask) | (e.value & e.mask)) >>> 0;
        reasons.push(e.reason);
      }
      out.push({ port, register, value, mask: 0xffffffff, ...(reasons.length ? { reason: reasons.join('; ') } : {}) });
    }
  }
  return out;
}

/** Reset values of every port, as a snapshot. */
export function resetSnapshot(): GpioSnapshot {
  return Object.fromEntries(GPIO_PORTS.map((p) => [p, gpioResetValues(p)])) as GpioSnapshot;
}

/** Compares `snapshot` with `expectation`; an empty list means it matches. */
export function compareGpio(snapshot: GpioSnapshot, expectation: readonly GpioRegisterExpectation[]): GpioMismatch[] {
  const mismatches: GpioMismatch[] = [];
  for (const e of expectation) {
    const actual = snapshot[e.port]?.[e.register];
    if (actual === undefined || ((actual ^ e.value) & e.mask) !== 0) {
      mismatches.push({ port: e.port, register: e.register, expected: e.value, actual, mask: e.mask, ...(e.reason ? { reason: e.reason } : {}) });
    }
  }
  return mismatches;
}

/** One line per mismatch, for assertion messages and reports. */
export function describeGpioMismatches(mismatches: readonly GpioMismatch[]): string {
  return mismatches.map((m) => `GPIO${m.port}_${m.register}: expected ${hex32(m.expected)}, read ${m.actual === undefined ? 'nothing' : hex32(m.actual)}${m.reason ? ` (${m.reason})` : ''}`).join('\n');
}
