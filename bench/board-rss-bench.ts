// What one simulated board costs in memory: the peak resident set of a plain Node process that
// does nothing but flash 2 MiB into one board and read it back (bench/board-rss-child.ts). It
// runs bundled, without tsx in the process (tsx's loader alone adds about 40 MB), and in a
// process of its own, so that the benchmark runner's own heap does not blur the figure.
import { build } from 'esbuild';
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Benchmark } from './benchmark.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const NAME = 'memory: one simulated board, 2 MiB flash + read-back, in a plain Node process';

/** Bundles the child into the repository's node_modules cache, where its packages resolve. */
async function bundleChild(): Promise<string> {
  const dir = path.join(here, '..', 'node_modules', '.cache', 'dfu-hil', 'bench');
  await mkdir(dir, { recursive: true });
  const outfile = path.join(dir, 'board-rss-child.mjs');
  await build({
    entryPoints: [path.join(here, 'board-rss-child.ts')], outfile, bundle: true, platform: 'node', format: 'esm',
    target: 'node20', packages: 'external', logLevel: 'silent',
  });
  return outfile;
}

/** Peak RSS of a process holding one simulated board through a 2 MiB flash and read-back. */
export const boardRssBench: Benchmark = async () => {
  const child = await execa(process.execPath, [await bundleChild()], { reject: false });
  if (child.exitCode !== 0) return [{ benchmark: NAME, case: 'failed', metrics: { reason: child.stderr.split('\n').slice(-3).join(' ') } }];
  const r = JSON.parse(child.stdout.trim().split('\n').pop()!) as { identical: boolean; baselineKiB: number; peakKiB: number };
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
