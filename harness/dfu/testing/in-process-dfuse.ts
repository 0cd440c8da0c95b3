// Wiring for host tests and benchmarks: a VirtualClock, an in-process bus, a socket, and a
// scripted DfuSe device plugged into it.
import { VirtualClock } from '../../clock/virtual-clock.js';
import { UsbSocket } from '../../usb/gadget.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import { TransferTrace } from '../../usb/trace.js';
import type { UsbDeviceInfo } from '../../usb/transport.js';
import { ScriptedDfuseDevice, type ScriptedDfuseDeviceOptions } from './scripted-dfuse-device.js';

/** Everything a host test needs around one scripted device. */
export interface ScriptedDfuseSetup {
  clock: VirtualClock;
  bus: InProcessUsbBus;
  socket: UsbSocket;
  device: ScriptedDfuseDevice;
  /** The device as the bus enumerated it. */
  info: UsbDeviceInfo;
}

/** Plugs a {@link ScriptedDfuseDevice} into a fresh in-process bus and waits for it to enumerate. */
export async function plugScriptedDfuseDevice(options: Omit<ScriptedDfuseDeviceOptions, 'clock' | 'socket'> = {}, traceDataBytes = 16): Promise<ScriptedDfuseSetup> {
  const clock = new VirtualClock();
  const bus = new InProcessUsbBus({ clock, trace: new TransferTrace({ dataBytes: traceDataBytes }) });
  const socket = new UsbSocket('1-4.2');
  bus.addConnector(socket);
  const device = new ScriptedDfuseDevice({ ...options, clock, socket });
  socket.plug(device);
  const [info] = await bus.list();
  if (!info) throw new Error('the scripted device did not enumerate');
  return { clock, bus, socket, device, info };
}
