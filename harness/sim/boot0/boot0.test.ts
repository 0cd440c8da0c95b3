import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { Boot0RcCircuit } from './boot0-rc-circuit.js';
import { Boot0Jumper } from './boot0-source.js';

describe('Boot0Jumper', () => {
  it('reads its fixed level at every reset, whatever a pin does', () => {
    const j = new Boot0Jumper(1);
    j.setDriven(false);
    j.powerOff();
    expect(j.levelAtReset()).toBe(1);
    expect(new Boot0Jumper(0).levelAtReset()).toBe(0);
  });
});

describe('Boot0RcCircuit', () => {
  it('uses the documented defaults: 100 kΩ, 1 µF, 3.3 V, threshold 0.7·VDD', () => {
    const rc = new Boot0RcCircuit(new VirtualClock());
    expect([rc.r, rc.c, rc.vdd]).toEqual([100e3, 1e-6, 3.3]);
    expect(rc.threshold).toBeCloseTo(2.31, 10);
    expect(rc.windowMs(3.3)).toBeCloseTo(100 * Math.log(1 / 0.7), 9);
  });

  it('charges towards VDD·R/(R+Rs) while driven and decays as V0·e^(−t/RC) after release', async () => {
    const clock = new VirtualClock();
    const rc = new Boot0RcCircuit(clock);
    expect(rc.voltage()).toBe(0);
    rc.setDriven(true);
    await clock.sleep(10);
    expect(rc.voltage()).toBeCloseTo(rc.chargedVoltage, 6);
    const v0 = rc.voltage();
    rc.setDriven(false);
    await clock.sleep(100);
    expect(rc.voltage()).toBeCloseTo(v0 * Math.exp(-1), 9);
  });

  it('reads high at a reset only inside the window R·C·ln(V0/Vth) after release', async () => {
    const clock = new VirtualClock();
    const rc = new Boot0RcCircuit(clock);
    const window = rc.windowMs();
    expect(window).toBeCloseTo(100 * Math.log(rc.chargedVoltage / rc.threshold), 9);
    rc.setDriven(true);
    await clock.sleep(10);
    rc.setDriven(false);
    await clock.sleep(Math.floor(window));
    expect(rc.levelAtReset()).toBe(1);
    rc.setDriven(true);
    await clock.sleep(10);
    rc.setDriven(false);
    await clock.sleep(Math.ceil(window));
    expect(rc.levelAtReset()).toBe(0);
  });

  it('treats a reset as a release: the decay starts at the reset', async () => {
    const clock = new VirtualClock();
    const rc = new Boot0RcCircuit(clock, { r: 10e3, c: 1e-6 });
    rc.setDriven(true);
    await clock.sleep(5);
    expect(rc.levelAtReset()).toBe(1);
    await clock.sleep(Math.ceil(rc.windowMs()));
    expect(rc.levelAtReset()).toBe(0);
  });

  it('is drained by a power-off, so a power-on never sees BOOT0 high', async () => {
    const clock = new VirtualClock();
    const rc = new Boot0RcCircuit(clock);
    rc.setDriven(true);
    await clock.sleep(10);
    rc.powerOff();
    expect(rc.voltage()).toBe(0);
    expect(rc.levelAtReset()).toBe(0);
  });

  it('has no window when the charge cannot reach the threshold', () => {
    const rc = new Boot0RcCircuit(new VirtualClock(), { threshold: 3.4 });
    expect(rc.windowMs()).toBe(0);
  });
});
