import type * as usb from 'usb';
import type { Device } from 'usb';
import { holdTime, systemClock, type Clock } from '../clock/clock.js';
import { ControlTransport } from './control-transport.js';
import { UsbError } from './errors.js';
import { fromLibusbError } from './libusb-error.js';
import { RequestRecipient, StandardRequest, type SetupPacket } from './spec.js';
import { TransferTrace } from './trace.js';
import {
  describeDevice, describeFilter, matchesFilter,
  type UsbBus, type UsbBusEvent, type UsbDeviceFilter, type UsbDeviceInfo, type UsbTransport,
} from './transport.js';

/** Options for {@link LibusbBus}. */
export interface LibusbBusOptions {
  clock?: Clock;
  trace?: TransferTrace;
  /** How often to rescan the bus while waiting; polling also survives hosts without hotplug. */
  pollIntervalMs?: number;
}

type UsbModule = typeof usb;
let usbModule: UsbModule | undefined;

/**
 * Loads `usb` (and so initialises libusb) on first use rather than at import: libusb reads the
 * environment once, at init, and a process that emulates USB must set UMOCKDEV_DIR first.
 */
async function loadUsb(): Promise<UsbModule> {
  usbModule ??= await import('usb');
  return usbModule;
}

/** True once libusb has been initialised in this process. */
export function libusbLoaded(): boolean {
  return usbModule !== undefined;
}

async function getDeviceList(): Promise<Device[]> {
  return (await loadUsb()).getDeviceList();
}

/** libusb's port path: bus number, then the hub ports from the root ("1-4.2"). */
function portPathOf(device: Device): string {
  const ports = device.portNumbers ?? [];
  return ports.length > 0 ? `${device.busNumber}-${ports.join('.')}` : `${device.busNumber}`;
}

function callback<T>(run: (done: (error: unknown, value?: T) => void) => void, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    run((error, value) => (error ? reject(fromLibusbError(error, what)) : resolve(value as T)));
  });
}

/**
 * Real USB through libusb (the `usb` 2.x package). Devices are identified by VID:PID, serial
 * and port path, so two identical boards are never confused.
 */
export class LibusbBus implements UsbBus {
  readonly trace: TransferTrace;
  private readonly clock: Clock;
  private readonly pollIntervalMs: number;

  constructor(options: LibusbBusOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.trace = options.trace ?? new TransferTrace();
    this.pollIntervalMs = options.pollIntervalMs ?? 100;
  }

  async list(filter: UsbDeviceFilter = {}): Promise<UsbDeviceInfo[]> {
    const found: UsbDeviceInfo[] = [];
    for (const device of await getDeviceList()) {
      const d = device.deviceDescriptor;
      if (filter.vendorId !== undefined && d.idVendor !== filter.vendorId) continue;
      if (filter.productId !== undefined && d.idProduct !== filter.productId) continue;
      if (filter.portPath !== undefined && portPathOf(device) !== filter.portPath) continue;
      const info: UsbDeviceInfo = {
        vendorId: d.idVendor, productId: d.idProduct, serialNumber: await this.readSerial(device),
        portPath: portPathOf(device), busNumber: device.busNumber, deviceAddress: device.deviceAddress,
      };
      if (matchesFilter(info, filter)) found.push(info);
    }
    return found;
  }

  async open(info: UsbDeviceInfo): Promise<UsbTransport> {
    const device = await this.find(info);
    if (!device) throw new UsbError('no-device', `cannot open ${describeDevice(info)}: it is no longer on the bus`);
    try {
      device.open();
    } catch (error) {
      throw fromLibusbError(error, `open ${describeDevice(info)}`);
    }
    return new LibusbTransport(device, info, this.trace, this.clock);
  }

  async waitForDevice(filter: UsbDeviceFilter, timeoutMs: number): Promise<UsbDeviceInfo> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const [device] = await this.list(filter);
      if (device) return device;
      if (this.clock.now() >= deadline) {
        throw new UsbError('not-found', `no device matching ${describeFilter(filter)} appeared within ${timeoutMs} ms`);
      }
      await this.clock.sleep(Math.min(this.pollIntervalMs, deadline - this.clock.now()));
    }
  }

  async waitForDetach(info: UsbDeviceInfo, timeoutMs: number): Promise<void> {
    const deadline = this.clock.now() + timeoutMs;
    while (await this.find(info)) {
      if (this.clock.now() >= deadline) throw new UsbError('timeout', `${describeDevice(info)} was still on the bus after ${timeoutMs} ms`);
      await this.clock.sleep(Math.min(this.pollIntervalMs, deadline - this.clock.now()));
    }
  }

  watch(listener: (event: UsbBusEvent) => void): () => void {
    // Polling rather than libusb hotplug: it works on every platform and never loses a
    // remove/add pair that a fast re-enumeration collapses.
    let known = new Map<string, UsbDeviceInfo>();
    let stopped = false;
    const key = (d: UsbDeviceInfo): string => `${d.portPath}#${d.deviceAddress}`;
    const scan = async (): Promise<void> => {
      while (!stopped) {
        const now = new Map((await this.list()).map((d) => [key(d), d]));
        for (const [k, d] of known) if (!now.has(k)) listener({ type: 'detach', device: d });
        for (const [k, d] of now) if (!known.has(k)) listener({ type: 'attach', device: d });
        known = now;
        await this.clock.sleep(this.pollIntervalMs);
      }
    };
    void this.list().then((initial) => { known = new Map(initial.map((d) => [key(d), d])); void scan(); });
    return () => { stopped = true; };
  }

  /** True while this enumeration of `info` is on the bus. */
  async isPresent(info: UsbDeviceInfo): Promise<boolean> {
    return (await this.find(info)) !== undefined;
  }

  /**
   * Waits, in real time, until libusb lists (or no longer lists) the device at `address` on bus
   * `busNumber`. libusb learns of hotplug events on a thread of its own, a moment after the bus
   * changed; the USB emulation calls this so that a change is visible before the board goes on.
   */
  async waitUntilListed(busNumber: number, address: number, listed: boolean, timeoutMs = 5000): Promise<void> {
    const started = performance.now();
    const isListed = async (): Promise<boolean> => (await getDeviceList()).some((d) => d.busNumber === busNumber && d.deviceAddress === address);
    while ((await isListed()) !== listed) {
      if (performance.now() - started > timeoutMs) {
        throw new UsbError('timeout', `libusb still ${listed ? 'does not list' : 'lists'} device ${address} on bus ${busNumber} after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  private async find(info: UsbDeviceInfo): Promise<Device | undefined> {
    return (await getDeviceList()).find((d) => d.busNumber === info.busNumber && d.deviceAddress === info.deviceAddress && portPathOf(d) === info.portPath);
  }

  private async readSerial(device: Device): Promise<string | undefined> {
    const index = device.deviceDescriptor.iSerialNumber;
    if (index === 0) return undefined;
    try {
      device.open();
    } catch {
      // No permission or busy: list it without a serial rather than hide it.
      return undefined;
    }
    try {
      return await holdTime(this.clock, callback<string | undefined>((done) => device.getStringDescriptor(index, (e, s) => done(e, s)), 'read serial number'));
    } catch {
      return undefined;
    } finally {
      try { device.close(); } catch { /* already closed */ }
    }
  }
}

class LibusbTransport extends ControlTransport implements UsbTransport {
  constructor(private readonly device: Device, info: UsbDeviceInfo, trace: TransferTrace, private readonly clock: Clock) {
    super(info, trace);
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    try {
      this.device.interface(interfaceNumber).claim();
    } catch (error) {
      throw fromLibusbError(error, `claim interface ${interfaceNumber} of ${describeDevice(this.info)}`);
    }
  }

  async selectAltSetting(interfaceNumber: number, alternateSetting: number): Promise<void> {
    const setup: SetupPacket = { bmRequestType: RequestRecipient.Interface, bRequest: StandardRequest.SetInterface, wValue: alternateSetting, wIndex: interfaceNumber, wLength: 0 };
    try {
      await holdTime(this.clock, callback<void>((done) => this.device.interface(interfaceNumber).setAltSetting(alternateSetting, (e) => done(e)), `select alt setting ${alternateSetting}`));
      this.trace.record({ t: this.clock.now(), device: this.label, kind: 'control', setup, result: 'ok' });
    } catch (error) {
      this.trace.record({ t: this.clock.now(), device: this.label, kind: 'control', setup, result: (error as UsbError).failure });
      throw error;
    }
  }

  async reset(): Promise<void> {
    this.trace.record({ t: this.clock.now(), device: this.label, kind: 'reset', result: 'ok' });
    await holdTime(this.clock, callback<void>((done) => this.device.reset((e) => done(e)), `reset ${describeDevice(this.info)}`)).catch((error: UsbError) => {
      // A device that re-enumerates during the reset is gone from this handle: that is success.
      if (error.failure !== 'no-device') throw error;
    });
  }

  async close(): Promise<void> {
    try { this.device.close(); } catch { /* already closed or gone */ }
  }

  protected async transfer(setup: SetupPacket, data: Uint8Array | undefined, timeoutMs: number, traced: boolean): Promise<Uint8Array> {
    this.device.timeout = timeoutMs;
    const payload = data === undefined ? setup.wLength : Buffer.from(data.buffer, data.byteOffset, data.length);
    try {
      // Time is held while the transfer is on the wire: on a simulated board's virtual clock, a
      // deadline must not expire during real I/O that takes microseconds.
      const result = await holdTime(this.clock, callback<Buffer | number | undefined>(
        (done) => this.device.controlTransfer(setup.bmRequestType, setup.bRequest, setup.wValue, setup.wIndex, payload, (e, b) => done(e, b)),
        `request 0x${setup.bRequest.toString(16)} to ${describeDevice(this.info)}`,
      ));
      const inData = Buffer.isBuffer(result) ? new Uint8Array(result) : new Uint8Array();
      if (traced) this.trace.record({ t: this.clock.now(), device: this.label, kind: 'control', setup, result: 'ok', data: data ?? inData, length: (data ?? inData).length });
      return inData;
    } catch (error) {
      if (traced) this.trace.record({ t: this.clock.now(), device: this.label, kind: 'control', setup, result: (error as UsbError).failure ?? 'io' });
      throw error;
    }
  }
}
