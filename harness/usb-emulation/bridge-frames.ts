// The frames the umockdev bridge (umockdev-bridge.c) and Node exchange over its stdin and
// stdout: u32 little-endian length of what follows, a type byte, then the payload.
import type { SetupPacket } from '../usb/spec.js';

/** Commands Node sends to the bridge. */
export const BridgeCommand = { Add: 0x01, Remove: 0x02, Reply: 0x03, Quit: 0x04 } as const;

/** What the bridge reports. */
export type BridgeEvent =
  | { type: 'ready'; rootDir: string }
  | { type: 'added'; id: number }
  | { type: 'removed'; id: number }
  | { type: 'control'; tag: number; id: number; setup: SetupPacket; data: Uint8Array }
  | { type: 'reset'; id: number }
  | { type: 'failed'; id: number; message: string };

/** A device to add to the emulated bus. */
export interface BridgeDevice {
  id: number;
  busNumber: number;
  address: number;
  /** Link speed in Mb/s as sysfs reports it: 12 for full speed. */
  speedMbps: number;
  /** Port on the root hub (the "4" in port path "1-4"). */
  port: number;
  /** Device descriptor followed by the configuration descriptor set, as sysfs `descriptors` holds them. */
  descriptors: Uint8Array;
}

function frame(type: number, payload: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt32LE(1 + payload.length, 0);
  out[4] = type;
  out.set(payload, 5);
  return out;
}

/** ADD: puts a device on the emulated bus. */
export function encodeAdd(device: BridgeDevice): Buffer {
  const head = Buffer.alloc(9);
  head.writeUInt32LE(device.id, 0);
  head[4] = device.busNumber;
  head[5] = device.address;
  head.writeUInt16LE(device.speedMbps, 6);
  head[8] = device.port;
  return frame(BridgeCommand.Add, Buffer.concat([head, device.descriptors]));
}

/** REMOVE: the device drops off the bus. */
export function encodeRemove(id: number): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32LE(id, 0);
  return frame(BridgeCommand.Remove, head);
}

/** REPLY: the outcome of a forwarded control transfer; `status` is 0 or a negated errno, as in a URB. */
export function encodeReply(tag: number, status: number, data: Uint8Array = new Uint8Array()): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(tag, 0);
  head.writeInt32LE(status, 4);
  return frame(BridgeCommand.Reply, Buffer.concat([head, data]));
}

/** QUIT: remove every device and delete the testbed. */
export function encodeQuit(): Buffer {
  return frame(BridgeCommand.Quit, new Uint8Array());
}

function decodeEvent(type: number, p: Buffer): BridgeEvent {
  const need = (n: number): void => {
    if (p.length < n) throw new Error(`bridge event 0x${type.toString(16)} is ${p.length} bytes, expected at least ${n}`);
  };
  switch (type) {
    case 0x81: return { type: 'ready', rootDir: p.toString('utf8') };
    case 0x82: need(4); return { type: 'added', id: p.readUInt32LE(0) };
    case 0x83: need(4); return { type: 'removed', id: p.readUInt32LE(0) };
    case 0x84:
      need(16);
      return {
        type: 'control', tag: p.readUInt32LE(0), id: p.readUInt32LE(4),
        setup: { bmRequestType: p[8]!, bRequest: p[9]!, wValue: p.readUInt16LE(10), wIndex: p.readUInt16LE(12), wLength: p.readUInt16LE(14) },
        data: new Uint8Array(p.subarray(16)),
      };
    case 0x85: need(4); return { type: 'reset', id: p.readUInt32LE(0) };
    case 0x86: need(4); return { type: 'failed', id: p.readUInt32LE(0), message: p.subarray(4).toString('utf8') };
    default: throw new Error(`unknown bridge event 0x${type.toString(16)}`);
  }
}

/** Splits the bridge's stdout into events, however the bytes arrive. */
export class BridgeEventReader {
  private pending = Buffer.alloc(0);

  /** Feeds bytes; returns every event they complete. */
  push(chunk: Uint8Array): BridgeEvent[] {
    this.pending = this.pending.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.pending, chunk]);
    const events: BridgeEvent[] = [];
    while (this.pending.length >= 4) {
      const length = this.pending.readUInt32LE(0);
      if (length < 1) throw new Error('bridge sent an empty frame');
      if (this.pending.length < 4 + length) break;
      events.push(decodeEvent(this.pending[4]!, this.pending.subarray(5, 4 + length)));
      this.pending = this.pending.subarray(4 + length);
    }
    return events;
  }
}
