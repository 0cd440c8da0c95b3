// Wiring for host tests of the run-time → DFU switch: the simulated board running the test
// application, whose application offers its own USB device with a DFU run-time interface, on
// an in-process bus. What DETACH does is the simulator's (one device model, faults included).
import { VirtualClock } from '../../clock/virtual-clock.js';
import type { DfuRuntimeSettings } from '../../sim/app/dfu-runtime-interface.js';
import { SimulatedNucleoH745 } from '../../sim/board/nucleo-h745.js';
import { ST_ROM_H745_V9_2 } from '../../sim/bootloader/profiles.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import { TransferTrace } from '../../usb/trace.js';
import type { UsbDeviceInfo } from '../../usb/transport.js';
import { buildTestAppImage } from '../../image/synthetic-app.js';

/** The application's VID:PID in these tests (pid.codes' test PID). */
export const TEST_APP_USB_ID = { vendorId: 0x1209, productId: 0x0001 } as const;

/** A simulated board whose application enumerated on the bus with its run-time interface. */
export interface SimulatedApplication {
  clock: VirtualClock;
  bus: InProcessUsbBus;
  board: SimulatedNucleoH745;
  /** The application's device, as the bus enumerated it. */
  runtime: UsbDeviceInfo;
}

/** Boots the test application on a simulated board at `portPath` and waits for its USB device. */
export async function plugSimulatedApplication(settings: Partial<DfuRuntimeSettings> = {}, portPath = '1-4.2'): Promise<SimulatedApplication> {
  const clock = new VirtualClock();
  const board = new SimulatedNucleoH745({ clock, profile: ST_ROM_H745_V9_2, portPath, appUsb: { ...TEST_APP_USB_ID, ...settings } });
  for (const s of buildTestAppImage({ name: 'dfu-hil-testapp', version: '1.0.0' }).segments) board.loadImage(s.address, s.data);
  const bus = new InProcessUsbBus({ clock, trace: new TransferTrace() });
  bus.addConnector(board.usb);
  board.powerOn();
  const runtime = await bus.waitForDevice({ ...TEST_APP_USB_ID, portPath }, 1000);
  return { clock, bus, board, runtime };
}
