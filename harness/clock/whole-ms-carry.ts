/**
 * Turns fractional durations into whole-millisecond waits without losing the fractions.
 * Virtual timers fire on whole milliseconds (the timer queue truncates delays), so a
 * 0.844 ms USB transfer or a 4.16 ms flash program would otherwise be rounded on every call;
 * carrying the remainder keeps the running total within 1 ms of the exact sum.
 */
export class WholeMsCarry {
  private carried = 0;

  /** Adds `ms` (may be fractional) and returns the whole milliseconds due now; the rest is kept. */
  take(ms: number): number {
    if (!(ms > 0)) return 0;
    this.carried += ms;
    const whole = Math.floor(this.carried + 1e-9);
    this.carried = Math.max(0, this.carried - whole);
    return whole;
  }

  /** The fraction of a millisecond not yet waited. */
  get pending(): number {
    return this.carried;
  }
}
