// The timers of a virtual clock, in the order they fall due. A binary heap keyed on (due time,
// order of creation), so that timers due at the same millisecond fire in the order they were
// set, whatever their number. Cancelled timers are dropped lazily when they reach the top.

/** One pending timer. */
interface QueuedTimer {
  readonly callAt: number;
  readonly order: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A cancellable timer of a {@link TimerQueue}. */
export interface QueuedTimerHandle {
  cancel(): void;
}

/** Virtual time and the timers waiting on it; time moves only when the owner says so. */
export class TimerQueue {
  private heap: QueuedTimer[] = [];
  private nextOrder = 0;
  private live = 0;
  private firing = false;
  private current: number;

  constructor(startMs = 0) {
    this.current = startMs;
  }

  /** Virtual now, in ms. */
  get now(): number {
    return this.current;
  }

  /** Timers waiting to fire. */
  get size(): number {
    return this.live;
  }

  /**
   * Calls `fn` after `delayMs` whole milliseconds (fractions are dropped). A zero delay set by a
   * timer as it fires waits 1 ms instead: a timer that re-arms itself at once must not stop
   * time from moving on.
   */
  schedule(delayMs: number, fn: () => void): QueuedTimerHandle {
    const whole = Number.isFinite(delayMs) ? Math.max(0, Math.trunc(delayMs)) : 0;
    const timer: QueuedTimer = { callAt: this.current + (whole || (this.firing ? 1 : 0)), order: this.nextOrder++, fn, cancelled: false };
    this.push(timer);
    this.live += 1;
    return {
      cancel: () => {
        if (timer.cancelled) return;
        timer.cancelled = true;
        this.live -= 1;
        // Deadlines are mostly cancelled long before they fall due; don't let them pile up.
        if (this.heap.length > 64 && this.live < this.heap.length / 4) this.compact();
      },
    };
  }

  /** When the first pending timer falls due, or undefined when none is pending. */
  nextDue(): number | undefined {
    return this.top()?.callAt;
  }

  /** Moves time to the first pending timer and fires it; does nothing when none is pending. */
  fireNext(): void {
    const timer = this.top();
    if (!timer) return;
    this.pop();
    this.live -= 1;
    timer.cancelled = true;
    this.current = timer.callAt;
    this.fire(timer);
  }

  /**
   * Moves time on by `ms` (whole milliseconds; a fraction is dropped), firing every timer that falls due meanwhile in order (those set
   * while firing included). A timer that throws does not stop the others; the first error is
   * thrown once time has reached its end.
   */
  advance(ms: number): void {
    const until = this.current + Math.max(0, Math.floor(ms));
    let failure: { error: unknown } | undefined;
    for (let timer = this.top(); timer !== undefined && timer.callAt <= until; timer = this.top()) {
      this.pop();
      this.live -= 1;
      timer.cancelled = true;
      this.current = timer.callAt;
      try {
        this.fire(timer);
      } catch (error) {
        failure ??= { error };
      }
    }
    this.current = until;
    if (failure) throw failure.error;
  }

  private fire(timer: QueuedTimer): void {
    const outer = this.firing;
    this.firing = true;
    try {
      timer.fn();
    } finally {
      this.firing = outer;
    }
  }

  /** Rebuilds the heap from the timers still pending. */
  private compact(): void {
    const pending = this.heap.filter((t) => !t.cancelled);
    this.heap = [];
    for (const timer of pending) this.push(timer);
  }

  /** The first timer still pending, cancelled ones at the top dropped on the way. */
  private top(): QueuedTimer | undefined {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    return this.heap[0];
  }

  private push(timer: QueuedTimer): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(timer, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = timer;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}

function before(a: QueuedTimer, b: QueuedTimer): boolean {
  return a.callAt < b.callAt || (a.callAt === b.callAt && a.order < b.order);
}
