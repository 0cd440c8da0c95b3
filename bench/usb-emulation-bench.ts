// dfu-util and the harness's own host, each flashing the same 1 MiB into the same simulated
// board through the USB emulation (umockdev), in wall time. Both honour the device's
// bwPollTimeout in real time (the ROM asks for 1000 ms after each sector erase), and neither run
// paces the board's busy time to the wall clock, so the ratio compares the hosts, not the clocks;
// the harness's virtual-time figure is how the specs run.
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadReferenceImages } from '../harness/rig/reference-images.js';
import { createSimRig } from '../harness/rig/sim/sim-rig.js';
import { ExposedBoard } from '../harness/usb-emulation/exposed-board.js';
import { findUmockdevSupport } from '../harness/usb-emulation/umockdev-support.js';
import type { Benchmark, BenchRow } from './benchmark.js';
import { benchImage, benchRig } from './usb-emulation-setup.js';

const NAME = '1 MiB through the USB emulation (umockdev): dfu-util vs the harness, wall time';
const here = path.dirname(fileURLToPath(import.meta.url));

async function dfuUtilWallMs(): Promise<{ ms: number; identical: boolean; exitCode: number | undefined }> {
  const rig = await createSimRig(await benchRig(), await loadReferenceImages());
  const dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-bench-'));
  try {
    await rig.enterDfu('console-jump');
    const image = benchImage();
    const file = path.join(dir, 'image.bin');
    await writeFile(file, image.data);
    // No busy-time pacing: the harness's run below does not pace the board either, so both hosts
    // meet the same device and the ratio compares the hosts.
    const exposed = await ExposedBoard.start({ clock: rig.clock, connector: rig.backends.board.usb }, undefined, { busyTimeScale: 0 });
    try {
      const started = performance.now();
      const result = await exposed.run('dfu-util', ['-a', '0', '-s', '0x08000000', '-D', file]);
      const ms = performance.now() - started;
      const identical = Buffer.compare(Buffer.from(rig.backends.board.flash.read(image.address, image.data.length)), Buffer.from(image.data)) === 0;
      return { ms, identical, exitCode: result.exitCode };
    } finally {
      await exposed.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
    await rig.close();
  }
}

/** Wall time for dfu-util and for the harness to flash the same 1 MiB, and their ratio. */
export const usbEmulationBench: Benchmark = async () => {
  const support = await findUmockdevSupport();
  const dfuUtil = await execa('dfu-util', ['--version'], { reject: false });
  const missing = !support.available ? support.reason : dfuUtil.exitCode !== 0 ? 'dfu-util is not installed' : undefined;
  if (missing !== undefined || !support.available) return [{ benchmark: NAME, case: 'skipped', metrics: { reason: missing ?? 'umockdev unavailable' } }];

  const child = await execa('npx', ['tsx', path.join(here, 'usb-emulation-harness.ts')], {
    env: { LD_PRELOAD: support.preloadLibrary }, extendEnv: true, reject: false,
  });
  if (child.exitCode !== 0) return [{ benchmark: NAME, case: 'harness failed', metrics: { reason: child.stderr.split('\n').slice(-3).join(' ') } }];
  const harness = JSON.parse(child.stdout.trim().split('\n').pop()!) as { realTimeMs: number; virtualTimeMs: number; identical: boolean; transfers: number };
  const tool = await dfuUtilWallMs();
  const rows: BenchRow[] = [
    { benchmark: NAME, case: 'dfu-util 0.11 (real-time polling)', metrics: { 'wall ms': tool.ms.toFixed(0), 'read back identical': String(tool.identical), 'exit code': tool.exitCode ?? 'killed', 'vs harness': (tool.ms / harness.realTimeMs).toFixed(2) } },
    {
      benchmark: NAME, case: 'harness DfuseClient (real-time polling)',
      metrics: { 'wall ms': harness.realTimeMs.toFixed(0), 'read back identical': String(harness.identical), 'exit code': '', 'vs harness': '1.00' },
      figures: { vsDfuUtil: Number((harness.realTimeMs / tool.ms).toFixed(2)) },
    },
    { benchmark: NAME, case: 'harness DfuseClient (virtual time, as in the specs)', metrics: { 'wall ms': harness.virtualTimeMs.toFixed(0), 'read back identical': String(harness.identical), 'exit code': '', 'vs harness': (harness.virtualTimeMs / harness.realTimeMs).toFixed(2) } },
  ];
  return rows;
};
