// A reader of the console on the virtual clock: lines with their times, and command/answer
// exchanges. Used by the simulator's tests and usable by a simulated rig.
import type { Clock } from '../../clock/clock.js';
import type { ConsoleHostEnd } from './console-uart.js';

/** Collects console lines with the virtual time each one ended. */
export class ConsoleTranscript {
  readonly lines: Array<{ text: string; t: number }> = [];
  private partial = '';
  private readonly waiters: Array<{ match: (l: string) => boolean; from: number; resolve: (i: number) => void }> = [];

  constructor(private readonly clock: Clock, private readonly end: ConsoleHostEnd) {
    end.onData((bytes) => {
      this.partial += Buffer.from(bytes).toString('latin1');
      let at: number;
      while ((at = this.partial.indexOf('\r\n')) >= 0) {
        this.lines.push({ text: this.partial.slice(0, at), t: this.clock.now() });
        this.partial = this.partial.slice(at + 2);
        this.wake();
      }
    });
  }

  /** Texts of every line so far. */
  get texts(): string[] {
    return this.lines.map((l) => l.text);
  }

  /** Sends a command line. */
  send(command: string): void {
    this.end.write(Buffer.from(`${command}\n`, 'latin1'));
  }

  /** Resolves with the index of the first line from `from` on that matches. */
  waitFor(match: RegExp | string, from = 0): Promise<number> {
    const test = (l: string): boolean => (typeof match === 'string' ? l === match : match.test(l));
    const found = this.lines.findIndex((l, i) => i >= from && test(l.text));
    if (found >= 0) return Promise.resolve(found);
    return new Promise((resolve) => this.waiters.push({ match: test, from, resolve }));
  }

  /** Sends `command` and resolves with its answer lines up to and including OK/ERR. */
  async ask(command: string): Promise<string[]> {
    const from = this.lines.length;
    this.send(command);
    const end = await this.waitFor(/^(OK|ERR\b.*)$/, from);
    return this.texts.slice(from, end + 1);
  }

  private wake(): void {
    const i = this.lines.length - 1;
    const line = this.lines[i]!.text;
    for (const w of [...this.waiters]) {
      if (i >= w.from && w.match(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(i);
      }
    }
  }
}
