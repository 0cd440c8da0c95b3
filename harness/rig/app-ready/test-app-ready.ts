// The test application's way of saying it is up: `READY <name> <version>` on its console after
// every boot (docs/console-protocol.md). The default wherever the image speaks that console.
import type { Clock } from '../../clock/clock.js';
import { ConsoleError } from '../../serial/test-app-console.js';
import type { ConsoleKeeper } from '../console-keeper.js';
import type { AppReadyCheck, AppReadyWatch } from './app-ready.js';

/**
 * The READY banner of the next boot. If the port vanished meanwhile (a power cycle on a bench),
 * the banner may have gone out while nobody listened: then `version` proves the application is
 * up, and its answer stands in for the banner. A timeout is the console's own error (ConsoleError
 * `timeout`, naming the lines seen).
 */
export class TestAppReady implements AppReadyCheck {
  readonly form = 'test-app-ready' as const;

  constructor(private readonly io: { clock: Clock; console: ConsoleKeeper }) {}

  describe(): string {
    return `the test application's READY on ${this.io.console.view.name}`;
  }

  arm(): AppReadyWatch {
    const { clock, console: keeper } = this.io;
    // Everything the console logs from here on belongs to the boot that follows.
    const after = keeper.log.mark();
    const armedAt = clock.now();
    const up = (name: string, version: string, t: number, evidence: string) => ({
      form: this.form, checked: true, t, afterMs: t - armedAt, evidence, name, version,
    });
    return {
      wait: async (timeoutMs) => {
        const deadline = clock.now() + timeoutMs;
        for (;;) {
          try {
            const { name, version, t } = await keeper.current.waitForReady(Math.max(1, deadline - clock.now()), { after });
            return up(name, version, t, `READY ${name} ${version}`);
          } catch (error) {
            const remaining = deadline - clock.now();
            if (error instanceof ConsoleError && error.failure === 'port-closed' && remaining > 0) {
              await keeper.reopen(remaining);
              continue;
            }
            if (error instanceof ConsoleError && error.failure === 'timeout' && keeper.reopenedSince(after)) {
              const { name, version } = await keeper.current.version();
              return up(name, version, clock.now(), `VERSION ${name} ${version} (the port was reopened: READY may have gone out unheard)`);
            }
            throw error;
          }
        }
      },
      // The log is the watch: nothing to let go of.
      cancel: () => undefined,
    };
  }
}
