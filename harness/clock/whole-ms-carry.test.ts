import { describe, expect, it } from 'vitest';
import { WholeMsCarry } from './whole-ms-carry.js';

describe('WholeMsCarry', () => {
  it('waits nothing until a whole millisecond has built up, then carries the rest', () => {
    const carry = new WholeMsCarry();
    expect(carry.take(0.4)).toBe(0);
    expect(carry.take(0.4)).toBe(0);
    expect(carry.take(0.4)).toBe(1);
    expect(carry.pending).toBeCloseTo(0.2, 9);
  });

  it('keeps the running total within 1 ms of the exact sum over many calls', () => {
    const carry = new WholeMsCarry();
    let waited = 0;
    for (let i = 0; i < 1024; i++) waited += carry.take(4.16);
    expect(waited).toBe(Math.floor(1024 * 4.16 + 1e-6));
    expect(1024 * 4.16 - waited).toBeLessThan(1);
  });

  it('ignores zero, negative and NaN durations', () => {
    const carry = new WholeMsCarry();
    expect(carry.take(0)).toBe(0);
    expect(carry.take(-3)).toBe(0);
    expect(carry.take(Number.NaN)).toBe(0);
    expect(carry.pending).toBe(0);
  });

  it('returns whole durations unchanged', () => {
    const carry = new WholeMsCarry();
    expect(carry.take(1100)).toBe(1100);
    expect(carry.pending).toBe(0);
  });
});
