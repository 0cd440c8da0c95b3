// The host library against the simulated board: DfuseClient flashes 2 MiB across both banks of
// the simulated H745 (two 1 MiB segments) over the in-process bus and reads it back. Shows what
// virtual time buys (a flash that takes half a minute on the chip, in a fraction of that of wall
// time), checks the virtual figure against the flash timings, and what a simulated board costs
// in memory.
import { VirtualClock } from '../harness/clock/virtual-clock.js';
import { DfuseClient } from '../harness/dfu/dfuse-client.js';
import { SimulatedNucleoH745 } from '../harness/sim/board/nucleo-h745.js';
import { bootloaderProfiles } from '../harness/sim/bootloader/profiles.js';
import { FLASH_WORD_BYTES } from '../harness/sim/flash/flash-bank.js';
import { programDurationMs } from '../harness/sim/flash/flash-timing.js';
import { InProcessUsbBus } from '../harness/usb/in-process-bus.js';
import { TransferTrace } from '../harness/usb/trace.js';
import type { Benchmark, BenchRow } from './benchmark.js';
import { patternBytes } from '../harness/image/testing/pattern-bytes.js';

const MiB = 1024 * 1024;
const BANK1 = 0x0800_0000;
const BANK2 = 0x0810_0000;

/** What one 2 MiB flash and read-back on the simulated board measured. */
export interface SimFlashMeasurement {
  identical: boolean;
  /** Virtual ms of the whole session: open, erase and download, read back. */
  virtualMs: number;
  /** Virtual ms of erase and download alone. */
  downloadMs: number;
  /**
   * The flash's own busy time for the download, from the simulated flash's timings: each sector
   * erase (1.1 s) plus programming each block. The download can only take longer (USB transfers
   * and GETSTATUS polls come on top), never less.
   */
  flashBusyMs: number;
  wallMs: number;
  controlTransfers: number;
  sectorsErased: number;
  boardBytes: number;
  heapDeltaBytes: number;
}

function memoryNow(): number {
  const m = process.memoryUsage();
  // The flash array lives outside the JS heap, so ArrayBuffers count too.
  return m.heapUsed + m.arrayBuffers;
}

/** Flashes two 1 MiB segments at 0x08000000 and 0x08100000 through DfuseClient and reads both banks back. */
export async function measureSimFlash(): Promise<SimFlashMeasurement> {
  const memoryBefore = memoryNow();
  const clock = new VirtualClock();
  // BOOT0 high: the board powers straight into the ROM bootloader.
  const board = new SimulatedNucleoH745({ clock, profile: bootloaderProfiles['st-rom-v9.2']!, boot0: { kind: 'jumper', level: 1 } });
  const bus = new InProcessUsbBus({ clock, trace: new TransferTrace() });
  bus.addConnector(board.usb);
  board.powerOn();
  const info = await bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 5_000);
  const image = [
    { address: BANK1, data: patternBytes(MiB, 0x1234_5678) },
    { address: BANK2, data: patternBytes(MiB, 0x8765_4321) },
  ];

  const wallStart = performance.now();
  const virtualStart = clock.now();
  const mark = bus.trace.mark();
  const client = await DfuseClient.open(bus, info, { clock });
  const report = await client.download(image, { erase: 'touched' });
  const downloadMs = clock.now() - virtualStart;
  const back = await client.upload(BANK1, 2 * MiB);
  await client.close();
  const virtualMs = clock.now() - virtualStart;
  const wallMs = performance.now() - wallStart;
  const controlTransfers = bus.trace.mark() - mark;

  const timing = board.flash.timing;
  const blocks = (2 * MiB) / client.transferSize;
  const flashBusyMs = report.erasedSectors.length * timing.sectorEraseMs
    + blocks * programDurationMs(timing, client.transferSize / FLASH_WORD_BYTES);
  const measurement: SimFlashMeasurement = {
    identical: image.every((s) => Buffer.compare(back.subarray(s.address - BANK1, s.address - BANK1 + s.data.length), s.data) === 0),
    virtualMs,
    downloadMs,
    flashBusyMs,
    wallMs,
    controlTransfers,
    sectorsErased: report.erasedSectors.length,
    boardBytes: board.memoryFootprintBytes(),
    heapDeltaBytes: memoryNow() - memoryBefore,
  };
  bus.dispose();
  return measurement;
}

/** Runs discarded while the JIT compiles the host and the simulator, then runs measured. */
const WARM_UP_RUNS = 3;
const MEASURED_RUNS = 15;

/** The simulated-board benchmark: one row, 2 MiB across both banks, the median of the measured runs by wall time. */
export const simFlashBench: Benchmark = async (): Promise<BenchRow[]> => {
  for (let i = 0; i < WARM_UP_RUNS; i++) await measureSimFlash();
  const runs: SimFlashMeasurement[] = [];
  for (let i = 0; i < MEASURED_RUNS; i++) runs.push(await measureSimFlash());
  runs.sort((a, b) => a.wallMs - b.wallMs);
  const m = runs[Math.floor(runs.length / 2)]!;
  const best = runs[0]!;
  return [{
    benchmark: `host library on the simulated board (2 MiB across both banks, read back; median of ${MEASURED_RUNS} runs after ${WARM_UP_RUNS} to warm up)`,
    case: '2 x 1 MiB',
    metrics: {
      'read back': m.identical ? 'identical' : 'MISMATCH',
      sectors: m.sectorsErased,
      'virtual s': (m.virtualMs / 1000).toFixed(2),
      'download s': (m.downloadMs / 1000).toFixed(2),
      'flash busy s (expected min)': (m.flashBusyMs / 1000).toFixed(2),
      consistent: m.downloadMs >= m.flashBusyMs ? 'yes' : 'NO',
      'wall s': (m.wallMs / 1000).toFixed(2),
      'virtual/wall': (m.virtualMs / Math.max(m.wallMs, 0.001)).toFixed(1),
      'best virtual/wall': (best.virtualMs / Math.max(best.wallMs, 0.001)).toFixed(1),
      transfers: m.controlTransfers,
      'board MiB': (m.boardBytes / MiB).toFixed(2),
      'heap delta MiB': (m.heapDeltaBytes / MiB).toFixed(2),
    },
    figures: { simSpeedup: Number((m.virtualMs / Math.max(m.wallMs, 0.001)).toFixed(1)) },
  }];
};
