import { SingleBar } from 'cli-progress';
import type { FlashProgress } from '../rig/rig.js';
import type { TextOut } from './io.js';

/**
 * A progress bar on a terminal, driven by `{ phase, bytesDone, bytesTotal }` events: one bar
 * per phase (erase, download, verify). Silent when the output is not a terminal or in --json
 * mode, so logs and CI output stay clean.
 */
export class FlashProgressBar {
  private bar: SingleBar | undefined;
  private phase: string | undefined;

  constructor(private readonly out: TextOut, private readonly enabled: boolean) {}

  /** Feeds one progress event. */
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

  /** Ends the current bar. */
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
