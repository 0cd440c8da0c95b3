// The DfuSe host against the physical bound, in the simulated board's modelled time (virtual
// ms, deterministic): a 1 MiB cold flash against what the flash and the full-speed bus cannot
// go below, and a re-flash of an image that differs in one 128 KiB sector against the cold one,
// with the rig's flash cache trusted and with a read-back instead.
//
// The bound: 8 sector erases, 32,768 flash words programmed, and per 1 KiB block the bus time
// of one DNLOAD and two GETSTATUS (harness/usb/full-speed-timing.ts); no poll waits beyond the
// flash's own busy time, no Set Address Pointer, no read-back.
import { DfuseClient, type DownloadOptions } from '../harness/dfu/dfuse-client.js';
import { FlashContentCache } from '../harness/dfu/flash-content-cache.js';
import { describeDfuTransfers } from '../harness/dfu/protocol.js';
import { plugSimulatedDfuseDevice } from '../harness/dfu/testing/simulated-dfuse.js';
import { FLASH_WORD_BYTES } from '../harness/sim/flash/flash-bank.js';
import { fullSpeedControlTransferMs } from '../harness/usb/full-speed-timing.js';
import type { Benchmark, BenchRow } from './benchmark.js';
import { patternBytes } from '../harness/image/testing/pattern-bytes.js';

const MiB = 1024 * 1024;
const SECTOR = 128 * 1024;
const BANK1 = 0x0800_0000;
const GETSTATUS_BYTES = 6;

/** Goals the figures are printed against (modelled time, not asserted anywhere). */
export const HOST_BOUND_GOALS = { hostBoundRatio: 1.15, reflashRatio: 0.15 } as const;

interface Flashed {
  modelledMs: number;
  wallMs: number;
  transfers: Map<string, number>;
  erased: number;
  skipped: number;
}

/** The bound for `bytes` written in `blockSize` blocks into `sectors` sectors, in ms. */
export function physicalBoundMs(bytes: number, sectors: number, timing: { sectorEraseMs: number; wordProgramUs: number }, blockSize = 1024): number {
  const blocks = Math.ceil(bytes / blockSize);
  const perBlockWire = fullSpeedControlTransferMs(blockSize) + 2 * fullSpeedControlTransferMs(GETSTATUS_BYTES);
  const programMs = ((bytes / FLASH_WORD_BYTES) * timing.wordProgramUs) / 1000;
  return sectors * timing.sectorEraseMs + programMs + blocks * perBlockWire;
}

/** Everything one bench run measures. */
export interface HostBoundMeasurement {
  boundMs: number;
  cold: Flashed;
  coldVerified: Flashed;
  reflashCached: Flashed;
  reflashReadBack: Flashed;
  unchangedReadBack: Flashed;
}

/** Runs the flashes on one simulated ROM V9.2 device. */
export async function measureHostBound(): Promise<HostBoundMeasurement> {
  const setup = await plugSimulatedDfuseDevice({ traceDataBytes: 8 });
  const { clock, bus, info, chip } = setup;
  const client = await DfuseClient.open(bus, info, { clock });
  const original = [{ address: BANK1, data: patternBytes(MiB, 0x1357_9bdf) }];
  const changedData = original[0]!.data.slice();
  // One byte in the fourth sector: the image now differs from the flash there only.
  changedData[3 * SECTOR + 0x2345]! ^= 0xff;
  const changed = [{ address: BANK1, data: changedData }];

  const flash = async (image: typeof original, options: DownloadOptions): Promise<Flashed> => {
    const mark = bus.trace.mark();
    const start = clock.now();
    const wallStart = performance.now();
    const report = await client.download(image, options);
    const transfers = new Map<string, number>();
    for (const line of describeDfuTransfers(bus.trace.since(mark))) {
      const request = line.split(' ')[0]!.replace(/#\d+$/, '');
      transfers.set(request, (transfers.get(request) ?? 0) + 1);
    }
    return { modelledMs: clock.now() - start, wallMs: performance.now() - wallStart, transfers, erased: report.erasedSectors.length, skipped: report.skippedSectors.length };
  };

  const cache = new FlashContentCache();
  const cold = await flash(original, { erase: 'touched' });
  const coldVerified = await flash(original, { erase: 'touched', verify: true, cache });
  const reflashCached = await flash(changed, { skipUnchanged: true, verify: true, cache });
  await flash(original, { skipUnchanged: true, verify: true, cache });
  const reflashReadBack = await flash(changed, { skipUnchanged: true, verify: true });
  const unchangedReadBack = await flash(changed, { skipUnchanged: true, verify: true });
  await client.close();
  bus.dispose();
  const boundMs = physicalBoundMs(MiB, MiB / SECTOR, chip.flash.timing);
  return { boundMs, cold, coldVerified, reflashCached, reflashReadBack, unchangedReadBack };
}

const seconds = (ms: number): string => (ms / 1000).toFixed(3);
const count = (f: Flashed, request: string): number => f.transfers.get(request) ?? 0;

function row(name: string, f: Flashed, metrics: Record<string, string | number>, figures: Record<string, number>): BenchRow {
  return {
    benchmark: 'host at the physical bound (1 MiB into bank 1, modelled time of the simulated ROM V9.2)',
    case: name,
    metrics: {
      'modelled s': seconds(f.modelledMs),
      erased: f.erased,
      skipped: f.skipped,
      'SET_ADDRESS': count(f, 'SET_ADDRESS'),
      'DNLOAD blocks': count(f, 'DNLOAD'),
      'UPLOAD blocks': count(f, 'UPLOAD'),
      'wall s': seconds(f.wallMs),
      ...metrics,
    },
    figures,
  };
}

/** The host-bound benchmark: one row per flash, with `hostBoundRatio` and `reflashRatio` as figures. */
export const hostBoundBench: Benchmark = async (): Promise<BenchRow[]> => {
  const m = await measureHostBound();
  const hostBoundRatio = m.cold.modelledMs / m.boundMs;
  const reflashRatio = m.reflashCached.modelledMs / m.coldVerified.modelledMs;
  const reflashReadBackRatio = m.reflashReadBack.modelledMs / m.coldVerified.modelledMs;
  const unchangedReadBackRatio = m.unchangedReadBack.modelledMs / m.coldVerified.modelledMs;
  return [
    row('cold, no verify (--full --no-verify)', m.cold, {
      'bound s': seconds(m.boundMs), ratio: `${hostBoundRatio.toFixed(3)} (goal <= ${HOST_BOUND_GOALS.hostBoundRatio})`,
      'ms per block over bound': ((m.cold.modelledMs - m.boundMs) / (MiB / 1024)).toFixed(3),
    }, { hostBoundRatio }),
    row('cold, verified (--full)', m.coldVerified, { ratio: '1 (the re-flashes\' reference)' }, { coldVerifiedMs: m.coldVerified.modelledMs }),
    row('one sector changed, flash cache trusted', m.reflashCached, { ratio: `${reflashRatio.toFixed(3)} (goal <= ${HOST_BOUND_GOALS.reflashRatio})` }, { reflashRatio }),
    row('one sector changed, read back', m.reflashReadBack, { ratio: reflashReadBackRatio.toFixed(3) }, { reflashReadBackRatio }),
    row('unchanged, read back', m.unchangedReadBack, { ratio: unchangedReadBackRatio.toFixed(3) }, { unchangedReadBackRatio }),
  ];
};
