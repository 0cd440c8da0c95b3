// The application is up once a line matching a banner pattern arrives on a console port: the
// test application's `READY <name> <version>`, or whatever a team's firmware prints at boot.
import type { Duplex } from 'node:stream';
import type { Clock } from '../../clock/clock.js';
import type { ConsoleLog } from '../../serial/console-log.js';
import { AppNotReadyError, AppReadyCancelled, ReadyLatch, identityFromGroups, type AppReadyCheck, type AppReadyWatch } from './app-ready.js';

/** Lines arriving on one console port, with the clock time each ended. */
export interface ConsoleLines {
  /** Calls `listener` for every line from now on; returns an unsubscribe. */
  onLine(listener: (text: string, t: number) => void): () => void;
}

/** Longest line kept; a port that sends garbage without line ends cannot grow the buffer without bound. */
const MAX_LINE = 4096;
/** Lines an error quotes. */
const LAST_LINES = 5;

/**
 * Lines from a serial stream (a `serialport` port, or one over the simulated board's binding):
 * split at `\n`, a trailing `\r` dropped, bytes read as latin1 so that line noise stays visible.
 * Listening does not take the stream from others (the test application's console may read it too).
 */
export function serialLines(stream: Duplex, clock: Clock): ConsoleLines & { close(): void } {
  const listeners = new Set<(text: string, t: number) => void>();
  let partial = '';
  const onData = (chunk: Buffer | string): void => {
    partial += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    let at: number;
    while ((at = partial.indexOf('\n')) >= 0) {
      const text = partial.slice(0, at).replace(/\r$/, '');
      partial = partial.slice(at + 1);
      for (const l of [...listeners]) l(text, clock.now());
    }
    if (partial.length > MAX_LINE) partial = '';
  };
  stream.on('data', onData);
  return {
    onLine: (listener) => { listeners.add(listener); return () => listeners.delete(listener); },
    close: () => { stream.off('data', onData); listeners.clear(); },
  };
}

/**
 * Lines the rig's console receives, from its log: the same lines whichever port object is open
 * (the rig reopens a port that vanished), including those outside the test application's protocol.
 */
export function consoleLogLines(log: ConsoleLog): ConsoleLines {
  return {
    onLine: (listener) => log.watch((entry) => { if (entry.direction === 'rx') listener(entry.text, entry.t); }),
  };
}

/** Options of {@link ConsoleBannerReady}. */
export interface ConsoleBannerOptions {
  /** A line that matches means the application is up; named groups `name` and `version` give its identity. */
  pattern: RegExp;
  /** The port the banner comes on, for messages (`/dev/ttyACM0`, `sim:sim-h745`). */
  port: string;
}

/** The application is up when its banner line arrives on the console. */
export class ConsoleBannerReady implements AppReadyCheck {
  readonly form = 'console-banner' as const;

  constructor(private readonly options: ConsoleBannerOptions, private readonly io: { clock: Clock; lines: ConsoleLines }) {}

  describe(): string {
    return `console banner ${String(this.options.pattern)} on ${this.options.port}`;
  }

  arm(): AppReadyWatch {
    const { pattern, port } = this.options;
    const seenLines: string[] = [];
    let unsubscribe = (): void => undefined;
    const latch = new ReadyLatch(this.io.clock, this.form, () => unsubscribe());
    unsubscribe = this.io.lines.onLine((text) => {
      seenLines.push(text);
      if (seenLines.length > LAST_LINES) seenLines.shift();
      // A fresh RegExp state for every line: a /g or /y pattern must not carry lastIndex across lines.
      const match = new RegExp(pattern.source, pattern.flags.replace(/[gy]/g, '')).exec(text);
      if (match) latch.seen(text, identityFromGroups(match.groups));
    });
    return {
      wait: (timeoutMs) => latch.wait(timeoutMs, () => new AppNotReadyError(this.form,
        `no line matching ${String(pattern)} on ${port} within ${timeoutMs} ms; ${seenLines.length === 0 ? 'nothing arrived' : `last lines: ${seenLines.map((l) => JSON.stringify(l)).join(', ')}`}`,
        'Check that the application prints this banner after every boot, at the port\'s baud rate, and that the pattern matches it (rigs.yaml appReady.banner).')),
      cancel: () => latch.fail(new AppReadyCancelled(this.form)),
    };
  }
}
