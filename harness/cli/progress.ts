import { SingleBar } from 'cli-progress';
import type { FlashProgress } from '../rig/rig.js';
import type { TextOut } from './io.js';

/** Receives flash progress events and shows them somehow. */
export interface ProgressView {
  /** Feeds one progress event. */
  update(progress: FlashProgress): void;
  /** Ends the current display. */
  stop(): void;
}

/**
 * A progress bar on a terminal, driven by `{ phase, bytesDone, bytesTotal }` events: one bar
 * per phase (erase, download, verify). Silent when the output is not a terminal or in --json
 * mode, so logs and CI output stay clean.
 */
export class FlashProgressBar implements ProgressView {
  private bar: SingleBar | undefined;
  private phase: string | undefined;

  constructor(private readonly out: TextOut, private readonly enabled: boolean) {}

  update(progress: FlashProgress): void {
    if (!this.enabled || this.out.isTTY !== true) return;
    if (progress.phase !== this.phase) {
      this.stop();
      this.phase = progress.phase;
      this.bar = new SingleBar({
        format: `${progress.phase.padEnd(8)} [{bar}] {percentage}% | {value}/{total} bytes`,
        stream: this.out as NodeJS.WritableStream,
        hideCursor: true,
      });
      this.bar.start(Math.max(progress.bytesTotal, 1), 0);
    }
    this.bar?.update(Math.min(progress.bytesDone, progress.bytesTotal));
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}

/**
 * Progress for logs and CI: a plain line each time a phase passes a quarter of its bytes, so a
 * hung flash shows where it hung without filling the log with a line per block.
 */
export class FlashProgressLines implements ProgressView {
  private phase: string | undefined;
  private shownQuarter = -1;

  constructor(private readonly out: TextOut) {}

  update(progress: FlashProgress): void {
    if (progress.phase !== this.phase) {
      this.phase = progress.phase;
      this.shownQuarter = -1;
    }
    const total = Math.max(progress.bytesTotal, 1);
    const quarter = Math.floor((4 * Math.min(progress.bytesDone, total)) / total);
    if (quarter <= this.shownQuarter) return;
    this.shownQuarter = quarter;
    const percent = Math.round((100 * Math.min(progress.bytesDone, total)) / total);
    this.out.write(`${progress.phase.padEnd(8)} ${String(percent).padStart(3)}% (${progress.bytesDone}/${progress.bytesTotal} bytes)\n`);
  }

  stop(): void {
    this.phase = undefined;
  }
}

/** The progress display for `out`: a bar on a terminal, plain lines otherwise, nothing with --json. */
export function flashProgressView(out: TextOut, options: { json: boolean }): ProgressView {
  if (options.json) return { update: () => undefined, stop: () => undefined };
  return out.isTTY === true ? new FlashProgressBar(out, true) : new FlashProgressLines(out);
}
