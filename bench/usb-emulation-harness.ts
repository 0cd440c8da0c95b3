// Child process of usb-emulation-bench.ts: the harness's own host (DfuseClient on node `usb`)
// flashing 1 MiB into the simulated board through umockdev. It runs in its own process because
// libusb must start under umockdev's preload library. Prints one JSON line.
import { systemClock } from '../harness/clock/clock.js';
import { DfuseClient } from '../harness/dfu/dfuse-client.js';
import { loadReferenceImages } from '../harness/rig/reference-images.js';
import { createSimRig } from '../harness/rig/sim/sim-rig.js';
import { connectThroughUmockdev } from '../harness/usb-emulation/libusb-over-umockdev.js';
import { benchImage, benchRig } from './usb-emulation-setup.js';

const rig = await createSimRig(await benchRig(), await loadReferenceImages(), { usb: connectThroughUmockdev });
await rig.enterDfu('console-jump');
const device = await rig.waitForBootloader();
const image = benchImage();
const figures: Record<string, number | boolean> = {};
for (const [name, clock] of [['realTime', systemClock], ['virtualTime', rig.clock]] as const) {
  // Real time: the host sleeps each bwPollTimeout as dfu-util does. Virtual time: as the specs run.
  const started = performance.now();
  const client = await DfuseClient.open(rig.bus, device, { clock });
  await client.download([image], { erase: 'touched' });
  await client.close();
  figures[`${name}Ms`] = performance.now() - started;
}
figures.identical = Buffer.compare(Buffer.from(rig.backends.board.flash.read(image.address, image.data.length)), Buffer.from(image.data)) === 0;
figures.transfers = rig.trace.usb.mark();
await rig.close();
process.stdout.write(`${JSON.stringify(figures)}\n`);
process.exit(0);
