import { readFileSync } from 'node:fs';

/** One field of /proc/self/status in KiB, or undefined off Linux. */
function statusKiB(field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Peak resident set of this process, in KiB. On Linux, VmHWM of this process's own memory:
 * getrusage's maxrss survives exec, so a child started from a large benchmark runner would
 * report the runner's size.
 */
export function peakRssKiB(): number {
  return statusKiB('VmHWM') ?? process.resourceUsage().maxRSS;
}

/** Resident set of this process now, in KiB. */
export function rssKiB(): number {
  return statusKiB('VmRSS') ?? Math.round(process.memoryUsage().rss / 1024);
}
