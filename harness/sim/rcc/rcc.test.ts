import { describe, expect, it } from 'vitest';
import { Rcc, RCC_C1_RSR_ADDRESS, RCC_RSR_ADDRESS } from './rcc.js';
import { RESET_FLAGS, RsrBit, resetCauseFromRsr } from './reset-flags.js';

describe('Rcc reset status', () => {
  it('places RSR at 0x580244D0 and the CM7 view at 0x58024530', () => {
    expect(RCC_RSR_ADDRESS).toBe(0x580244d0);
    expect(RCC_C1_RSR_ADDRESS).toBe(0x58024530);
  });

  it('holds 0x00FE0000 after power-on and clears every flag on RMVF', () => {
    const rcc = new Rcc();
    expect(rcc.read32(RCC_RSR_ADDRESS)).toBe(0x00fe0000);
    rcc.write32(RCC_RSR_ADDRESS, 0x12345678 & ~RsrBit.RMVF);
    expect(rcc.resetStatus).toBe(0x00fe0000);
    rcc.write32(RCC_C1_RSR_ADDRESS, RsrBit.RMVF);
    expect(rcc.resetStatus).toBe(0);
  });

  it('sets the flags of each cause and accumulates them until cleared', () => {
    const rcc = new Rcc();
    rcc.write32(RCC_RSR_ADDRESS, RsrBit.RMVF);
    rcc.recordReset('software');
    expect(rcc.resetStatus).toBe(0x01460000);
    rcc.recordReset('watchdog');
    expect(rcc.resetStatus).toBe(0x05460000);
    rcc.write32(RCC_RSR_ADDRESS, RsrBit.RMVF);
    rcc.recordReset('pin');
    expect(rcc.resetStatus).toBe(0x00460000);
    rcc.recordReset('power-on');
    expect(rcc.resetStatus).toBe(0x00fe0000);
  });

  it('names the cause the way the console does, PINRSTF last', () => {
    expect(resetCauseFromRsr(RESET_FLAGS.software)).toBe('software');
    expect(resetCauseFromRsr(RESET_FLAGS.watchdog)).toBe('watchdog');
    expect(resetCauseFromRsr(RESET_FLAGS.pin)).toBe('pin');
    expect(resetCauseFromRsr(RESET_FLAGS['power-on'])).toBe('power-on');
    expect(resetCauseFromRsr(0)).toBe('none');
  });
});
