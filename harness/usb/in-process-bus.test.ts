import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import { encodeConfigurationDescriptor, encodeDeviceDescriptor, encodeLanguageList, encodeStringDescriptor } from './descriptors.js';
import { UsbError } from './errors.js';
import { UsbSocket, type GadgetReply, type UsbGadget } from './gadget.js';
import { InProcessUsbBus } from './in-process-bus.js';
import { DescriptorType, StandardRequest, type SetupPacket } from './spec.js';

/** A device with one DFU-mode interface and one vendor request whose answer the test scripts. */
class TestGadget implements UsbGadget {
  resets = 0;
  vendorReply: (setup: SetupPacket) => GadgetReply | Promise<GadgetReply> = () => ({ type: 'ack', data: Uint8Array.of(1, 2, 3, 4) });
  constructor(private readonly serial: string, private readonly pid = 0xdf11) {}
  control(setup: SetupPacket): GadgetReply | Promise<GadgetReply> {
    if (setup.bRequest === StandardRequest.GetDescriptor) {
      const type = setup.wValue >> 8;
      const index = setup.wValue & 0xff;
      if (type === DescriptorType.Device) {
        return { type: 'ack', data: encodeDeviceDescriptor({ bcdUSB: 0x200, bDeviceClass: 0, bDeviceSubClass: 0, bDeviceProtocol: 0, bMaxPacketSize0: 64,
          idVendor: 0x0483, idProduct: this.pid, bcdDevice: 0x200, iManufacturer: 1, iProduct: 0, iSerialNumber: 3, bNumConfigurations: 1 }) };
      }
      if (type === DescriptorType.Configuration) {
        return { type: 'ack', data: encodeConfigurationDescriptor({ bConfigurationValue: 1, iConfiguration: 0, bmAttributes: 0xc0, bMaxPower: 0x32,
          interfaces: [{ bInterfaceNumber: 0, bAlternateSetting: 0, bNumEndpoints: 0, bInterfaceClass: 0xfe, bInterfaceSubClass: 1, bInterfaceProtocol: 2, iInterface: 4 }],
          dfuFunctional: { bmAttributes: 0x0b, wDetachTimeOut: 255, wTransferSize: 1024, bcdDFUVersion: 0x011a } }) };
      }
      const strings: Record<number, string> = { 1: 'STMicroelectronics', 3: this.serial, 4: '@Internal Flash   /0x08000000/16*128Kg' };
      if (index === 0) return { type: 'ack', data: encodeLanguageList() };
      const text = strings[index];
      return text === undefined ? { type: 'stall' } : { type: 'ack', data: encodeStringDescriptor(text) };
    }
    if (setup.bRequest === StandardRequest.SetInterface) return { type: 'ack' };
    return this.vendorReply(setup);
  }
  busReset(): void { this.resets += 1; }
}

const vendorIn = (length: number): SetupPacket => ({ bmRequestType: 0xc0, bRequest: 0x42, wValue: 0, wIndex: 0, wLength: length });

function setup() {
  const clock = new VirtualClock();
  const bus = new InProcessUsbBus({ clock });
  const socket = new UsbSocket('1-2');
  bus.addConnector(socket);
  return { clock, bus, socket };
}

describe('InProcessUsbBus', () => {
  it('enumerates a gadget with its identity read from its descriptors', async () => {
    const { bus, socket } = setup();
    socket.plug(new TestGadget('200364500000'));
    const [device] = await bus.list();
    expect(device).toMatchObject({ vendorId: 0x0483, productId: 0xdf11, serialNumber: '200364500000', portPath: '1-2', busNumber: 1 });
  });

  it('resolves strings and the DFU functional descriptor through describe()', async () => {
    const { bus, socket } = setup();
    socket.plug(new TestGadget('200364500000'));
    const transport = await bus.open((await bus.list())[0]!);
    const d = await transport.describe();
    expect(d.manufacturer).toBe('STMicroelectronics');
    expect(d.configuration.interfaces[0]!.name).toBe('@Internal Flash   /0x08000000/16*128Kg');
    expect(d.configuration.dfuFunctional).toEqual({ bmAttributes: 0x0b, wDetachTimeOut: 255, wTransferSize: 1024, bcdDFUVersion: 0x011a });
  });

  it('keeps the descriptor reads of describe() whole beside the trace, not as entries', async () => {
    const { bus, socket } = setup();
    socket.plug(new TestGadget('200364500000'));
    const transport = await bus.open((await bus.list())[0]!);
    const before = transport.trace.mark();
    await transport.describe();
    expect(transport.trace.since(before)).toEqual([]);
    const reads = transport.trace.enumerationOf('1-2#2')!;
    expect(reads.map((r) => r.setup.wValue >> 8)).toEqual([1, 2, 2, 3, 3, 3]);
    // The whole configuration, past the 16 bytes the trace keeps of an entry's data.
    expect(reads[2]!.data.length).toBe(27);
    expect(reads[2]!.data[14]).toBe(0xfe);
  });

  it('truncates IN data to wLength and records each transfer in the trace', async () => {
    const { bus, socket, clock } = setup();
    socket.plug(new TestGadget('A'));
    const transport = await bus.open((await bus.list())[0]!);
    const before = transport.trace.mark();
    expect(Array.from(await transport.controlIn(vendorIn(2), 100))).toEqual([1, 2]);
    const [entry] = transport.trace.since(before);
    expect(entry).toMatchObject({ kind: 'control', result: 'ok', device: '1-2#2', length: 2 });
    expect(entry!.t).toBe(clock.now());
  });

  it('maps stall, silence and a mid-request disconnect to typed errors', async () => {
    const { bus, socket, clock } = setup();
    const gadget = new TestGadget('A');
    socket.plug(gadget);
    const transport = await bus.open((await bus.list())[0]!);
    gadget.vendorReply = () => ({ type: 'stall' });
    await expect(transport.controlIn(vendorIn(4), 100)).rejects.toMatchObject({ failure: 'stall' });
    gadget.vendorReply = () => ({ type: 'silent' });
    const t0 = clock.now();
    await expect(transport.controlIn(vendorIn(4), 250)).rejects.toMatchObject({ failure: 'timeout' });
    expect(clock.now() - t0).toBe(250);
    gadget.vendorReply = () => { socket.unplug(); return { type: 'disconnected' }; };
    const err = await transport.controlIn(vendorIn(4), 100).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsbError);
    expect((err as UsbError).failure).toBe('no-device');
    await expect(transport.controlIn(vendorIn(4), 100)).rejects.toMatchObject({ failure: 'no-device' });
  });

  it('times out a device that answers later than the host waits', async () => {
    const { bus, socket, clock } = setup();
    const gadget = new TestGadget('A');
    socket.plug(gadget);
    const transport = await bus.open((await bus.list())[0]!);
    gadget.vendorReply = async () => { await clock.sleep(5000); return { type: 'ack', data: Uint8Array.of(9) }; };
    await expect(transport.controlIn(vendorIn(1), 1000)).rejects.toMatchObject({ failure: 'timeout' });
  });

  it('waits for a device to appear, with a deadline, and sees it leave', async () => {
    const { bus, socket, clock } = setup();
    clock.setTimer(40, () => socket.plug(new TestGadget('B', 0xdf11)));
    const device = await bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 1000);
    expect(device.serialNumber).toBe('B');
    expect(clock.now()).toBeGreaterThanOrEqual(40);
    clock.setTimer(10, () => socket.unplug());
    await bus.waitForDetach(device, 1000);
    expect(await bus.list()).toEqual([]);
    await expect(bus.waitForDevice({ serialNumber: 'nope' }, 500)).rejects.toThrow('no device matching SN nope appeared within 500 ms');
  });

  it('gives each enumeration a new address, so a stale handle cannot talk to the new device', async () => {
    const { bus, socket } = setup();
    socket.plug(new TestGadget('A'));
    const first = (await bus.list())[0]!;
    const old = await bus.open(first);
    socket.plug(new TestGadget('A'));
    const second = (await bus.list())[0]!;
    expect(second.deviceAddress).not.toBe(first.deviceAddress);
    await expect(old.controlIn(vendorIn(1), 100)).rejects.toMatchObject({ failure: 'no-device' });
    await expect(bus.open(first)).rejects.toMatchObject({ failure: 'no-device' });
  });
});
