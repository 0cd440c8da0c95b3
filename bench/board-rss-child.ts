// Child process of board-rss-bench.ts: one simulated board, a 2 MiB flash and read-back, and
// nothing else in the process, so its peak resident set is what a board costs. Prints one JSON line.
import { measureSimFlash } from './sim-bench.js';

const baselineKiB = process.resourceUsage().maxRSS;
const m = await measureSimFlash();
process.stdout.write(`${JSON.stringify({ identical: m.identical, baselineKiB, peakKiB: process.resourceUsage().maxRSS })}\n`);
