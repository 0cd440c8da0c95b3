// The figures `npm run bench` tracks against a goal, by the names `--json` writes them under.

/** A figure with its goal: at most or at least `value`. */
export interface BenchGoal {
  /** What the figure is, in a few words. */
  what: string;
  direction: 'at most' | 'at least';
  value: number;
  unit: string;
}

/** Every tracked figure. A run may not measure all of them (a missing tool); the table says so. */
export const BENCH_GOALS: Readonly<Record<string, BenchGoal>> = {
  hostBoundRatio: { what: 'modelled device time ÷ physical bound, 1 MiB cold flash', direction: 'at most', value: 1.15, unit: '×' },
  reflashRatio: { what: 're-flash of a one-sector change ÷ cold flash, modelled', direction: 'at most', value: 0.15, unit: '×' },
  simSpeedup: { what: 'simulator: modelled time ÷ wall, 2 MiB erase+program+verify', direction: 'at least', value: 500, unit: '×' },
  vsDfuUtil: { what: 'harness ÷ dfu-util, 1 MiB through the USB emulation, wall', direction: 'at most', value: 1.0, unit: '×' },
  cycleSlowdown: { what: 'one rig: flash+verify cycle 40 ÷ cycle 2, wall', direction: 'at most', value: 1.5, unit: '×' },
  boardRssMiB: { what: 'peak RSS of a process with one simulated board, 2 MiB flash+verify', direction: 'at most', value: 64, unit: 'MiB' },
  execBoardRssMiB: { what: 'executed mode: RSS each board adds, booted to READY', direction: 'at most', value: 64, unit: 'MiB' },
  execSuiteRatio: { what: 'executed mode: HIL suite wall time ÷ the modelled rig\'s', direction: 'at most', value: 1.5, unit: '×' },
};

/** True when `value` meets the goal of `name` (undefined when the figure has no goal). */
export function meetsGoal(name: string, value: number): boolean | undefined {
  const goal = BENCH_GOALS[name];
  if (!goal) return undefined;
  return goal.direction === 'at most' ? value <= goal.value : value >= goal.value;
}
