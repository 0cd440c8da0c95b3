// SysTick (ARMv7-M ARM B3.3): a 24-bit down-counter on the core clock (CLKSOURCE = 1) or on the
// STM32H7's external reference, the core clock divided by 8 (RM0399 §8: "SysTick clock = c_ck/8").
// Its value is computed from the core's time, so a firmware polling COUNTFLAG sleeps to the
// exact wrap instead of spinning.
import type { TimedDevice } from '../../cpu/core-runner.js';
import { Exception } from '../../cpu/exception-model.js';
import { BasePeripheral } from '../mmio-peripheral.js';

/** SysTick's registers in the System Control Space. */
export const SYSTICK_BASE = 0xe000e010;
/** Offsets: CSR, RVR, CVR, CALIB. */
export const SysTickRegister = { CSR: 0x0, RVR: 0x4, CVR: 0x8, CALIB: 0xc } as const;
const CSR = { ENABLE: 1 << 0, TICKINT: 1 << 1, CLKSOURCE: 1 << 2, COUNTFLAG: 1 << 16 } as const;
/** CALIB: NOREF = 0 (the reference clock exists), SKEW = 1, TENMS = 0 (not given); unconfirmed for the H745. */
const CALIB = 0x40000000;

/** What SysTick needs from the chip. */
export interface SysTickWiring {
  now(): number;
  coreHz(): number;
  /** Makes the SysTick exception pending. */
  pend(exception: number): void;
}

/**
 * SysTick. While enabled, the counter's state is a function of time since the last write:
 * it reaches 0 first after `start` ticks, then every RVR+1 ticks; each time COUNTFLAG is set and,
 * with TICKINT, the SysTick exception is pended.
 */
export class SysTickPeripheral extends BasePeripheral implements TimedDevice {
  private csr = 0;
  private rvr = 0;
  private cvr = 0;
  /** When counting started (ms) and from which value. */
  private anchorMs = 0;
  private anchorValue = 0;
  /** Zero-reaches already accounted for: by a CSR read (COUNTFLAG) and by the interrupt. */
  private flagSeenZeros = 0;
  private pendedZeros = 0;
  private flag = false;

  constructor(private readonly wiring: SysTickWiring) {
    super('SysTick', SYSTICK_BASE, 0x10);
  }

  read32(offset: number): number {
    const t = this.wiring.now();
    switch (offset & ~3) {
      case SysTickRegister.CSR: {
        const value = this.peekCsr(t);
        this.flag = false;
        this.flagSeenZeros = this.zerosBy(t);
        return value;
      }
      case SysTickRegister.RVR: return this.rvr;
      case SysTickRegister.CVR: return this.valueAt(t);
      case SysTickRegister.CALIB: return CALIB;
      default: return this.unimplemented(offset, false);
    }
  }

  override peek32(offset: number): number {
    const t = this.wiring.now();
    if ((offset & ~3) === SysTickRegister.CSR) return this.peekCsr(t);
    return (offset & ~3) === SysTickRegister.CVR ? this.valueAt(t) : this.read32(offset);
  }

  write32(offset: number, value: number): void {
    const t = this.wiring.now();
    const v = value >>> 0;
    switch (offset & ~3) {
      case SysTickRegister.CSR: {
        // Counting carries on from the value it has now, whatever changed.
        this.latchFlag(t);
        this.cvr = this.valueAt(t);
        this.csr = v & (CSR.ENABLE | CSR.TICKINT | CSR.CLKSOURCE);
        this.restart(t, this.cvr);
        return;
      }
      case SysTickRegister.RVR:
        this.latchFlag(t);
        this.cvr = this.valueAt(t);
        this.rvr = v & 0xffffff;
        this.restart(t, this.cvr);
        return;
      case SysTickRegister.CVR:
        // Any write clears the counter and COUNTFLAG (B3.3.4).
        this.flag = false;
        this.cvr = 0;
        this.restart(t, 0);
        return;
      case SysTickRegister.CALIB: return;
      default: this.unimplemented(offset, true);
    }
  }

  reset(): void {
    this.csr = this.rvr = this.cvr = 0;
    this.anchorMs = 0;
    this.anchorValue = 0;
    this.flag = false;
    this.flagSeenZeros = 0;
    this.pendedZeros = 0;
  }

  /** True while the counter runs with its interrupt enabled. */
  get interrupting(): boolean {
    return (this.csr & (CSR.ENABLE | CSR.TICKINT)) === (CSR.ENABLE | CSR.TICKINT);
  }

  /** True while the counter runs. */
  get enabled(): boolean {
    return (this.csr & CSR.ENABLE) !== 0;
  }

  nextEventAfter(t: number): number | undefined {
    if (!this.enabled) return undefined;
    const z = this.zerosBy(t);
    const tick = this.zeroTick(z);
    if (tick === undefined) return undefined;
    return this.anchorMs + (tick * 1000) / this.tickHz();
  }

  advanceTo(t: number): void {
    if (!this.interrupting) return;
    const zeros = this.zerosBy(t);
    if (zeros > this.pendedZeros) {
      this.pendedZeros = zeros;
      this.wiring.pend(Exception.SysTick);
    }
  }

  private peekCsr(t: number): number {
    const flag = this.flag || this.zerosBy(t) > this.flagSeenZeros;
    return (this.csr | (flag ? CSR.COUNTFLAG : 0)) >>> 0;
  }

  private latchFlag(t: number): void {
    if (this.zerosBy(t) > this.flagSeenZeros) this.flag = true;
  }

  private restart(t: number, value: number): void {
    this.anchorMs = t;
    this.anchorValue = value;
    this.flagSeenZeros = 0;
    this.pendedZeros = 0;
  }

  private tickHz(): number {
    const core = this.wiring.coreHz();
    return (this.csr & CSR.CLKSOURCE) !== 0 ? core : core / 8;
  }

  private ticksBy(t: number): number {
    if (!this.enabled) return 0;
    return Math.max(0, Math.floor(((t - this.anchorMs) * this.tickHz()) / 1000 + 1e-9));
  }

  /** The tick (from the anchor) at which the counter reaches 0 for the (k+1)-th time; undefined if it never does. */
  private zeroTick(k: number): number | undefined {
    const period = this.rvr + 1;
    if (this.rvr === 0) return undefined;
    const first = this.anchorValue > 0 ? this.anchorValue : period;
    return first + k * period;
  }

  /** How many times the counter has reached 0 by `t` since the anchor. */
  private zerosBy(t: number): number {
    const first = this.zeroTick(0);
    if (first === undefined) return 0;
    const ticks = this.ticksBy(t);
    return ticks < first ? 0 : 1 + Math.floor((ticks - first) / (this.rvr + 1));
  }

  private valueAt(t: number): number {
    if (!this.enabled) return this.cvr;
    const ticks = this.ticksBy(t);
    if (ticks <= this.anchorValue) return this.anchorValue - ticks;
    if (this.rvr === 0) return 0;
    // After reaching 0 the counter reloads RVR on the next tick and counts down again.
    const since = (ticks - this.anchorValue - 1) % (this.rvr + 1);
    return this.rvr - since;
  }
}
