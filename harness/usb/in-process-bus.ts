import { spendTime, withDeadline, type Clock } from '../clock/clock.js';
import { WholeMsCarry } from '../clock/whole-ms-carry.js';
import { ControlTransport } from './control-transport.js';
import { decodeDeviceDescriptor, decodeStringDescriptor, getDescriptorSetup } from './descriptors.js';
import { UsbError } from './errors.js';
import type { UsbConnector, UsbGadget } from './gadget.js';
import { fullSpeedTransferTime } from './full-speed-timing.js';
import { DescriptorType, LANGID_EN_US, RequestRecipient, StandardRequest, type SetupPacket } from './spec.js';
import { TransferTrace, type TraceEntry } from './trace.js';
import {
  describeDevice, describeFilter, matchesFilter,
  type UsbBus, type UsbBusEvent, type UsbDeviceFilter, type UsbDeviceInfo, type UsbTransport,
} from './transport.js';

/** Options for {@link InProcessUsbBus}. */
export interface InProcessUsbBusOptions {
  clock: Clock;
  /** Shared by every transport the bus opens, so one trace follows a board through re-enumerations. */
  trace?: TransferTrace;
  /** Time one control transfer takes on the wire, in ms (fractions kept); default: full-speed packet timing. */
  transferTimeMs?: (setup: SetupPacket, bytes: number) => number;
  busNumber?: number;
}

interface Enumeration {
  info: UsbDeviceInfo;
  gadget: UsbGadget;
  connector: UsbConnector;
}

/**
 * A USB bus inside the process: simulated boards plug gadgets into connectors, and host code
 * sees them through the same {@link UsbBus}/{@link UsbTransport} interfaces as libusb devices.
 * Enumeration reads descriptors over control transfers, as a real host does.
 */
export class InProcessUsbBus implements UsbBus {
  readonly trace: TransferTrace;
  private readonly clock: Clock;
  private readonly transferTime: (setup: SetupPacket, bytes: number) => number;
  private readonly busNumber: number;
  private nextAddress = 2;
  private readonly present = new Map<string, Enumeration>();
  private readonly listeners = new Set<(event: UsbBusEvent) => void>();
  private readonly unwatch: Array<() => void> = [];
  private pending: Promise<void> = Promise.resolve();
  /** One wire, one carry: fractions of a millisecond add up across every transport on this bus. */
  private readonly wireCarry = new WholeMsCarry();

  constructor(options: InProcessUsbBusOptions) {
    this.clock = options.clock;
    this.trace = options.trace ?? new TransferTrace();
    this.transferTime = options.transferTimeMs ?? fullSpeedTransferTime;
    this.busNumber = options.busNumber ?? 1;
  }

  /** Plugs a connector into the bus; a gadget already on it enumerates now. */
  addConnector(connector: UsbConnector): void {
    this.unwatch.push(connector.watch((gadget) => this.queue(() => this.onConnectorChange(connector, gadget))));
    const gadget = connector.current();
    if (gadget) this.queue(() => this.onConnectorChange(connector, gadget));
  }

  /** Stops watching every connector. */
  dispose(): void {
    for (const u of this.unwatch.splice(0)) u();
  }

  async list(filter: UsbDeviceFilter = {}): Promise<UsbDeviceInfo[]> {
    await this.pending;
    return [...this.present.values()].map((e) => e.info).filter((d) => matchesFilter(d, filter));
  }

  async open(device: UsbDeviceInfo): Promise<UsbTransport> {
    await this.pending;
    const e = this.present.get(device.portPath);
    if (!e || e.info.deviceAddress !== device.deviceAddress) {
      throw new UsbError('no-device', `cannot open ${describeDevice(device)}: it is no longer on the bus`);
    }
    return new InProcessTransport(this, e, this.clock, this.trace, this.transferTime, this.wireCarry);
  }

  async waitForDevice(filter: UsbDeviceFilter, timeoutMs: number): Promise<UsbDeviceInfo> {
    let stop = (): void => undefined;
    const arrived = new Promise<UsbDeviceInfo>((resolve) => {
      stop = this.watch((event) => {
        if (event.type === 'attach' && matchesFilter(event.device, filter)) resolve(event.device);
      });
      void this.list(filter).then((now) => { if (now[0]) resolve(now[0]); });
    });
    try {
      return await withDeadline(this.clock, timeoutMs, arrived,
        () => new UsbError('not-found', `no device matching ${describeFilter(filter)} appeared within ${timeoutMs} ms`));
    } finally {
      stop();
    }
  }

  async waitForDetach(device: UsbDeviceInfo, timeoutMs: number): Promise<void> {
    let stop = (): void => undefined;
    const gone = new Promise<void>((resolve) => {
      stop = this.watch((event) => {
        if (event.type === 'detach' && event.device.portPath === device.portPath && event.device.deviceAddress === device.deviceAddress) resolve();
      });
      void this.pending.then(() => { if (!this.isPresent(device)) resolve(); });
    });
    try {
      await withDeadline(this.clock, timeoutMs, gone,
        () => new UsbError('timeout', `${describeDevice(device)} was still on the bus after ${timeoutMs} ms`));
    } finally {
      stop();
    }
  }

  watch(listener: (event: UsbBusEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every attach and detach seen so far has been handled. */
  settled(): Promise<void> {
    return this.pending;
  }

  /** True while this enumeration of `device` is on the bus. */
  isPresent(device: UsbDeviceInfo): boolean {
    const e = this.present.get(device.portPath);
    return e !== undefined && e.info.deviceAddress === device.deviceAddress;
  }

  private queue(step: () => Promise<void>): void {
    this.pending = this.pending.then(step, step);
  }

  private emit(event: UsbBusEvent): void {
    for (const l of [...this.listeners]) l(event);
  }

  private async onConnectorChange(connector: UsbConnector, gadget: UsbGadget | undefined): Promise<void> {
    const before = this.present.get(connector.portPath);
    if (before && before.gadget === gadget) return;
    if (before) {
      this.present.delete(connector.portPath);
      this.trace.record({ t: this.clock.now(), device: `${connector.portPath}#${before.info.deviceAddress}`, kind: 'detach', result: 'ok' });
      this.emit({ type: 'detach', device: before.info });
    }
    if (!gadget || connector.current() !== gadget) return;
    const info = await this.enumerate(connector, gadget);
    if (!info || connector.current() !== gadget) return;
    this.present.set(connector.portPath, { info, gadget, connector });
    this.trace.record({ t: this.clock.now(), device: `${connector.portPath}#${info.deviceAddress}`, kind: 'attach', result: 'ok' });
    this.emit({ type: 'attach', device: info });
  }

  /** Reads the identity a host learns at enumeration; a gadget that fails it never appears. */
  private async enumerate(connector: UsbConnector, gadget: UsbGadget): Promise<UsbDeviceInfo | undefined> {
    const ask = async (setup: SetupPacket): Promise<Uint8Array | undefined> => {
      const reply = await gadget.control(setup, undefined);
      return reply.type === 'ack' ? (reply.data ?? new Uint8Array()).slice(0, setup.wLength) : undefined;
    };
    const raw = await ask(getDescriptorSetup(DescriptorType.Device, 0, 18));
    if (!raw) return undefined;
    const device = decodeDeviceDescriptor(raw);
    let serialNumber: string | undefined;
    if (device.iSerialNumber !== 0) {
      const s = await ask(getDescriptorSetup(DescriptorType.String, device.iSerialNumber, 255, LANGID_EN_US));
      serialNumber = s ? decodeStringDescriptor(s) : undefined;
    }
    return {
      vendorId: device.idVendor, productId: device.idProduct, serialNumber,
      portPath: connector.portPath, busNumber: this.busNumber, deviceAddress: this.nextAddress++ & 0x7f || 1,
    };
  }
}

/** What an OUT transfer returns: nothing, shared rather than allocated per transfer. */
const NO_DATA = new Uint8Array(0);

class InProcessTransport extends ControlTransport implements UsbTransport {
  private closed = false;

  constructor(
    private readonly bus: InProcessUsbBus,
    private readonly enumeration: Enumeration,
    private readonly clock: Clock,
    trace: TransferTrace,
    private readonly transferTime: (setup: SetupPacket, bytes: number) => number,
    private readonly wireCarry: WholeMsCarry,
  ) {
    super(enumeration.info, trace);
  }

  async claimInterface(interfaceNumber: number): Promise<void> {
    this.assertUsable(`claim interface ${interfaceNumber}`);
  }

  async selectAltSetting(interfaceNumber: number, alternateSetting: number): Promise<void> {
    await this.transfer({
      bmRequestType: RequestRecipient.Interface, bRequest: StandardRequest.SetInterface,
      wValue: alternateSetting, wIndex: interfaceNumber, wLength: 0,
    }, new Uint8Array(), 1000, true);
  }

  async reset(): Promise<void> {
    this.assertUsable('reset');
    this.trace.record({ t: this.clock.now(), device: this.label, kind: 'reset', result: 'ok' });
    this.enumeration.gadget.busReset();
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private assertUsable(what: string): void {
    if (this.closed) throw new UsbError('invalid', `${what} on ${describeDevice(this.info)}: the transport is closed`);
    if (!this.bus.isPresent(this.info)) throw new UsbError('no-device', `${what}: ${describeDevice(this.info)} has left the bus`);
  }

  /** Records one transfer in the trace (enumeration reads are not traced). */
  private recordTransfer(traced: boolean, setup: SetupPacket, result: string, bytes?: Uint8Array): void {
    if (!traced) return;
    const entry: TraceEntry = { t: this.clock.now(), device: this.label, kind: 'control', setup, result };
    if (bytes && bytes.length > 0) {
      entry.data = bytes;
      entry.length = bytes.length;
    }
    this.trace.record(entry);
  }

  protected async transfer(setup: SetupPacket, data: Uint8Array | undefined, timeoutMs: number, traced: boolean): Promise<Uint8Array> {
    try {
      this.assertUsable('control transfer');
    } catch (error) {
      this.recordTransfer(traced, setup, (error as UsbError).failure);
      throw error;
    }
    // A device that NAKs (busy erasing, say) answers late; the host gives up at its timeout.
    const started = this.clock.now();
    const answer = this.enumeration.gadget.control(setup, data);
    // Only a late answer needs a deadline: one given at once cannot time out.
    const reply = !(answer instanceof Promise) ? answer : await withDeadline(this.clock, timeoutMs, answer, () => {
      this.recordTransfer(traced, setup, 'timeout', data);
      return new UsbError('timeout', `no answer to request 0x${setup.bRequest.toString(16)} within ${timeoutMs} ms`);
    });
    // The wire time overlaps any time the device spent NAKing; what is left is waited in whole ms.
    const wire = this.transferTime(setup, data?.length ?? (reply.type === 'ack' ? Math.min(reply.data?.length ?? 0, setup.wLength) : 0));
    const wait = this.wireCarry.take(wire - (this.clock.now() - started));
    if (wait > 0) await spendTime(this.clock, wait);
    switch (reply.type) {
      case 'ack': {
        const inData = data === undefined ? (reply.data ?? NO_DATA).slice(0, setup.wLength) : NO_DATA;
        this.recordTransfer(traced, setup, 'ok', data ?? inData);
        return inData;
      }
      case 'stall':
        this.recordTransfer(traced, setup, 'stall', data);
        throw new UsbError('stall', `device stalled request 0x${setup.bRequest.toString(16)} (wValue ${setup.wValue})`);
      case 'disconnected':
        // The bus sees the device go before the host sees its transfer fail.
        await this.bus.settled();
        this.recordTransfer(traced, setup, 'no-device', data);
        throw new UsbError('no-device', `${describeDevice(this.info)} dropped off the bus during request 0x${setup.bRequest.toString(16)}`);
      case 'silent': {
        await this.clock.sleep(Math.max(0, timeoutMs - (this.clock.now() - started)));
        const failure = this.bus.isPresent(this.info) ? 'timeout' : 'no-device';
        this.recordTransfer(traced, setup, failure, data);
        throw new UsbError(failure, `no answer to request 0x${setup.bRequest.toString(16)} within ${timeoutMs} ms`);
      }
    }
  }
}
