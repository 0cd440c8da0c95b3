// Connects a simulated board to this process's own libusb (node `usb` 2.x) through umockdev, so
// that the harness's real transport, not the in-process bus, carries every transfer.
import type { Clock } from '../clock/clock.js';
import type { UsbConnector } from '../usb/gadget.js';
import { LibusbBus, libusbLoaded } from '../usb/libusb-bus.js';
import type { TransferTrace } from '../usb/trace.js';
import { EmulatedUsbBus } from './emulated-usb-bus.js';
import { UMOCKDEV_INSTALL_HINT, UsbEmulationError } from './errors.js';
import { UmockdevBridge } from './umockdev-bridge.js';
import { requireUmockdev } from './umockdev-support.js';

let processBridge: Promise<UmockdevBridge> | undefined;

/** True when this process was started under umockdev's preload library. */
export function underUmockdevPreload(env: Readonly<Record<string, string | undefined>> = process.env): boolean {
  return (env.LD_PRELOAD ?? '').split(/[\s:]+/).some((lib) => lib.includes('libumockdev-preload'));
}

/**
 * The one testbed this process's libusb can see. libusb reads UMOCKDEV_DIR once, when it
 * initialises, so the bridge must start before anything in the process loads `usb`, and it
 * stays up for the life of the process.
 */
async function bridgeForThisProcess(): Promise<UmockdevBridge> {
  if (!underUmockdevPreload()) {
    throw new UsbEmulationError("this process's libusb cannot reach emulated USB devices: it was not started under umockdev's preload library", {
      hint: 'Run the `usb:` vitest projects (`npm test` includes them when umockdev is installed), or start the process with LD_PRELOAD=libumockdev-preload.so.0. To drive another program, use `dfu-hil sim expose -- <program>`.',
    });
  }
  processBridge ??= (async () => {
    if (libusbLoaded()) {
      throw new UsbEmulationError('libusb was initialised in this process before the USB emulation started, so it cannot see emulated devices', {
        hint: 'Create the emulated rig before anything in the process opens a real USB bus.',
      });
    }
    const bridge = await UmockdevBridge.start(await requireUmockdev());
    // Read by the preload library on every call, and by libusb when it initialises.
    process.env.UMOCKDEV_DIR = bridge.rootDir;
    return bridge;
  })();
  processBridge.catch(() => { processBridge = undefined; });
  return processBridge;
}

/** The simulated board's side of {@link connectThroughUmockdev}. */
export interface EmulatedBoardUsb {
  clock: Clock;
  connector: UsbConnector;
  trace: TransferTrace;
}

/**
 * Puts the board's USB connector on the emulated bus and returns a {@link LibusbBus} that reaches
 * it through libusb, exactly as it would reach a board on a bench.
 */
export async function connectThroughUmockdev(board: EmulatedBoardUsb): Promise<{ bus: LibusbBus; close(): Promise<void> }> {
  const bridge = await bridgeForThisProcess();
  if (!bridge.running) throw new UsbEmulationError('the umockdev bridge of this process has stopped', { hint: UMOCKDEV_INSTALL_HINT });
  const bus = new LibusbBus({ clock: board.clock, trace: board.trace, pollIntervalMs: 10 });
  const emulated = new EmulatedUsbBus(bridge, {
    clock: board.clock,
    settle: (change) => bus.waitUntilListed(change.busNumber, change.address, change.type === 'attach'),
  });
  emulated.addConnector(board.connector);
  await emulated.settled();
  return { bus, close: () => emulated.close() };
}
