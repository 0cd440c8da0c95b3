// What one simulated board costs in memory: the peak resident set of a plain Node process that
// does nothing but flash 2 MiB into one board and read it back (bench/board-rss-child.ts). It
// runs bundled, without tsx in the process (tsx's loader alone adds about 40 MB), and in a
// process of its own, so that the benchmark runner's own heap does not blur the figure.
import type { Benchmark } from './benchmark.js';
import { runBundledChild } from './bundled-child.js';

const NAME = 'memory: one simulated board, 2 MiB flash + read-back, in a plain Node process';

/** Peak RSS of a process holding one simulated board through a 2 MiB flash and read-back. */
export const boardRssBench: Benchmark = async () => {
  const child = await runBundledChild<{ identical: boolean; baselineKiB: number; peakKiB: number }>('board-rss-child.ts');
  if (!child.ok) return [{ benchmark: NAME, case: 'failed', metrics: { reason: child.reason } }];
  const r = child.value;
  const peakMiB = r.peakKiB / 1024;
  return [{
    benchmark: NAME,
    case: 'sim-h745 board',
    metrics: {
      'read back': r.identical ? 'identical' : 'MISMATCH',
      'RSS after imports MiB': (r.baselineKiB / 1024).toFixed(1),
      'peak RSS MiB': peakMiB.toFixed(1),
    },
    figures: { boardRssMiB: Number(peakMiB.toFixed(1)) },
  }];
};
