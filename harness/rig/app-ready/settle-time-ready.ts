// The application counts as up a fixed time after the watch started: for firmware that shows
// nothing the rig can see, when waiting a known boot time is all a bench can do.
import type { Clock } from '../../clock/clock.js';
import { AppReadyCancelled, ReadyLatch, type AppReadyCheck, type AppReadyWatch } from './app-ready.js';

/** The application is up `ms` after the watch started; nothing is looked at. */
export class SettleTimeReady implements AppReadyCheck {
  readonly form = 'settle-time' as const;

  constructor(private readonly options: { ms: number }, private readonly io: { clock: Clock }) {
    if (!(Number.isFinite(options.ms) && options.ms >= 0)) throw new RangeError(`a settle time must be a number of ms >= 0, not ${options.ms}`);
  }

  describe(): string {
    return `a settle time of ${this.options.ms} ms`;
  }

  arm(): AppReadyWatch {
    const { clock } = this.io;
    const { ms } = this.options;
    const latch = new ReadyLatch(clock, this.form, () => timer.cancel());
    const timer = clock.setTimer(ms, () => latch.seen(`${ms} ms elapsed`));
    return {
      // The time is the check: a deadline shorter than it does not shorten it.
      wait: () => latch.wait(0),
      cancel: () => latch.fail(new AppReadyCancelled(this.form)),
    };
  }
}
