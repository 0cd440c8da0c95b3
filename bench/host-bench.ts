// The DFU host's own cost: a DfuSe download through DfuseClient to the simulated bootloader's
// device, over the in-process bus with virtual time. Device-side CPU is measured separately and
// taken out, so the figure is the host (client + transport), not the simulated device.
import { describeDfuTransfers } from '../harness/dfu/protocol.js';
import { DfuseClient } from '../harness/dfu/dfuse-client.js';
import { plugSimulatedDfuseDevice } from '../harness/dfu/testing/simulated-dfuse.js';
import type { UsbGadget } from '../harness/usb/gadget.js';
import type { SetupPacket } from '../harness/usb/spec.js';
import type { BenchRow } from './benchmark.js';
import { patternBytes } from '../harness/image/testing/pattern-bytes.js';

const MiB = 1024 * 1024;

function cpuMs(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000;
}

/** Downloads one image of `bytes` bytes and measures transfers, host CPU and virtual time. */
export async function measureHostDownload(bytes: number): Promise<BenchRow> {
  const setup = await plugSimulatedDfuseDevice({ traceDataBytes: 8 });
  const { clock, bus, info, chip } = setup;
  const device = chip.socket.current() as UsbGadget;
  // Wrap the device so its CPU time can be subtracted from the total.
  let deviceCpu = 0;
  const control = device.control.bind(device);
  device.control = (packet: SetupPacket, data: Uint8Array | undefined) => {
    const before = process.cpuUsage();
    try {
      return control(packet, data);
    } finally {
      deviceCpu += cpuMs(process.cpuUsage(before));
    }
  };
  const image = [{ address: 0x08000000, data: patternBytes(bytes, 0x12345678) }];
  const client = await DfuseClient.open(bus, info, { clock });
  const mark = bus.trace.mark();
  const virtualStart = clock.now();
  const cpuBefore = process.cpuUsage();
  await client.download(image);
  const totalCpu = cpuMs(process.cpuUsage(cpuBefore));
  const virtualMs = clock.now() - virtualStart;

  const counts = new Map<string, number>();
  for (const line of describeDfuTransfers(bus.trace.since(mark))) {
    const request = line.split(' ')[0]!.replace(/#\d+$/, '');
    counts.set(request, (counts.get(request) ?? 0) + 1);
  }
  const transfers = [...counts.values()].reduce((a, b) => a + b, 0);
  const hostCpu = totalCpu - deviceCpu;
  return {
    benchmark: 'host download',
    case: `${bytes / MiB} MiB`,
    metrics: {
      transfers,
      ...Object.fromEntries([...counts].sort(([a], [b]) => a.localeCompare(b))),
      'host CPU ms/MiB': (hostCpu / (bytes / MiB)).toFixed(1),
      'device CPU ms': deviceCpu.toFixed(1),
      'virtual s': (virtualMs / 1000).toFixed(2),
    },
  };
}

/** The host benchmark: 1 MiB and 2 MiB images (one bank, and both banks of the H745). */
export async function hostDownloadBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const size of [1 * MiB, 2 * MiB]) rows.push(await measureHostDownload(size));
  return rows;
}
