import { describe, expect, it } from 'vitest';
import { GpioBank, parsePinName } from './gpio-bank.js';
import { GpioRegister, gpioResetValues } from './gpio-port.js';

describe('GpioPort and GpioBank', () => {
  it('start from the RM0399 §12.4 reset values, port A and B differing from the rest', () => {
    const bank = new GpioBank();
    const s = bank.snapshot();
    expect(s.A).toEqual({ MODER: 0xabffffff, OTYPER: 0, OSPEEDR: 0x0c000000, PUPDR: 0x64000000, ODR: 0, AFRL: 0, AFRH: 0 });
    expect(s.B).toEqual({ MODER: 0xfffffebf, OTYPER: 0, OSPEEDR: 0x000000c0, PUPDR: 0x00000100, ODR: 0, AFRL: 0, AFRH: 0 });
    for (const p of ['C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K'] as const) {
      expect(s[p]).toEqual({ MODER: 0xffffffff, OTYPER: 0, OSPEEDR: 0, PUPDR: 0, ODR: 0, AFRL: 0, AFRH: 0 });
    }
  });

  it('maps ports A..K from 0x58020000 in steps of 0x400 and rejects other addresses', () => {
    const bank = new GpioBank();
    expect(bank.read32(0x58020000)).toBe(0xabffffff);
    expect(bank.read32(0x58020400)).toBe(0xfffffebf);
    expect(bank.port('K').base).toBe(0x58022800);
    bank.write32(0x58022800 + GpioRegister.ODR, 0x1234);
    expect(bank.port('K').snapshot().ODR).toBe(0x1234);
    expect(() => bank.read32(0x58022c00)).toThrow(/bus fault at 0x58022C00/);
    expect(() => bank.read32(0x58020002)).toThrow(/word-aligned/);
  });

  it('applies BSRR with set winning over reset, and reads BSRR as 0', () => {
    const port = new GpioBank().port('B');
    port.write(GpioRegister.ODR, 0x00f0);
    port.write(GpioRegister.BSRR, (0x0030 << 16) | 0x0001);
    expect(port.read(GpioRegister.ODR)).toBe(0x00c1);
    port.write(GpioRegister.BSRR, (0x0001 << 16) | 0x0001);
    expect(port.read(GpioRegister.ODR)).toBe(0x00c1);
    expect(port.read(GpioRegister.BSRR)).toBe(0);
  });

  it('drives a pin as a push-pull output and reads it back on IDR', () => {
    const port = new GpioBank().port('B');
    port.driveOutput(0, 1);
    const r = port.snapshot();
    expect(r.MODER & 0x3).toBe(1);
    expect(r.ODR & 1).toBe(1);
    expect(r.OTYPER & 1).toBe(0);
    expect(port.read(GpioRegister.IDR) & 1).toBe(1);
    expect(port.isDriving(0, 1)).toBe(true);
    // PB4 (NJTRST) has its reset pull-up, so its input reads high; analog pins read 0.
    expect((port.read(GpioRegister.IDR) >> 4) & 1).toBe(1);
    expect((port.read(GpioRegister.IDR) >> 7) & 1).toBe(0);
  });

  it('sets an alternate function in AFRH and restores a pin to its reset values', () => {
    const port = new GpioBank().port('A');
    port.setAlternate(11, 10);
    port.setAlternate(12, 10);
    let r = port.snapshot();
    expect((r.MODER >>> 22) & 0xf).toBe(0b1010);
    expect(r.AFRH).toBe(0x000aa000);
    port.restorePin(11);
    port.restorePin(12);
    r = port.snapshot();
    expect(r).toEqual(gpioResetValues('A'));
  });

  it('honours the LCKR sequence: locked pins keep their configuration until reset', () => {
    const port = new GpioBank().port('C');
    const pins = 1 << 3;
    port.write(GpioRegister.LCKR, 0x10000 | pins);
    port.write(GpioRegister.LCKR, pins);
    port.write(GpioRegister.LCKR, 0x10000 | pins);
    expect(port.read(GpioRegister.LCKR)).toBe(0x10000 | pins);
    port.write(GpioRegister.MODER, 0);
    expect(port.read(GpioRegister.MODER)).toBe(0x000000c0);
    port.reset();
    expect(port.read(GpioRegister.LCKR)).toBe(0);
    port.write(GpioRegister.MODER, 0);
    expect(port.read(GpioRegister.MODER)).toBe(0);
  });

  it('parses pin names of the STM32H745 only', () => {
    expect(parsePinName('PB0')).toEqual({ port: 'B', pin: 0 });
    expect(parsePinName('pk15')).toEqual({ port: 'K', pin: 15 });
    expect(parsePinName('PL1')).toBeUndefined();
    expect(parsePinName('PA16')).toBeUndefined();
  });

  it('reports changes to listeners and resets every port', () => {
    const bank = new GpioBank();
    const seen: string[] = [];
    const off = bank.onChange((p) => seen.push(p.name));
    bank.port('E').driveOutput(1, 1);
    bank.reset();
    off();
    bank.port('E').driveOutput(1, 1);
    expect(seen.filter((n) => n === 'E').length).toBeGreaterThanOrEqual(2);
    expect(seen).toContain('K');
    bank.reset();
    expect(bank.snapshot().E.MODER).toBe(0xffffffff);
  });
});
