import type { HoldableClock, TimerHandle } from './clock.js';
import { TimerQueue } from './timer-queue.js';

/** Options for {@link VirtualClock}. */
export interface VirtualClockOptions {
  /** Virtual time at creation, in ms. */
  startMs?: number;
  /**
   * Real event-loop turns to wait, with a timer pending, before jumping to it. Node drains every
   * queued promise reaction and `process.nextTick` callback (stream events included) before it
   * runs the next `setImmediate`, so one turn lets everything in flight settle; only work that
   * itself waits for a macrotask needs more. Real I/O holds the clock instead ({@link holdWhile}).
   */
  idleTurns?: number;
}

/**
 * Deterministic time for the simulated rig, on a timer queue of its own (no globals touched).
 * Time never passes on its own: whenever timers are pending and the process has gone idle, the
 * clock jumps straight to the next one. So a 1.1 s sector erase costs microseconds of wall
 * time, and the same run always sees the same timestamps.
 */
export class VirtualClock implements HoldableClock {
  private readonly timers: TimerQueue;
  private readonly idleTurns: number;
  private pumping = false;
  private holds = 0;

  constructor(options: VirtualClockOptions = {}) {
    this.timers = new TimerQueue(options.startMs ?? 0);
    this.idleTurns = options.idleTurns ?? 1;
  }

  now(): number {
    return this.timers.now;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.setTimer(ms, resolve);
    });
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const handle = this.timers.schedule(ms, fn);
    this.startPump();
    return handle;
  }

  /**
   * Lets `ms` whole milliseconds pass at once, without a turn of the event loop, when no timer
   * falls due within them and no hold is taken: for time that only the caller spends (a transfer
   * on the wire), where waking every other waiter first would change nothing. Returns false,
   * and lets no time pass, when something is due meanwhile; the caller then sleeps instead.
   */
  pass(ms: number): boolean {
    const whole = Math.max(0, Math.trunc(ms));
    if (this.holds > 0) return false;
    const due = this.timers.nextDue();
    if (due !== undefined && due <= this.timers.now + whole) return false;
    this.timers.advance(whole);
    return true;
  }

  /** Timers waiting to fire. */
  pendingTimers(): number {
    return this.timers.size;
  }

  /**
   * Stops time from jumping while `work` runs. Use it around work that waits on something real
   * (a child process, a socket) so that virtual deadlines do not expire meanwhile.
   */
  async holdWhile<T>(work: Promise<T>): Promise<T> {
    this.holds += 1;
    try {
      return await work;
    } finally {
      this.holds -= 1;
      this.startPump();
    }
  }

  /**
   * Lifts one hold while `work` runs, if any is taken. A transfer held by the host side of the USB
   * emulation reaches the simulated device in this same process; the device may need time to
   * pass (a flash erase) before it can answer.
   */
  async releaseWhile<T>(work: Promise<T>): Promise<T> {
    if (this.holds === 0) return work;
    this.holds -= 1;
    this.startPump();
    try {
      return await work;
    } finally {
      this.holds += 1;
    }
  }

  /** Advances virtual time by `ms`, firing due timers in order (for tests that drive time by hand). */
  advance(ms: number): void {
    this.timers.advance(ms);
  }

  private startPump(): void {
    if (this.pumping) return;
    this.pumping = true;
    void this.pump();
  }

  private async pump(): Promise<void> {
    try {
      while (this.timers.size > 0 && this.holds === 0) {
        for (let i = 0; i < this.idleTurns; i++) await new Promise<void>((r) => setImmediate(r));
        if (this.holds === 0) this.timers.fireNext();
      }
    } finally {
      this.pumping = false;
    }
  }
}
