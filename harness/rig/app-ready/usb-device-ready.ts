// The application is up once its own USB device enumerates (a new enumeration, after the
// watch started): its VID:PID, and the serial number or physical port when given.
import type { Clock } from '../../clock/clock.js';
import { describeDevice, describeFilter, matchesFilter, type UsbBus, type UsbDeviceFilter, type UsbDeviceInfo } from '../../usb/transport.js';
import {
  AppNotReadyError, AppReadyCancelled, ReadyLatch, identityFromGroups, type AppIdentity, type AppReadyCheck, type AppReadyWatch,
} from './app-ready.js';

/** Options of {@link UsbDeviceReady}. */
export interface UsbDeviceReadyOptions {
  /** The application's own VID:PID, and optionally its serial number and port path. */
  device: UsbDeviceFilter & { vendorId: number; productId: number };
  /** Matched against the device's product string; named groups `name` and `version` give its identity. */
  productPattern?: RegExp;
}

const key = (d: UsbDeviceInfo): string => `${d.portPath}#${d.deviceAddress}`;

/** The application is up when its USB device appears on the bus. */
export class UsbDeviceReady implements AppReadyCheck {
  readonly form = 'usb-device' as const;

  constructor(private readonly options: UsbDeviceReadyOptions, private readonly io: { clock: Clock; bus: UsbBus }) {}

  describe(): string {
    return `USB device ${describeFilter(this.options.device)}`;
  }

  arm(): AppReadyWatch {
    const { bus } = this.io;
    const filter = this.options.device;
    let unwatch = (): void => undefined;
    const latch = new ReadyLatch(this.io.clock, this.form, () => unwatch());
    const found = (device: UsbDeviceInfo): void => { void this.identify(device).then((seen) => latch.seen(seen.evidence, seen.identity)); };
    // An enumeration present before the watch is the application before its reset, not after it.
    const before = bus.list(filter).then((present) => new Set(present.map(key)));
    unwatch = bus.watch((event) => {
      if (event.type === 'attach' && matchesFilter(event.device, filter)) found(event.device);
    });
    void before.then(async (old) => {
      const fresh = (await bus.list(filter)).find((d) => !old.has(key(d)));
      if (fresh) found(fresh);
    });
    return {
      wait: (timeoutMs) => latch.wait(timeoutMs, () => new AppNotReadyError(this.form,
        `no USB device matching ${describeFilter(filter)} enumerated within ${timeoutMs} ms`,
        'Check the application\'s VID:PID in rigs.yaml (usb.app), that its USB cable is on the host, and that it connects its USB device at every boot (`dfu-hil devices` lists what is there).')),
      cancel: () => latch.fail(new AppReadyCancelled(this.form)),
    };
  }

  /** The device, and its product string when it can be read (a device that refuses to open still counts as up). */
  private async identify(device: UsbDeviceInfo): Promise<{ evidence: string; identity?: AppIdentity }> {
    let product: string | undefined;
    try {
      const transport = await this.io.bus.open(device);
      try { product = (await transport.describe()).product; } finally { await transport.close(); }
    } catch {
      product = undefined;
    }
    const evidence = product === undefined ? describeDevice(device) : `${describeDevice(device)} "${product}"`;
    const match = product !== undefined && this.options.productPattern ? this.options.productPattern.exec(product) : null;
    const identity = identityFromGroups(match?.groups);
    return identity ? { evidence, identity } : { evidence };
  }
}
