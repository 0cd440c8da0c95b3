// `none`: the rig flashes and leaves DFU, and waits for nothing; what the application does
// afterwards is not the harness's to judge.
import type { Clock } from '../../clock/clock.js';
import type { AppReadyCheck, AppReadyWatch } from './app-ready.js';

/** Nothing is checked: the wait ends at once and says so. */
export class NoAppCheck implements AppReadyCheck {
  readonly form = 'none' as const;

  constructor(private readonly io: { clock: Clock }) {}

  describe(): string {
    return 'nothing (flash and leave only)';
  }

  arm(): AppReadyWatch {
    return {
      wait: async () => ({ form: this.form, checked: false, t: this.io.clock.now(), afterMs: 0, evidence: 'not checked (appReady: none)' }),
      cancel: () => undefined,
    };
  }
}
