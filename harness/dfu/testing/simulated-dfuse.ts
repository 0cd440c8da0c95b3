// Wiring for host tests and benchmarks: the simulated bootloader's DfuSe device (the one device
// model the simulated board runs) on a bench-top chip, plugged into an in-process bus on a
// VirtualClock. Quirks come from its profile and its faults, never from a second device.
import type { Clock } from '../../clock/clock.js';
import { VirtualClock } from '../../clock/virtual-clock.js';
import type { DfuSessionState } from '../../sim/bootloader/dfuse-device-model.js';
import type { BootloaderFaults } from '../../sim/bootloader/faults.js';
import { ST_ROM_H745_V9_2, type BootloaderProfile } from '../../sim/bootloader/profiles.js';
import { StandaloneBootloaderHost, type StandaloneHostOptions } from '../../sim/bootloader/standalone-host.js';
import { SystemBootloader } from '../../sim/bootloader/system-bootloader.js';
import { UsbSocket } from '../../usb/gadget.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import { TransferTrace } from '../../usb/trace.js';
import type { UsbDeviceInfo } from '../../usb/transport.js';

/** Options of {@link plugSimulatedDfuseDevice}. */
export interface SimulatedDfuseOptions {
  /** The bootloader; default ST's ROM V9.2 for the STM32H745. */
  profile?: BootloaderProfile;
  /** Flash timing and option-byte values of the chip. */
  chip?: StandaloneHostOptions;
  /** A session to resume, e.g. a stale dfuDNLOAD-IDLE or dfuERROR left by an earlier program. */
  resume?: DfuSessionState;
  /** Data bytes the trace keeps per transfer; default 16. */
  traceDataBytes?: number;
}

/** Everything a host test needs around one simulated DfuSe device. */
export interface SimulatedDfuseSetup {
  clock: VirtualClock;
  bus: InProcessUsbBus;
  chip: StandaloneBootloaderHost;
  bootloader: SystemBootloader;
  faults: BootloaderFaults;
  /** The device as the bus enumerated it. */
  info: UsbDeviceInfo;
}

/**
 * Starts the simulated bootloader on `socket` (say, where a test's application gadget switches to
 * its bootloader); it attaches after the profile's start-up delay (54 ms on ST's ROM).
 */
export function startSimulatedBootloader(clock: Clock, socket: UsbSocket, options: Omit<SimulatedDfuseOptions, 'traceDataBytes'> & { serialNumber?: string } = {}): { chip: StandaloneBootloaderHost; bootloader: SystemBootloader } {
  const chip = new StandaloneBootloaderHost(clock, { ...options.chip, socket });
  const bootloader = new SystemBootloader(options.profile ?? ST_ROM_H745_V9_2, chip, {
    ...(options.resume ? { resume: options.resume } : {}), ...(options.serialNumber ? { serialNumber: options.serialNumber } : {}),
  });
  chip.code = bootloader;
  bootloader.start();
  return { chip, bootloader };
}

/** Starts the simulated bootloader on a fresh in-process bus and waits for it to enumerate. */
export async function plugSimulatedDfuseDevice(options: SimulatedDfuseOptions = {}): Promise<SimulatedDfuseSetup> {
  const clock = new VirtualClock();
  const bus = new InProcessUsbBus({ clock, trace: new TransferTrace({ dataBytes: options.traceDataBytes ?? 16 }) });
  const socket = new UsbSocket('1-4.2');
  bus.addConnector(socket);
  const { chip, bootloader } = startSimulatedBootloader(clock, socket, options);
  const profile = bootloader.profile;
  const info = await bus.waitForDevice({ vendorId: profile.usb.vendorId, productId: profile.usb.productId }, 1000);
  return { clock, bus, chip, bootloader, faults: bootloader.faults, info };
}
