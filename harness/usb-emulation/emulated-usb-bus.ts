import { holdTime, releaseTime, systemClock, type Clock } from '../clock/clock.js';
import { getDescriptorSetup } from '../usb/descriptors.js';
import type { GadgetReply, UsbConnector, UsbGadget } from '../usb/gadget.js';
import { DescriptorType, isDeviceToHost, type SetupPacket } from '../usb/spec.js';
import { BusyTimePacer } from './busy-time-pacer.js';
import { UsbEmulationError } from './errors.js';
import type { ForwardedControl, UmockdevBridge } from './umockdev-bridge.js';

/** What the bus needs of the bridge process (a stand-in in tests). */
export type EmulationBridge = Pick<UmockdevBridge, 'add' | 'remove' | 'reply' | 'running'>;

/** URB statuses a real host controller reports (negated errnos, as in `urb->status`). */
const UrbStatus = { Stall: -32 /* EPIPE */, Shutdown: -108 /* ESHUTDOWN */, Protocol: -71 /* EPROTO */ } as const;

/** A change on the emulated bus, after umockdev has announced it. */
export interface EmulatedBusChange {
  type: 'attach' | 'detach';
  busNumber: number;
  address: number;
}

/** Options of {@link EmulatedUsbBus}. */
export interface EmulatedUsbBusOptions {
  /** The simulated board's clock: held still while the bus changes, released while a device works. */
  clock: Clock;
  /**
   * Waits until host software in this process has seen a change (libusb's hotplug thread runs in
   * real time); meanwhile the simulated board's clock is held.
   */
  settle?: (change: EmulatedBusChange) => Promise<void>;
  /** Link speed reported in sysfs, Mb/s; the STM32H7's OTG_FS runs at full speed. */
  speedMbps?: number;
  /**
   * Wall milliseconds per virtual millisecond of device-busy time, for real clients (see
   * busy-time-pacer.ts); absent or 0: no pacing, the board keeps pure virtual time.
   */
  busyTimeScale?: number;
  /** Real time, for the pacing; default the system clock. */
  wallClock?: Clock;
}

interface Presence {
  id: number;
  gadget: UsbGadget;
  address: number;
  gone: boolean;
}

/**
 * The device side of the USB emulation: gadgets that simulated boards plug into connectors appear
 * to libusb programs as real devices on bus 1, and leave it when unplugged. Every control
 * transfer a program sends is answered by the gadget itself.
 */
export class EmulatedUsbBus {
  private readonly present = new Map<string, Presence>();
  private readonly unwatch: Array<() => void> = [];
  private pending: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  private readonly pacer: BusyTimePacer | undefined;

  constructor(private readonly bridge: EmulationBridge, private readonly options: EmulatedUsbBusOptions) {
    const scale = options.busyTimeScale ?? 0;
    this.pacer = scale > 0 ? new BusyTimePacer(options.clock, options.wallClock ?? systemClock, scale) : undefined;
  }

  /** Follows `connector`: what it carries now, and every later change, appears on the emulated bus. */
  addConnector(connector: UsbConnector): void {
    const port = rootHubPort(connector.portPath);
    this.unwatch.push(connector.watch((gadget) => this.queue(() => this.follow(connector, port, gadget))));
    this.queue(() => this.follow(connector, port, connector.current()));
  }

  /** Resolves when every connector change so far is on the emulated bus; rejects if one failed. */
  async settled(): Promise<void> {
    await this.pending;
    if (this.failure) throw this.failure;
  }

  /** Stops following connectors and takes their devices off the bus. */
  async close(): Promise<void> {
    for (const u of this.unwatch.splice(0)) u();
    await this.pending;
    for (const [portPath, p] of [...this.present]) {
      this.present.delete(portPath);
      p.gone = true;
      if (this.bridge.running) await this.bridge.remove(p.id).catch(() => undefined);
    }
  }

  private queue(step: () => Promise<void>): void {
    // Connector changes reach the bus one at a time and in order, with the board's time held
    // still, as a hub reports them.
    this.pending = this.pending.then(() => holdTime(this.options.clock, step())).catch((error: unknown) => {
      this.failure ??= error instanceof Error ? error : new Error(String(error));
    });
  }

  private async follow(connector: UsbConnector, port: number, gadget: UsbGadget | undefined): Promise<void> {
    const before = this.present.get(connector.portPath);
    if (before && before.gadget === gadget) return;
    if (before) {
      this.present.delete(connector.portPath);
      before.gone = true;
      await this.bridge.remove(before.id);
      await this.options.settle?.({ type: 'detach', busNumber: 1, address: before.address });
    }
    if (!gadget || connector.current() !== gadget) return;
    const descriptors = await readDescriptors(gadget);
    // A gadget that fails enumeration never appears, as on a real hub.
    if (!descriptors || connector.current() !== gadget) return;
    const presence: Presence = { id: 0, gadget, address: 0, gone: false };
    const added = await this.bridge.add(
      { port, speedMbps: this.options.speedMbps ?? 12, descriptors },
      { control: (t) => this.serve(presence, t), reset: () => { if (!presence.gone) gadget.busReset(); } },
    );
    presence.id = added.id;
    presence.address = added.address;
    this.present.set(connector.portPath, presence);
    await this.options.settle?.({ type: 'attach', busNumber: added.busNumber, address: added.address });
  }

  private serve(presence: Presence, transfer: ForwardedControl): void {
    const { setup, tag } = transfer;
    if (presence.gone) {
      this.bridge.reply(tag, UrbStatus.Shutdown);
      return;
    }
    const isIn = isDeviceToHost(setup);
    const pacer = this.pacer;
    const arrival = pacer?.arrive();
    const work = Promise.resolve().then(() => presence.gadget.control(setup, isIn ? undefined : transfer.data));
    void releaseTime(this.options.clock, work).then(
      async (reply) => {
        if (pacer && arrival) await pacer.settle(arrival);
        this.answer(tag, setup, reply);
        pacer?.answered();
      },
      () => this.bridge.reply(tag, UrbStatus.Protocol),
    );
  }

  private answer(tag: number, setup: SetupPacket, reply: GadgetReply): void {
    switch (reply.type) {
      case 'ack': this.bridge.reply(tag, 0, isDeviceToHost(setup) ? (reply.data ?? new Uint8Array()).subarray(0, setup.wLength) : undefined); break;
      case 'stall': this.bridge.reply(tag, UrbStatus.Stall); break;
      case 'disconnected': this.bridge.reply(tag, UrbStatus.Shutdown); break;
      // No answer at all: the host's own timeout fires, as with a hung device.
      case 'silent': break;
    }
  }
}

/** The emulation has one root hub: "1-4" is port 4 on it. */
function rootHubPort(portPath: string): number {
  const m = /^1-(\d{1,3})$/.exec(portPath);
  const port = m ? Number(m[1]) : NaN;
  if (!(port >= 1 && port <= 127)) {
    throw new UsbEmulationError(`the USB emulation puts devices on root-hub ports of bus 1 ("1-1" to "1-127"); port path "${portPath}" is not one`, {
      hint: 'Give the simulated rig a usb.portPath such as "1-1" in rigs.yaml.',
    });
  }
  return port;
}

/** What sysfs `descriptors` holds: the device descriptor, then every configuration's full set. */
async function readDescriptors(gadget: UsbGadget): Promise<Uint8Array | undefined> {
  const ask = async (setup: SetupPacket): Promise<Uint8Array | undefined> => {
    const reply = await gadget.control(setup, undefined);
    return reply.type === 'ack' ? (reply.data ?? new Uint8Array()).slice(0, setup.wLength) : undefined;
  };
  const device = await ask(getDescriptorSetup(DescriptorType.Device, 0, 18));
  if (!device || device.length < 18) return undefined;
  const parts = [device];
  for (let index = 0; index < device[17]!; index++) {
    const head = await ask(getDescriptorSetup(DescriptorType.Configuration, index, 9));
    if (!head || head.length < 4) return undefined;
    const full = await ask(getDescriptorSetup(DescriptorType.Configuration, index, head[2]! | (head[3]! << 8)));
    if (!full) return undefined;
    parts.push(full);
  }
  return Buffer.concat(parts);
}
