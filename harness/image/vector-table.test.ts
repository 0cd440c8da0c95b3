import { describe, expect, it } from 'vitest';
import { vectorTableProblem } from './vector-table.js';

describe('vectorTableProblem', () => {
  it('accepts a stack in each RAM and a Thumb reset vector in the same bank', () => {
    for (const msp of [0x20000000, 0x2001fffc, 0x24000000, 0x2407fffc, 0x30047ffc, 0x3800fffc]) {
      expect(vectorTableProblem(msp, 0x08000201, 0x08000000)).toBeUndefined();
    }
    expect(vectorTableProblem(0x20010000, 0x081fff01, 0x08100000)).toBeUndefined();
  });

  it('rejects erased flash, a stack past the end of DTCM, a misaligned stack, ARM state and the other bank', () => {
    expect(vectorTableProblem(0xffffffff, 0xffffffff, 0x08000000)).toMatch(/erased/);
    expect(vectorTableProblem(0x20020000, 0x08000201, 0x08000000)).toMatch(/does not point into RAM/);
    expect(vectorTableProblem(0x20010002, 0x08000201, 0x08000000)).toMatch(/not word-aligned/);
    expect(vectorTableProblem(0x20010000, 0x08000200, 0x08000000)).toMatch(/even/);
    expect(vectorTableProblem(0x20010000, 0x08100201, 0x08000000)).toMatch(/outside the flash bank/);
    expect(vectorTableProblem(0x20010000, 0x24000001, 0x24000000)).toMatch(/not in a flash bank/);
  });
});
