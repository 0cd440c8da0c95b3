// Child process of board-rss-bench.ts: one simulated board, a 2 MiB flash and read-back, and
// nothing else in the process, so its peak resident set is what a board costs. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { measureSimFlash } from './sim-bench.js';

/**
 * Peak resident set of this process, in KiB. On Linux, VmHWM of this process's own memory:
 * getrusage's maxrss survives exec, so a child started from a large benchmark runner would
 * report the runner's size.
 */
function peakKiB(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]);
  } catch {
    // Not Linux: fall through.
  }
  return process.resourceUsage().maxRSS;
}

const baselineKiB = peakKiB();
const m = await measureSimFlash();
process.stdout.write(`${JSON.stringify({ identical: m.identical, baselineKiB, peakKiB: peakKiB() })}\n`);
