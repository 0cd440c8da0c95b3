// A long-lived rig: one simulated rig flashes and verifies 2 MiB forty times in a row, cold (no
// sector skipped), two images taking turns. Part-way through, the rig's USB transfer trace is
// full (200,000 entries; the table says from which cycle); a rig that slows down once its trace
// is full, or as anything else it keeps grows, shows it here as cycle 40 against cycle 2
// (each the median of three neighbouring cycles: cycles 1–3 and 39–40).
import { loadReferenceImages } from '../harness/rig/reference-images.js';
import { createSimRig } from '../harness/rig/sim/sim-rig.js';
import type { Benchmark } from './benchmark.js';
import { patternBytes } from '../harness/image/testing/pattern-bytes.js';
import { benchRig } from './usb-emulation-setup.js';

const CYCLES = 40;
const MiB = 1024 * 1024;
const BANK2 = 0x0810_0000;

/** Wall time of each of {@link CYCLES} cold flash+verify cycles of 2 MiB on one simulated rig, and when its trace began to drop entries. */
export async function measureCycles(): Promise<{ wall: number[]; traceDropped: number; firstFullCycle: number | undefined }> {
  const rig = await createSimRig(await benchRig(), await loadReferenceImages());
  try {
    await rig.enterDfu('console-jump');
    const images = [0x1111_2222, 0x3333_4444].map((seed) => ({
      source: `pattern ${seed.toString(16)}`,
      segments: [{ address: 0x0800_0000, data: patternBytes(MiB, seed) }, { address: BANK2, data: patternBytes(MiB, seed + 1) }],
    }));
    const wall: number[] = [];
    let firstFullCycle: number | undefined;
    for (let i = 0; i < CYCLES; i++) {
      const started = performance.now();
      await rig.flash(images[i % 2]!, { erase: 'touched', verify: true, full: true });
      wall.push(performance.now() - started);
      if (firstFullCycle === undefined && rig.trace.usb.dropped > 0) firstFullCycle = i + 1;
    }
    return { wall, traceDropped: rig.trace.usb.dropped, firstFullCycle };
  } finally {
    await rig.close();
  }
}

/** Cycle `n` (1-based), as the median of it and its two neighbours, so one GC pause does not decide the figure. */
function around(wall: readonly number[], n: number): number {
  const window = wall.slice(Math.max(0, n - 2), Math.min(wall.length, n + 1)).sort((a, b) => a - b);
  return window[Math.floor(window.length / 2)]!;
}

/** Cycle 2, 20 and 40 of one rig, and the slowdown from 2 to 40. */
export const cycleBench: Benchmark = async () => {
  const { wall, traceDropped, firstFullCycle } = await measureCycles();
  const at = (n: number): number => around(wall, n);
  return [{
    benchmark: `one simulated rig, ${CYCLES} cold flash+verify cycles of 2 MiB`,
    case: 'sim-h745',
    metrics: {
      'cycle 2 ms': at(2).toFixed(0),
      'cycle 20 ms': at(20).toFixed(0),
      'cycle 40 ms': at(CYCLES).toFixed(0),
      'slowest ms': Math.max(...wall).toFixed(0),
      '40 ÷ 2': (at(CYCLES) / at(2)).toFixed(2),
      'trace full from cycle': firstFullCycle ?? 'never',
      'trace entries dropped': traceDropped,
    },
    figures: { cycleSlowdown: Number((at(CYCLES) / at(2)).toFixed(2)) },
  }];
};
