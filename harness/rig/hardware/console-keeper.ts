// Keeps the test application's console usable on a bench. The ST-LINK's virtual COM port
// survives target resets, but it vanishes when the ST-LINK loses power (a power cycle through
// the hub) or is re-plugged, and comes back a moment later under the same /dev/serial/by-id
// name (field notes, failure mode 16). A TestAppConsole whose port closed is dead for good, so
// the keeper opens a new one (with the same ConsoleLog, so marks and the report stay continuous)
// within a deadline, and retries the operation that found the port gone.
import type { Clock } from '../../clock/clock.js';
import type { ConsoleLog } from '../../serial/console-log.js';
import { ConsoleError, type TestAppConsole } from '../../serial/test-app-console.js';
import { RigInfrastructureError } from '../rig.js';

/** Opens the console port once; throws when the port is not there (yet). */
export type ConsoleOpener = () => Promise<TestAppConsole>;

/** True for a console error meaning the port itself is gone or could not be opened. */
export function isPortGone(error: unknown): boolean {
  return error instanceof ConsoleError && (error.failure === 'port-closed' || error.failure === 'open-failed');
}

/** The console did not come back within its deadline. */
export class ConsoleLostError extends RigInfrastructureError {
  constructor(path: string, waitedMs: number, cause: unknown) {
    super('rig-console-lost', `the console ${path} did not come back within ${waitedMs} ms: ${(cause as Error).message ?? String(cause)}`, {
      hint: 'The ST-LINK\'s virtual COM port did not reappear: check the ST-LINK USB cable and hub, `ls -l /dev/serial/by-id/`, and that console.path in rigs.yaml uses the by-id name.',
      cause,
    });
  }
}

/** The current console and how to get a new one. */
export class ConsoleKeeper {
  /** Log positions at which the console was reopened (a READY may have been missed there). */
  readonly reopenedAt: number[] = [];
  private live: TestAppConsole;
  private dead = false;

  constructor(
    first: TestAppConsole,
    private readonly open: ConsoleOpener,
    private readonly options: { clock: Clock; log: ConsoleLog; path: string; reopenWithinMs: number; retryEveryMs?: number },
  ) {
    this.live = first;
  }

  /** The console in use now (a new object after a reopen). */
  get current(): TestAppConsole {
    return this.live;
  }

  /** Runs `work` on the console; if the port turns out to be gone, reopens it and runs `work` once more. */
  async use<T>(work: (console: TestAppConsole) => Promise<T>): Promise<T> {
    try {
      return await work(this.live);
    } catch (error) {
      if (!isPortGone(error) || this.dead) throw error;
      await this.reopen();
      return work(this.live);
    }
  }

  /** Closes the current port and opens it again, retrying until `withinMs` has passed. */
  async reopen(withinMs = this.options.reopenWithinMs): Promise<void> {
    const { clock, log, path } = this.options;
    await this.live.close().catch(() => undefined);
    const started = clock.now();
    for (let attempt = 1; ; attempt++) {
      try {
        this.live = await this.open();
        this.reopenedAt.push(log.mark());
        log.record({ t: clock.now(), direction: 'event', text: `console ${path} reopened (attempt ${attempt}, after ${Math.round(clock.now() - started)} ms)` });
        return;
      } catch (error) {
        const waited = clock.now() - started;
        if (waited >= withinMs) {
          log.record({ t: clock.now(), direction: 'event', text: `console ${path} did not come back within ${withinMs} ms` });
          throw new ConsoleLostError(path, Math.round(waited), error);
        }
        await clock.sleep(Math.min(this.options.retryEveryMs ?? 250, withinMs - waited));
      }
    }
  }

  /** True when the console was reopened after log position `mark`. */
  reopenedSince(mark: number): boolean {
    return this.reopenedAt.some((at) => at >= mark);
  }

  /** Closes the port for good. */
  async close(): Promise<void> {
    this.dead = true;
    await this.live.close();
  }
}
