import { describe, expect, it } from 'vitest';
import { BridgeEventReader, encodeAdd, encodeRemove, encodeReply } from './bridge-frames.js';
import { versionAtLeast } from './umockdev-support.js';

/** A frame as umockdev-bridge.c writes it: u32 LE length, type, payload. */
function frame(type: number, payload: number[]): Buffer {
  const out = Buffer.alloc(5 + payload.length);
  out.writeUInt32LE(1 + payload.length, 0);
  out[4] = type;
  out.set(payload, 5);
  return out;
}

describe('bridge frames', () => {
  it('encodes ADD with the fields the bridge reads, then the descriptors', () => {
    const bytes = encodeAdd({ id: 7, busNumber: 1, address: 5, speedMbps: 12, port: 3, descriptors: Uint8Array.from([0x12, 0x01]) });
    expect([...bytes]).toEqual([12, 0, 0, 0, 0x01, 7, 0, 0, 0, 1, 5, 12, 0, 3, 0x12, 0x01]);
  });

  it('encodes REPLY with a signed status (a STALL is -EPIPE) and REMOVE with the id', () => {
    expect([...encodeReply(0x01020304, -32, Uint8Array.from([9]))]).toEqual([10, 0, 0, 0, 0x03, 4, 3, 2, 1, 0xe0, 0xff, 0xff, 0xff, 9]);
    expect([...encodeRemove(2)]).toEqual([5, 0, 0, 0, 0x02, 2, 0, 0, 0]);
  });

  it('decodes a CONTROL split across chunks into its setup packet and OUT data', () => {
    const control = frame(0x84, [1, 0, 0, 0, 2, 0, 0, 0, 0x21, 0x01, 2, 0, 0, 0, 3, 0, 0xaa, 0xbb, 0xcc]);
    const reader = new BridgeEventReader();
    expect(reader.push(control.subarray(0, 7))).toEqual([]);
    const [event] = reader.push(control.subarray(7));
    expect(event).toEqual({
      type: 'control', tag: 1, id: 2,
      setup: { bmRequestType: 0x21, bRequest: 1, wValue: 2, wIndex: 0, wLength: 3 },
      data: Uint8Array.from([0xaa, 0xbb, 0xcc]),
    });
  });

  it('decodes several events from one chunk, in order', () => {
    const reader = new BridgeEventReader();
    const chunk = Buffer.concat([frame(0x81, [...Buffer.from('/tmp/umockdev.X')]), frame(0x82, [3, 0, 0, 0]), frame(0x86, [4, 0, 0, 0, ...Buffer.from('no')])]);
    expect(reader.push(chunk)).toEqual([
      { type: 'ready', rootDir: '/tmp/umockdev.X' }, { type: 'added', id: 3 }, { type: 'failed', id: 4, message: 'no' },
    ]);
  });

  it('refuses an unknown event or a truncated one instead of guessing', () => {
    expect(() => new BridgeEventReader().push(frame(0x99, []))).toThrow('unknown bridge event 0x99');
    expect(() => new BridgeEventReader().push(frame(0x84, [1, 2]))).toThrow('expected at least 16');
  });
});

describe('versionAtLeast', () => {
  it.each([
    ['0.17.16', false], ['0.18.3', false], ['0.18.4', true], ['0.19.0', true], ['1.0', true],
  ])('umockdev %s sends its own remove uevent: %s', (version, expected) => {
    expect(versionAtLeast(version, [0, 18, 4])).toBe(expected);
  });
});
