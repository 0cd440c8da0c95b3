// Child process of board-rss-bench.ts: one simulated board, a 2 MiB flash and read-back, and
// nothing else in the process, so its peak resident set is what a board costs. Prints one JSON line.
import { peakRssKiB } from './peak-rss.js';
import { measureSimFlash } from './sim-bench.js';

const baselineKiB = peakRssKiB();
const m = await measureSimFlash();
process.stdout.write(`${JSON.stringify({ identical: m.identical, baselineKiB, peakKiB: peakRssKiB() })}\n`);
