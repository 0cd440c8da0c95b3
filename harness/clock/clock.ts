/** A cancellable timer returned by {@link Clock.setTimer}. */
export interface TimerHandle {
  cancel(): void;
}

/**
 * Time as protocol code and the simulator see it. Real rigs use {@link systemClock}; the
 * simulated rig uses a VirtualClock so that a 16-sector erase costs no wall time.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
  /** Calls `fn` once after `ms` milliseconds of this clock's time. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}

/** Wall-clock time, for real boards. */
export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
  setTimer: (ms, fn) => {
    const handle = setTimeout(fn, Math.max(0, ms));
    return { cancel: () => clearTimeout(handle) };
  },
};

/** Rejects with `onTimeout()` if `work` has not settled after `ms` of `clock` time. */
export async function withDeadline<T>(clock: Clock, ms: number, work: Promise<T>, onTimeout: () => Error): Promise<T> {
  let timer: TimerHandle | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = clock.setTimer(ms, () => reject(onTimeout()));
  });
  try {
    return await Promise.race([work, expired]);
  } finally {
    timer?.cancel();
  }
}

/**
 * A clock whose time can be held still while real I/O is in flight. The VirtualClock is one:
 * without a hold, it would jump to the next deadline while a libusb transfer travels through
 * the USB emulation, and time out a transfer that takes microseconds.
 */
export interface HoldableClock extends Clock {
  /** Keeps time still until `work` settles. */
  holdWhile<T>(work: Promise<T>): Promise<T>;
  /** Lifts one hold while `work` runs: the simulated device serving a held transfer needs time to pass. */
  releaseWhile<T>(work: Promise<T>): Promise<T>;
}

function isHoldable(clock: Clock): clock is HoldableClock {
  return typeof (clock as Partial<HoldableClock>).holdWhile === 'function' && typeof (clock as Partial<HoldableClock>).releaseWhile === 'function';
}

/** A clock that can let time the caller alone spends pass without waking anyone (the VirtualClock). */
interface PassableClock extends Clock {
  pass(ms: number): boolean;
}

/**
 * Spends `ms` of `clock` time that only the caller is waiting for (a transfer on the wire): at
 * once on a virtual clock when nothing else falls due meanwhile, else by sleeping.
 */
export async function spendTime(clock: Clock, ms: number): Promise<void> {
  if (typeof (clock as Partial<PassableClock>).pass === 'function' && (clock as PassableClock).pass(ms)) return;
  await clock.sleep(ms);
}

/** Holds `clock` still while `work` runs, if it is a clock that can be held. */
export function holdTime<T>(clock: Clock, work: Promise<T>): Promise<T> {
  return isHoldable(clock) ? clock.holdWhile(work) : work;
}

/** Lets `clock` run while `work` runs, undoing one hold taken by {@link holdTime}. */
export function releaseTime<T>(clock: Clock, work: Promise<T>): Promise<T> {
  return isHoldable(clock) ? clock.releaseWhile(work) : work;
}
