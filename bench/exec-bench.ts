// Executed mode (the firmware on the emulated Cortex-M7) against the TypeScript model: how long a
// boot takes in wall time, how fast the core executes, what a register access costs, what a board
// costs in memory, and the HIL suite's wall time on the executed rig against the model rig.
// Figures only: nothing here passes or fails.
import { execa } from 'execa';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { VirtualClock } from '../harness/clock/virtual-clock.js';
import { SimulatedNucleoH745 } from '../harness/sim/board/nucleo-h745.js';
import { bootloaderProfiles } from '../harness/sim/bootloader/profiles.js';
import { handAssembledImage } from '../harness/sim/cpu/thumb.js';
import { openUnicornCore, unicornAvailability } from '../harness/sim/cpu/unicorn-core.js';
import { ConsoleTranscript } from '../harness/sim/uart/console-transcript.js';
import type { Benchmark, BenchRow } from './benchmark.js';
import { BENCH_ROOT_ENV, runBundledChild } from './bundled-child.js';
import { rssKiB } from './peak-rss.js';

const NAME = 'executed firmware (Unicorn 2 Cortex-M7) vs the TypeScript model';
const here = path.dirname(fileURLToPath(import.meta.url));
const root = process.env[BENCH_ROOT_ENV] ?? path.resolve(here, '..');
const image = async (name: string): Promise<Uint8Array> => new Uint8Array(await readFile(path.join(root, 'firmware-images', 'images', name)));

/**
 * Hand-assembled loops at 0x08000040 (vector table: MSP 0x20001000, reset 0x08000041):
 *   register loop, 100 000 times: ldr r2, [RCC_CR]; ldr r3, [RCC_CFGR]; subs r0, #1; bne; then b .
 *   compute loop, 5 000 000 times: adds r2, #1; eors r3, r2; subs r0, #1; bne; then b .
 */
const LOOPS = {
  mmio: { halfwords: [0x4803, 0x4904, 0x680a, 0x690b, 0x3801, 0xd1fb, 0xe7fe, 0x0000, 0x86a0, 0x0001, 0x4400, 0x5802], reads: 200_000, instructions: 400_002 },
  compute: { halfwords: [0x4802, 0x3201, 0x4053, 0x3801, 0xd1fb, 0xe7fe, 0x4b40, 0x004c], reads: 0, instructions: 20_000_001 },
} as const;

async function board(executed: boolean): Promise<{ clock: VirtualClock; board: SimulatedNucleoH745 }> {
  const clock = new VirtualClock();
  const b = new SimulatedNucleoH745({
    clock, profile: bootloaderProfiles['st-rom-v9.2']!,
    application: executed ? { kind: 'executed', core: await openUnicornCore() } : { kind: 'modelled' },
  });
  return { clock, board: b };
}

/** Wall ms from power-on to the READY line, over `boots` power cycles. */
async function readyWallMs(executed: boolean, boots: number): Promise<number[]> {
  const { clock, board: b } = await board(executed);
  b.loadImage(0x08000000, await image('testapp-1.0.0.bin'));
  b.loadImage(0x08100000, await image('cm4-idle-1.0.0.bin'));
  const transcript = new ConsoleTranscript(clock, b.console);
  const times: number[] = [];
  for (let i = 0; i < boots; i++) {
    const from = transcript.lines.length;
    const started = performance.now();
    b.powerOn();
    await transcript.waitFor(/^READY/, from);
    times.push(performance.now() - started);
    b.powerOff();
  }
  b.dispose();
  return times;
}

/** Runs one of the loops to its end and reads the runner's counters. */
async function loop(kind: keyof typeof LOOPS): Promise<{ wallMs: number; instructions: number; reads: number }> {
  const { clock, board: b } = await board(true);
  b.loadImage(0x08000000, handAssembledImage(LOOPS[kind].halfwords));
  const runner = b.mcu.executor!.runner;
  const started = performance.now();
  b.powerOn();
  // Enough virtual time for the loop at one instruction per 64 MHz cycle, then some.
  await clock.sleep(Math.ceil(LOOPS[kind].instructions / 64_000) + 5);
  const wallMs = performance.now() - started;
  const stats = { wallMs: runner.stats.wallMs, instructions: runner.stats.instructions, reads: runner.stats.mmioReads };
  b.dispose();
  return { ...stats, wallMs: Math.min(wallMs, stats.wallMs) };
}

/** RSS added by `count` boards running the application to READY, per board, in this process (after a GC when exposed). */
export async function rssPerBoardMiB(executed: boolean, count: number): Promise<number> {
  globalThis.gc?.();
  const before = rssKiB();
  const boards: SimulatedNucleoH745[] = [];
  for (let i = 0; i < count; i++) {
    const { clock, board: b } = await board(executed);
    b.loadImage(0x08000000, await image('testapp-1.0.0.bin'));
    const transcript = new ConsoleTranscript(clock, b.console);
    b.powerOn();
    await transcript.waitFor(/^READY/);
    boards.push(b);
  }
  globalThis.gc?.();
  const perBoard = (rssKiB() - before) / count / 1024;
  for (const b of boards) b.dispose();
  return perBoard;
}

/** {@link rssPerBoardMiB} in a fresh process of its own (bench/exec-rss-child.ts), where freed memory of earlier benchmarks cannot hide a board's. */
async function rssPerBoardInChildMiB(executed: boolean, count: number): Promise<number> {
  const child = await runBundledChild<{ perBoardMiB: number }>('exec-rss-child.ts', [executed ? 'executed' : 'modelled', String(count)], ['--expose-gc']);
  if (!child.ok) throw new Error(`the memory child failed: ${child.reason}`);
  return child.value.perBoardMiB;
}

/** Wall seconds of `npx vitest run --project <project>` over the suite both rigs run (the mutant specs only run executed). */
async function suiteWallSeconds(project: string): Promise<{ seconds: number; summary: string }> {
  // Its own results, runs and lock folders: the user's Allure results and a run in progress are left alone.
  const scratch = await mkdtemp(path.join(tmpdir(), 'dfu-hil-exec-bench-'));
  const started = performance.now();
  const result = await execa('npx', ['vitest', 'run', '--project', project, '--exclude', 'specs/firmware-mutants.spec.ts'], {
    cwd: root, reject: false, all: true,
    env: {
      NO_COLOR: '1', FORCE_COLOR: '0', DFU_HIL_RESULTS_DIR: path.join(scratch, 'results'), DFU_HIL_RUNS_DIR: path.join(scratch, 'runs'),
      DFU_HIL_LOCK_DIR: path.join(scratch, 'locks'),
    },
  }).finally(() => rm(scratch, { recursive: true, force: true }));
  const seconds = (performance.now() - started) / 1000;
  const summary = /Tests\s+(.*)/.exec(String(result.all))?.[1]?.trim() ?? `exit ${result.exitCode}`;
  return { seconds, summary };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

export const execBench: Benchmark = async (): Promise<BenchRow[]> => {
  const availability = await unicornAvailability();
  if (!availability.available) {
    return [{ benchmark: NAME, case: 'skipped', metrics: { reason: `${availability.reason} ${availability.hint}` } }];
  }
  const execReady = await readyWallMs(true, 10);
  const modelReady = await readyWallMs(false, 10);
  const compute = await loop('compute');
  const mmio = await loop('mmio');
  const instructionsPerSecond = compute.instructions / (compute.wallMs / 1000);
  // The register loop's time less what its instructions cost at the compute loop's rate.
  const mmioMs = mmio.wallMs - (mmio.instructions / instructionsPerSecond) * 1000;
  const execRss = await rssPerBoardInChildMiB(true, 4);
  const modelRss = await rssPerBoardInChildMiB(false, 4);
  const modelSuite = await suiteWallSeconds('hil:sim-h745');
  const execSuite = await suiteWallSeconds('hil:sim-h745-exec');
  return [
    {
      benchmark: NAME, case: `executed (${availability.engine})`,
      metrics: {
        'READY after reset, wall ms (median of 10)': median(execReady).toFixed(2),
        'instructions per wall s': `${(instructionsPerSecond / 1e6).toFixed(1)} M`,
        'register access, wall ns': (mmioMs * 1e6 / mmio.reads).toFixed(0),
        'RSS per board, MiB (goal ≤ 64)': execRss.toFixed(1),
        'HIL suite wall s': execSuite.seconds.toFixed(1),
        'HIL suite vs model (goal ≤ 1.5×)': `${(execSuite.seconds / modelSuite.seconds).toFixed(2)}×`,
        tests: execSuite.summary,
      },
      figures: {
        execReadyMs: Number(median(execReady).toFixed(2)),
        execInstructionsPerSecondM: Number((instructionsPerSecond / 1e6).toFixed(1)),
        execRegisterAccessNs: Number((mmioMs * 1e6 / mmio.reads).toFixed(0)),
        execBoardRssMiB: Number(execRss.toFixed(1)),
        execSuiteRatio: Number((execSuite.seconds / modelSuite.seconds).toFixed(2)),
      },
    },
    {
      benchmark: NAME, case: 'modelled',
      metrics: {
        'READY after reset, wall ms (median of 10)': median(modelReady).toFixed(2),
        'RSS per board, MiB (goal ≤ 64)': modelRss.toFixed(1),
        'HIL suite wall s': modelSuite.seconds.toFixed(1),
        tests: modelSuite.summary,
      },
    },
  ];
};
