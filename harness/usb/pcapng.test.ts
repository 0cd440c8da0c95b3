import { describe, expect, it } from 'vitest';
import { writePcapng } from './pcapng.js';

interface Block { type: number; body: DataView }

/** Walks the blocks the way a reader does: every block's two length fields must agree. */
function blocks(file: Uint8Array): Block[] {
  const view = new DataView(file.buffer, file.byteOffset, file.length);
  const out: Block[] = [];
  for (let at = 0; at < file.length;) {
    const type = view.getUint32(at, true);
    const total = view.getUint32(at + 4, true);
    expect(total % 4).toBe(0);
    expect(view.getUint32(at + total - 4, true)).toBe(total);
    out.push({ type, body: new DataView(file.buffer, file.byteOffset + at + 8, total - 12) });
    at += total;
  }
  return out;
}

/** Options from `offset` in a block body: code → text. */
function options(body: DataView, offset: number): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  for (let at = offset; at + 4 <= body.byteLength;) {
    const code = body.getUint16(at, true);
    const length = body.getUint16(at + 2, true);
    if (code === 0) break;
    out.set(code, new Uint8Array(body.buffer, body.byteOffset + at + 4, length));
    at += 4 + ((length + 3) & ~3);
  }
  return out;
}

const text = (bytes: Uint8Array | undefined): string => new TextDecoder().decode(bytes);

describe('writePcapng', () => {
  const file = writePcapng({
    linkType: 220, interfaceName: 'usbmon1', application: 'dfu-hil', comment: 'a capture',
    packets: [
      { timestampUs: 1_700_000_000_123_456n, data: Uint8Array.of(1, 2, 3, 4, 5), originalLength: 9, comment: 'first' },
      { timestampUs: 7n, data: Uint8Array.of(6, 7, 8, 9) },
    ],
  });
  const [shb, idb, ...epbs] = blocks(file);

  it('starts with a section header in little-endian order, length unknown', () => {
    expect(shb!.type).toBe(0x0a0d0d0a);
    expect(shb!.body.getUint32(0, true)).toBe(0x1a2b3c4d);
    expect([shb!.body.getUint16(4, true), shb!.body.getUint16(6, true)]).toEqual([1, 0]);
    expect(shb!.body.getBigInt64(8, true)).toBe(-1n);
    const o = options(shb!.body, 16);
    expect(text(o.get(1))).toBe('a capture');
    expect(text(o.get(4))).toBe('dfu-hil');
  });

  it('describes one interface with its link type and microsecond timestamps', () => {
    expect(idb!.type).toBe(1);
    expect(idb!.body.getUint16(0, true)).toBe(220);
    expect(idb!.body.getUint32(4, true)).toBe(0);
    const o = options(idb!.body, 8);
    expect(text(o.get(2))).toBe('usbmon1');
    expect([...o.get(9)!]).toEqual([6]);
  });

  it('writes each packet with its timestamp, captured and original length, padding and comment', () => {
    expect(epbs.map((b) => b.type)).toEqual([6, 6]);
    const [first, second] = epbs as [Block, Block];
    const ts = (b: Block): bigint => (BigInt(b.body.getUint32(4, true)) << 32n) | BigInt(b.body.getUint32(8, true));
    expect(ts(first)).toBe(1_700_000_000_123_456n);
    expect([first.body.getUint32(12, true), first.body.getUint32(16, true)]).toEqual([5, 9]);
    expect([...new Uint8Array(first.body.buffer, first.body.byteOffset + 20, 5)]).toEqual([1, 2, 3, 4, 5]);
    // Five data bytes padded to eight, then the options.
    expect(text(options(first.body, 28).get(1))).toBe('first');
    expect(ts(second)).toBe(7n);
    expect([second.body.getUint32(12, true), second.body.getUint32(16, true)]).toEqual([4, 4]);
    expect(second.body.byteLength).toBe(24);
  });
});
