import { describe, expect, it } from 'vitest';
import { VirtualClock } from './virtual-clock.js';
import { withDeadline } from './clock.js';

describe('VirtualClock', () => {
  it('jumps to pending timers without spending wall time', async () => {
    const clock = new VirtualClock();
    const wallStart = performance.now();
    await clock.sleep(3_600_000);
    expect(clock.now()).toBe(3_600_000);
    expect(performance.now() - wallStart).toBeLessThan(1_000);
  });

  it('fires timers in time order, whatever order they were set in', async () => {
    const clock = new VirtualClock();
    const seen: Array<[string, number]> = [];
    clock.setTimer(30, () => seen.push(['c', clock.now()]));
    clock.setTimer(10, () => seen.push(['a', clock.now()]));
    await clock.sleep(20);
    seen.push(['b', clock.now()]);
    await clock.sleep(15);
    expect(seen).toEqual([['a', 10], ['b', 20], ['c', 30]]);
  });

  it('lets a cancelled timer never fire', async () => {
    const clock = new VirtualClock();
    let fired = false;
    clock.setTimer(5, () => { fired = true; }).cancel();
    await clock.sleep(10);
    expect(fired).toBe(false);
  });

  it('gives identical timestamps on every run', async () => {
    const run = async (): Promise<number[]> => {
      const clock = new VirtualClock();
      const stamps: number[] = [];
      await Promise.all([1, 7, 3].map(async (n) => {
        for (let i = 0; i < 3; i++) { await clock.sleep(n); stamps.push(clock.now()); }
      }));
      return stamps;
    };
    expect(await run()).toEqual(await run());
  });

  it('expires a deadline in virtual time', async () => {
    const clock = new VirtualClock();
    const never = new Promise<void>(() => undefined);
    await expect(withDeadline(clock, 500, never, () => new Error('too slow'))).rejects.toThrow('too slow');
    expect(clock.now()).toBe(500);
  });

  it('holds time still while real work runs', async () => {
    const clock = new VirtualClock();
    let expired = false;
    clock.setTimer(1, () => { expired = true; });
    await clock.holdWhile(new Promise<void>((r) => setTimeout(r, 20)));
    expect(expired).toBe(false);
    await clock.sleep(1);
    expect(expired).toBe(true);
  });

  it('lets time run again while a held transfer is served by a device that needs time', async () => {
    // A host transfer holds the clock; the simulated device serving it needs 1 s of virtual time.
    const clock = new VirtualClock();
    let deadlineFired = false;
    clock.setTimer(5000, () => { deadlineFired = true; });
    let arrive!: () => void;
    const atDevice = new Promise<void>((r) => { arrive = r; });
    const transfer = clock.holdWhile(atDevice.then(() => clock.releaseWhile(clock.sleep(1000).then(() => 'answer'))));
    arrive();
    expect(await transfer).toBe('answer');
    expect(clock.now()).toBe(1000);
    expect(deadlineFired).toBe(false);
  });

  it('releasing with no hold taken changes nothing', async () => {
    const clock = new VirtualClock();
    expect(await clock.releaseWhile(clock.sleep(10).then(() => clock.now()))).toBe(10);
    await clock.holdWhile(new Promise<void>((r) => setTimeout(r, 5)));
    let fired = false;
    clock.setTimer(1, () => { fired = true; });
    await clock.sleep(2);
    expect(fired).toBe(true);
  });
});

describe('VirtualClock.pass', () => {
  it('lets time pass at once when nothing falls due meanwhile', () => {
    const clock = new VirtualClock();
    expect(clock.pass(5)).toBe(true);
    expect(clock.now()).toBe(5);
  });

  it('refuses, letting no time pass, when a timer falls due within the span', () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    clock.setTimer(3, () => fired.push(clock.now()));
    expect(clock.pass(5)).toBe(false);
    expect(clock.now()).toBe(0);
    expect(fired).toEqual([]);
  });

  it('passes over a cancelled timer, and a timer due right after the span stays pending', () => {
    const clock = new VirtualClock();
    const fired: number[] = [];
    clock.setTimer(3, () => fired.push(clock.now())).cancel();
    clock.setTimer(9, () => fired.push(clock.now()));
    expect(clock.pass(5)).toBe(true);
    expect(fired).toEqual([]);
    expect(clock.pendingTimers()).toBe(1);
  });

  it('refuses while time is held for real I/O', async () => {
    const clock = new VirtualClock();
    let release = (): void => undefined;
    const held = clock.holdWhile(new Promise<void>((r) => { release = r; }));
    expect(clock.pass(1)).toBe(false);
    release();
    await held;
    expect(clock.pass(1)).toBe(true);
  });
});
