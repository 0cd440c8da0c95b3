import type { Clock, TimerHandle } from '../../clock/clock.js';

/** Timers of whatever the chip is running now; a reset or power-off cancels them all at once. */
export class ChipTimers {
  private readonly handles = new Set<TimerHandle>();

  constructor(private readonly clock: Clock) {}

  /** Calls `fn` after `ms` unless the chip resets first; returns a handle to cancel it alone. */
  after(ms: number, fn: () => void): TimerHandle {
    const handle = this.clock.setTimer(ms, () => {
      this.handles.delete(handle);
      fn();
    });
    this.handles.add(handle);
    return { cancel: () => { handle.cancel(); this.handles.delete(handle); } };
  }

  /** Cancels every pending timer. */
  cancelAll(): void {
    for (const h of this.handles) h.cancel();
    this.handles.clear();
  }

  /** Timers still pending. */
  get pending(): number {
    return this.handles.size;
  }
}
