import type { Clock } from '../../clock/clock.js';
import type { Boot0Source } from './boot0-source.js';

/** Electrical values of the BOOT0 RC entry circuit. */
export interface Boot0RcSettings {
  /** Discharge resistor from BOOT0 to ground, in ohms. Default 100 kΩ. */
  r?: number;
  /** Capacitor from BOOT0 to ground, in farads. Default 1 µF. */
  c?: number;
  /** Supply the charge pin drives to, in volts. Default 3.3 V. */
  vdd?: number;
  /**
   * Voltage at or above which BOOT0 reads high at reset, in volts. Default 0.7·VDD: the
   * BOOT0 input threshold is not in our sources (unconfirmed); 0.7·VDD is the usual
   * CMOS V_IH bound, so a real window may be somewhat longer.
   */
  threshold?: number;
  /**
   * Series resistance of the charge path (pin output impedance plus any resistor), in ohms.
   * Default 100 Ω (assumed). While the pin drives, the capacitor charges towards
   * VDD·R/(R+Rs) with time constant C·(R∥Rs).
   */
  chargeResistance?: number;
}

/** The documented defaults of {@link Boot0RcSettings}. */
export const BOOT0_RC_DEFAULTS = Object.freeze({ r: 100e3, c: 1e-6, vdd: 3.3, chargeResistance: 100 });

/**
 * A capacitor on BOOT0, charged from an application pin and discharged through R. After the
 * pin stops driving (released by the app, or returned to its reset state by any reset),
 * V(t) = V0·e^(−t/RC). BOOT0 reads high at a reset while V ≥ threshold. A power-off drains
 * it, so a power-on never enters the bootloader this way.
 */
export class Boot0RcCircuit implements Boot0Source {
  readonly r: number;
  readonly c: number;
  readonly vdd: number;
  readonly threshold: number;
  readonly chargeResistance: number;
  private v0 = 0;
  private since: number;
  private driven = false;

  constructor(private readonly clock: Clock, settings: Boot0RcSettings = {}) {
    this.r = settings.r ?? BOOT0_RC_DEFAULTS.r;
    this.c = settings.c ?? BOOT0_RC_DEFAULTS.c;
    this.vdd = settings.vdd ?? BOOT0_RC_DEFAULTS.vdd;
    this.threshold = settings.threshold ?? 0.7 * this.vdd;
    this.chargeResistance = settings.chargeResistance ?? BOOT0_RC_DEFAULTS.chargeResistance;
    this.since = clock.now();
  }

  /** The voltage a long charge settles at: the divider between Rs and R. */
  get chargedVoltage(): number {
    return (this.vdd * this.r) / (this.r + this.chargeResistance);
  }

  /** Time constant of the charge, in ms. */
  get chargeTimeConstantMs(): number {
    return ((this.c * this.r * this.chargeResistance) / (this.r + this.chargeResistance)) * 1000;
  }

  /** Voltage on BOOT0 now, in volts. */
  voltage(): number {
    const t = (this.clock.now() - this.since) / 1000;
    if (this.driven) {
      const target = this.chargedVoltage;
      return target - (target - this.v0) * Math.exp(-t / (this.chargeTimeConstantMs / 1000));
    }
    return this.v0 * Math.exp(-t / (this.r * this.c));
  }

  /**
   * How long after release BOOT0 still reads high, in ms: R·C·ln(V0/Vth); 0 when V0 is
   * below the threshold. V0 defaults to the fully charged voltage.
   */
  windowMs(v0: number = this.chargedVoltage): number {
    if (v0 < this.threshold) return 0;
    return this.r * this.c * Math.log(v0 / this.threshold) * 1000;
  }

  levelAtReset(): 0 | 1 {
    // A reset returns the charge pin to its reset state (analog, undriven): decay starts now.
    this.setDriven(false);
    return this.voltage() >= this.threshold ? 1 : 0;
  }

  powerOff(): void {
    this.driven = false;
    this.v0 = 0;
    this.since = this.clock.now();
  }

  setDriven(driven: boolean): void {
    if (driven === this.driven) return;
    this.v0 = this.voltage();
    this.since = this.clock.now();
    this.driven = driven;
  }
}
