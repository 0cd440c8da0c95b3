// Keeps the test application's console usable, on a bench and on a simulated board alike. The
// ST-LINK's virtual COM port survives target resets, but it vanishes when the ST-LINK loses power
// (a power cycle through the hub) or is re-plugged, and comes back a moment later under the same
// /dev/serial/by-id name (Linux's cdc-acm driver removes the tty with the USB device). A
// TestAppConsole whose port closed is dead for good, so the keeper opens a new one (with the same
// ConsoleLog, so marks and the report stay continuous) within a deadline, and retries the
// operation that found the port gone. What the rig hands out is the keeper's `view`: one console
// object that always talks to the port open now, so nobody keeps a console that went stale.
import type { Clock } from '../clock/clock.js';
import type { ConsoleLog } from '../serial/console-log.js';
import { ConsoleError, type AppConsole } from '../serial/test-app-console.js';
import { RigInfrastructureError } from './rig-errors.js';

/** Opens the console port once; throws when the port is not there (yet). */
export type ConsoleOpener = () => Promise<AppConsole>;

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

/** Options of {@link ConsoleKeeper}. */
export interface ConsoleKeeperOptions {
  clock: Clock;
  log: ConsoleLog;
  path: string;
  /** How long a vanished port is given to come back. */
  reopenWithinMs: number;
  retryEveryMs?: number;
  /**
   * False when the port goes away with the board's power (the ST-LINK's virtual COM port on a
   * bench whose hub switches the whole NUCLEO): a power cycle then reopens it.
   */
  survivesPowerCycle: boolean;
}

/** The current console and how to get a new one. */
export class ConsoleKeeper {
  /** Log positions at which the console was reopened (a READY may have been missed there). */
  readonly reopenedAt: number[] = [];
  /** The console to hand out: every call goes to the port open at that moment. */
  readonly view: AppConsole;
  private live: AppConsole;
  private dead = false;

  constructor(first: AppConsole, private readonly open: ConsoleOpener, private readonly options: ConsoleKeeperOptions) {
    this.live = first;
    this.view = keptConsole(this, options);
  }

  /** The console in use now (a new object after a reopen). */
  get current(): AppConsole {
    return this.live;
  }

  get log(): ConsoleLog {
    return this.options.log;
  }

  /** Runs `work` on the console; if the port turns out to be gone, reopens it and runs `work` once more. */
  async use<T>(work: (console: AppConsole) => Promise<T>): Promise<T> {
    try {
      return await work(this.live);
    } catch (error) {
      if (!isPortGone(error) || this.dead) throw error;
      await this.reopen();
      return work(this.live);
    }
  }

  /** The board's power was cut and restored: a port that goes with it is opened again within `withinMs`. */
  async afterPowerCycle(withinMs: number): Promise<void> {
    if (!this.options.survivesPowerCycle) await this.reopen(withinMs);
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

/** The keeper's console: one object whose calls reach the port open now, reopening a vanished one. */
function keptConsole(keeper: ConsoleKeeper, options: ConsoleKeeperOptions): AppConsole {
  return {
    log: options.log,
    name: options.path,
    get ready() { return keeper.current.ready; },
    mark: () => options.log.mark(),
    waitForReady: (timeoutMs, waitOptions) => keeper.current.waitForReady(timeoutMs, waitOptions),
    command: (text, timeoutMs) => keeper.use((c) => c.command(text, timeoutMs)),
    sendLine: (text) => keeper.use((c) => c.sendLine(text)),
    version: () => keeper.use((c) => c.version()),
    boot: () => keeper.use((c) => c.boot()),
    gpio: () => keeper.use((c) => c.gpio()),
    pin: (pin, level) => keeper.use((c) => c.pin(pin, level)),
    dfuJump: () => keeper.use((c) => c.dfuJump()),
    dfuDirect: () => keeper.use((c) => c.dfuDirect()),
    dfuRc: (delayMs) => keeper.use((c) => c.dfuRc(delayMs)),
    reset: (readyTimeoutMs) => keeper.use((c) => c.reset(readyTimeoutMs)),
    // What a port vanishing looks like: the next call reopens it.
    close: () => keeper.current.close(),
  };
}
