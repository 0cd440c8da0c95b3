/** One recorded console line or event. */
export interface ConsoleLogEntry {
  /** Clock time in ms when it was seen or sent. */
  t: number;
  /** `rx` from the device, `tx` to it, `event` for what the host noticed (reset, timeout, close). */
  direction: 'rx' | 'tx' | 'event';
  text: string;
  /** Set for device lines outside the protocol grammar, which the host ignores. */
  noise?: boolean;
}

/**
 * Every console line with its timestamp, bounded in memory, for the report of the test that
 * caused it (and for timeout messages naming the last lines seen).
 */
export class ConsoleLog {
  private entries: ConsoleLogEntry[] = [];
  private droppedCount = 0;
  private readonly watchers = new Set<(entry: ConsoleLogEntry) => void>();

  constructor(private readonly capacity = 50_000) {}

  /** Records one entry. */
  record(entry: ConsoleLogEntry): void {
    this.entries.push(entry);
    for (const watcher of [...this.watchers]) watcher(entry);
    if (this.entries.length > this.capacity) {
      const excess = this.entries.length - this.capacity;
      this.entries.splice(0, excess);
      this.droppedCount += excess;
    }
  }

  /** Calls `listener` with every entry recorded from now on; returns an unsubscribe. */
  watch(listener: (entry: ConsoleLogEntry) => void): () => void {
    this.watchers.add(listener);
    return () => { this.watchers.delete(listener); };
  }

  /** A copy of the entries kept. */
  list(): ConsoleLogEntry[] {
    return [...this.entries];
  }

  /** A position to pass to {@link since} later. */
  mark(): number {
    return this.droppedCount + this.entries.length;
  }

  /** Entries recorded since `mark()` returned `index`. */
  since(index: number): ConsoleLogEntry[] {
    return this.entries.slice(Math.max(0, index - this.droppedCount));
  }

  /** The last `count` lines received from the device. */
  lastReceived(count: number): string[] {
    return this.entries.filter((e) => e.direction === 'rx').slice(-count).map((e) => e.text);
  }

  /** One line per entry: `   12.000 ms  <- READY dfu-hil-testapp 1.0.0`. */
  format(entries: ConsoleLogEntry[] = this.entries): string {
    const arrow = { rx: '<-', tx: '->', event: '**' } as const;
    return entries.map((e) => `${e.t.toFixed(3).padStart(12)} ms  ${arrow[e.direction]} ${e.text}${e.noise ? '  (noise, ignored)' : ''}`).join('\n');
  }
}
