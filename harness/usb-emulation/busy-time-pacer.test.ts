import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import type { GadgetReply, UsbGadget } from '../usb/gadget.js';
import { UsbSocket } from '../usb/gadget.js';
import type { SetupPacket } from '../usb/spec.js';
import { BusyTimePacer } from './busy-time-pacer.js';
import { EmulatedUsbBus, type EmulationBridge } from './emulated-usb-bus.js';
import type { EmulatedDeviceHandlers } from './umockdev-bridge.js';

/** A device busy until `busyUntil` on the board's clock: it holds requests until then, as the simulated ROM does. */
class BusyGadget implements UsbGadget {
  busyUntil = 0;
  constructor(private readonly clock: VirtualClock) {}

  async control(setup: SetupPacket): Promise<GadgetReply> {
    if (setup.bmRequestType === 0x80 && setup.bRequest === 6) return { type: 'ack', data: deviceDescriptor(setup.wValue >> 8) };
    const wait = this.busyUntil - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
    return { type: 'ack', data: Uint8Array.of(this.clock.now() >= this.busyUntil ? 1 : 0) };
  }

  busReset(): void {}
}

function deviceDescriptor(type: number): Uint8Array {
  if (type === 1) return Uint8Array.of(18, 1, 0, 2, 0, 0, 0, 64, 0x83, 0x04, 0x11, 0xdf, 0, 2, 1, 2, 3, 1);
  return Uint8Array.of(9, 2, 9, 0, 0, 1, 0, 0xc0, 0x32);
}

/** The bridge's side, recorded: replies arrive with the wall time they were sent at. */
class FakeBridge implements EmulationBridge {
  readonly running = true;
  readonly replies: Array<{ tag: number; wall: number }> = [];
  handlers: EmulatedDeviceHandlers | undefined;
  constructor(private readonly wall: VirtualClock) {}

  async add(_device: unknown, handlers: EmulatedDeviceHandlers): Promise<{ id: number; busNumber: number; address: number }> {
    this.handlers = handlers;
    return { id: 1, busNumber: 1, address: 2 };
  }

  async remove(): Promise<void> {}

  reply(tag: number): void {
    this.replies.push({ tag, wall: this.wall.now() });
  }
}

const status = (tag: number) => ({ tag, deviceId: 1, setup: { bmRequestType: 0xa1, bRequest: 3, wValue: 0, wIndex: 0, wLength: 6 }, data: new Uint8Array() });

async function setup(busyTimeScale: number) {
  const board = new VirtualClock();
  const wall = new VirtualClock({ startMs: 1_000_000 });
  const bridge = new FakeBridge(wall);
  const gadget = new BusyGadget(board);
  const socket = new UsbSocket('1-1');
  socket.plug(gadget);
  const bus = new EmulatedUsbBus(bridge, { clock: board, busyTimeScale, wallClock: wall });
  bus.addConnector(socket);
  await bus.settled();
  /** Sends one request and resolves with the wall time its answer went out. */
  const request = async (tag: number): Promise<number> => {
    bridge.handlers!.control(status(tag));
    await wall.sleep(0);
    for (let i = 0; i < 200 && !bridge.replies.some((r) => r.tag === tag); i++) await new Promise((r) => setTimeout(r, 1));
    return bridge.replies.find((r) => r.tag === tag)!.wall;
  };
  return { board, wall, gadget, request };
}

describe('BusyTimePacer under the USB emulation', () => {
  it('holds the answer for the device-busy time in wall time, scaled', async () => {
    const { board, wall, gadget, request } = await setup(1);
    await request(1);
    gadget.busyUntil = board.now() + 1100;
    const sent = wall.now();
    expect(await request(2) - sent).toBe(1100);
  });

  it('counts the wall time the client waited before asking: a client that slept bwPollTimeout waits only the rest', async () => {
    const { board, wall, gadget, request } = await setup(1);
    await request(1);
    gadget.busyUntil = board.now() + 1100;
    await wall.sleep(1000);
    const sent = wall.now();
    expect(await request(2) - sent).toBe(100);
  });

  it('scales: 0.1 makes an 8.8 s erase last 880 ms', async () => {
    const { board, wall, gadget, request } = await setup(0.1);
    await request(1);
    gadget.busyUntil = board.now() + 8800;
    const sent = wall.now();
    expect(await request(2) - sent).toBe(880);
  });

  it('does not pace without a scale: the board keeps pure virtual time', async () => {
    const { board, wall, gadget, request } = await setup(0);
    await request(1);
    gadget.busyUntil = board.now() + 8800;
    const sent = wall.now();
    expect(await request(2)).toBe(sent);
    expect(board.now()).toBeGreaterThanOrEqual(8800);
  });

  it('refuses a scale that is not a positive number', () => {
    expect(() => new BusyTimePacer(new VirtualClock(), new VirtualClock(), -1)).toThrow(RangeError);
  });
});
