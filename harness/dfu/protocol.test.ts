import { describe, expect, it } from 'vitest';
import type { TraceEntry } from '../usb/trace.js';
import { describeDfuTransfers, dfuRequestNamer, dfuSetup, DfuRequest, encodeDfuseCommand, encodeStatus } from './protocol.js';

describe('dfuRequestNamer', () => {
  it('names class requests, DfuSe uses of DNLOAD/UPLOAD, and standard requests', () => {
    expect(dfuRequestNamer(dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6))).toBe('GETSTATUS');
    expect(dfuRequestNamer(dfuSetup(DfuRequest.Dnload, 'out', 0, 0, 5))).toBe('DNLOAD(cmd)');
    expect(dfuRequestNamer(dfuSetup(DfuRequest.Dnload, 'out', 0, 7, 1024))).toBe('DNLOAD#7');
    expect(dfuRequestNamer(dfuSetup(DfuRequest.Dnload, 'out', 0, 2, 0))).toBe('LEAVE');
    expect(dfuRequestNamer(dfuSetup(DfuRequest.Upload, 'in', 0, 0, 256))).toBe('UPLOAD(get)');
    expect(dfuRequestNamer(dfuSetup(DfuRequest.Upload, 'in', 0, 3, 1024))).toBe('UPLOAD#3');
    expect(dfuRequestNamer(dfuSetup(DfuRequest.Abort, 'out', 0, 0, 0))).toBe('ABORT');
    expect(dfuRequestNamer({ bmRequestType: 0x01, bRequest: 0x0b, wValue: 1, wIndex: 0, wLength: 0 })).toBe('SET_INTERFACE');
    expect(dfuRequestNamer({ bmRequestType: 0xc0, bRequest: 0x42, wValue: 0, wIndex: 0, wLength: 0 })).toBeUndefined();
  });
});

describe('describeDfuTransfers', () => {
  it('decodes commands and statuses from trace entries and skips standard requests', () => {
    const entries: TraceEntry[] = [
      { t: 0, device: 'd', kind: 'control', setup: { bmRequestType: 0x80, bRequest: 6, wValue: 0x100, wIndex: 0, wLength: 18 }, result: 'ok' },
      { t: 1, device: 'd', kind: 'control', setup: dfuSetup(DfuRequest.Dnload, 'out', 0, 0, 5), data: encodeDfuseCommand(0x41, 0x08100000), result: 'ok' },
      { t: 2, device: 'd', kind: 'control', setup: dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6), data: encodeStatus({ status: 0, pollTimeoutMs: 1000, state: 4, iString: 0 }), result: 'ok' },
      { t: 3, device: 'd', kind: 'control', setup: dfuSetup(DfuRequest.Dnload, 'out', 0, 2, 1024), data: new Uint8Array(16), length: 1024, result: 'ok' },
      { t: 4, device: 'd', kind: 'control', setup: dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6), result: 'stall' },
      { t: 5, device: 'd', kind: 'detach', result: 'ok' },
    ];
    expect(describeDfuTransfers(entries)).toEqual([
      'ERASE 0x08100000 ok', 'GETSTATUS OK/dfuDNBUSY ok', 'DNLOAD#2 1024 ok', 'GETSTATUS stall', 'bus detach',
    ]);
  });
});
