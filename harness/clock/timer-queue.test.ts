import { describe, expect, it } from 'vitest';
import { TimerQueue } from './timer-queue.js';

describe('TimerQueue', () => {
  it('fires timers by due time, and those due at the same millisecond in the order they were set', () => {
    const q = new TimerQueue(100);
    const fired: string[] = [];
    q.schedule(5, () => fired.push(`b@${q.now}`));
    q.schedule(2, () => fired.push(`a@${q.now}`));
    q.schedule(5, () => fired.push(`c@${q.now}`));
    q.schedule(5.9, () => fired.push(`d@${q.now}`));
    expect(q.size).toBe(4);
    expect(q.nextDue()).toBe(102);
    while (q.size > 0) q.fireNext();
    expect(fired).toEqual(['a@102', 'b@105', 'c@105', 'd@105']);
    expect(q.now).toBe(105);
  });

  it('runs a zero delay at once, but 1 ms later when a firing timer sets it', () => {
    const q = new TimerQueue();
    const fired: number[] = [];
    q.schedule(0, () => {
      fired.push(q.now);
      q.schedule(0, () => fired.push(q.now));
    });
    q.fireNext();
    q.fireNext();
    expect(fired).toEqual([0, 1]);
  });

  it('advance fires what falls due meanwhile, timers set on the way included, and ends at its end', () => {
    const q = new TimerQueue();
    const fired: number[] = [];
    q.schedule(3, () => {
      fired.push(q.now);
      q.schedule(4, () => fired.push(q.now));
      q.schedule(20, () => fired.push(q.now));
    });
    q.advance(10.7);
    expect(fired).toEqual([3, 7]);
    expect(q.now).toBe(10);
    expect(q.size).toBe(1);
    expect(q.nextDue()).toBe(23);
  });

  it('a cancelled timer never fires and no longer counts; cancelling twice changes nothing', () => {
    const q = new TimerQueue();
    const fired: string[] = [];
    const a = q.schedule(1, () => fired.push('a'));
    q.schedule(2, () => fired.push('b'));
    a.cancel();
    a.cancel();
    expect(q.size).toBe(1);
    expect(q.nextDue()).toBe(2);
    q.advance(5);
    expect(fired).toEqual(['b']);
    expect(q.size).toBe(0);
  });

  it('keeps its order while many cancelled deadlines are swept out', () => {
    const q = new TimerQueue();
    const fired: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const deadline = q.schedule(5000, () => fired.push(-1));
      if (i % 100 === 0) q.schedule(1000 - i, () => fired.push(i));
      deadline.cancel();
    }
    expect(q.size).toBe(10);
    q.advance(10_000);
    expect(fired).toEqual([900, 800, 700, 600, 500, 400, 300, 200, 100, 0]);
  });

  it('a timer that throws does not stop the others; advance throws the first error at its end', () => {
    const q = new TimerQueue();
    const fired: number[] = [];
    q.schedule(1, () => {
      throw new Error('first');
    });
    q.schedule(2, () => {
      throw new Error('second');
    });
    q.schedule(3, () => fired.push(q.now));
    expect(() => q.advance(5)).toThrow('first');
    expect(fired).toEqual([3]);
    expect(q.now).toBe(5);
  });
});
