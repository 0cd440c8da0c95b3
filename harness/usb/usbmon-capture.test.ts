import { describe, expect, it } from 'vitest';
import { getDescriptorSetup } from './descriptors.js';
import type { TraceEntry } from './trace.js';
import { LINKTYPE_USB_LINUX_MMAPPED, usbAddressOf, usbmonCapture } from './usbmon-capture.js';

const getStatus = { bmRequestType: 0xa1, bRequest: 3, wValue: 0, wIndex: 0, wLength: 6 };
const dnload = { bmRequestType: 0x21, bRequest: 1, wValue: 2, wIndex: 0, wLength: 2048 };

/** The fields of struct usbmon_packet (Linux Documentation/usb/usbmon.rst) that a reader uses. */
function header(data: Uint8Array) {
  const v = new DataView(data.buffer, data.byteOffset, data.length);
  return {
    id: v.getBigUint64(0, true), type: String.fromCharCode(v.getUint8(8)), transfer: v.getUint8(9), endpoint: v.getUint8(10),
    device: v.getUint8(11), bus: v.getUint16(12, true), setupFlag: v.getUint8(14), dataFlag: v.getUint8(15),
    sec: Number(v.getBigInt64(16, true)), usec: v.getInt32(24, true), status: v.getInt32(28, true),
    length: v.getUint32(32, true), captured: v.getUint32(36, true), setup: [...data.subarray(40, 48)], data: [...data.subarray(64)],
  };
}

describe('usbmonCapture', () => {
  it('reads bus and address from the trace\'s device label', () => {
    expect(usbAddressOf('3-4.2#17')).toEqual({ bus: 3, address: 17 });
    expect(usbAddressOf('sim#5')).toEqual({ bus: 1, address: 5 });
  });

  it('turns an IN transfer into a submission with the setup packet and a completion with the data', () => {
    const entries: TraceEntry[] = [{ t: 1234.5, device: '1-1#2', kind: 'control', setup: getStatus, data: Uint8Array.of(0, 0, 0, 0, 2, 0), length: 6, result: 'ok' }];
    const capture = usbmonCapture(entries, { epochMs: 1_000_000 });
    expect(capture.linkType).toBe(LINKTYPE_USB_LINUX_MMAPPED);
    const [s, c] = capture.packets.map((p) => header(p.data));
    expect(s).toMatchObject({ type: 'S', transfer: 2, endpoint: 0x80, device: 2, bus: 1, setupFlag: 0, dataFlag: 0x3c, sec: 1001, usec: 234_500, status: -115, length: 6, captured: 0 });
    expect(s!.setup).toEqual([0xa1, 3, 0, 0, 0, 0, 6, 0]);
    expect(c).toMatchObject({ type: 'C', setupFlag: 0x2d, dataFlag: 0, status: 0, length: 6, captured: 6, data: [0, 0, 0, 0, 2, 0] });
    expect(c!.id).toBe(s!.id);
    expect(capture.packets[0]!.timestampUs).toBe(1_001_234_500n);
  });

  it('keeps OUT data with the submission and marks data the trace clipped', () => {
    const entries: TraceEntry[] = [{ t: 0, device: '1-1#2', kind: 'control', setup: dnload, data: new Uint8Array(16).fill(0xab), length: 2048, result: 'ok' }];
    const [s, c] = usbmonCapture(entries).packets;
    expect(header(s!.data)).toMatchObject({ endpoint: 0, dataFlag: 0, length: 2048, captured: 16 });
    expect(s!.originalLength).toBe(64 + 2048);
    expect(header(c!.data)).toMatchObject({ dataFlag: 0x3e, length: 2048, captured: 0, status: 0 });
    expect(c!.originalLength).toBe(64);
  });

  it('reports failures with the URB status Linux gives them, and says which', () => {
    const failed = (result: string): TraceEntry => ({ t: 0, device: '1-1#2', kind: 'control', setup: getStatus, result });
    const statuses = ['stall', 'no-device', 'timeout', 'io'].map((r) => {
      const [, c] = usbmonCapture([failed(r)]).packets;
      return [header(c!.data).status, c!.comment];
    });
    expect(statuses).toEqual([[-32, 'result: stall'], [-108, 'result: no-device'], [-104, 'result: timeout'], [-71, 'result: io']]);
  });

  it('puts attach, detach and reset on the next packet of the device, or on the file', () => {
    const entries: TraceEntry[] = [
      { t: 0, device: '1-1#2', kind: 'attach', result: 'ok' },
      { t: 1, device: '1-1#2', kind: 'control', setup: getStatus, data: new Uint8Array(6), length: 6, result: 'ok' },
      { t: 2, device: '1-1#2', kind: 'detach', result: 'ok' },
    ];
    const capture = usbmonCapture(entries, { comment: 'test' });
    expect(capture.packets.map((p) => p.comment)).toEqual(['1-1#2 attach', undefined]);
    expect(capture.comment).toBe('test\nafter the last transfer: 1-1#2 detach');
  });

  it('shows a device\'s enumeration reads before its first transfer, once', () => {
    const device = Uint8Array.of(18, 1, 0, 2, 0, 0, 0, 64, 0x83, 0x04, 0x11, 0xdf, 0, 2, 1, 2, 3, 1);
    const entries: TraceEntry[] = [0, 1].map((t) => ({ t, device: '1-1#2', kind: 'control', setup: getStatus, data: new Uint8Array(6), length: 6, result: 'ok' }));
    const capture = usbmonCapture(entries, { enumeration: () => [{ setup: getDescriptorSetup(1, 0, 18), data: device }] });
    const headers = capture.packets.map((p) => header(p.data));
    expect(headers.map((h) => `${h.type}${h.setup[1]}`)).toEqual(['S6', 'C0', 'S3', 'C0', 'S3', 'C0']);
    expect(headers[1]!.data).toEqual([...device]);
    expect(capture.packets[1]!.comment).toBe('descriptor read at enumeration');
  });
});
