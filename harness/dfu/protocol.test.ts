import { describe, expect, it } from 'vitest';
import type { TraceEntry } from '../usb/trace.js';
import {
  decodeDfuseCommand, decodeStatus, describeDfuTransfers, dfuRequestNamer, dfuSetup, dfuStateName, dfuStatusName,
  DfuRequest, DfuState, DfuStatus, encodeDfuseCommand, encodeStatus, formatStatus,
} from './protocol.js';

describe('DFU names', () => {
  it('names every state and status the way the spec and dfu-util print them', () => {
    expect(dfuStateName(DfuState.DfuDnbusy)).toBe('dfuDNBUSY');
    expect(dfuStateName(DfuState.DfuDnloadIdle)).toBe('dfuDNLOAD-IDLE');
    expect(dfuStateName(DfuState.DfuManifestWaitReset)).toBe('dfuMANIFEST-WAIT-RESET');
    expect(dfuStateName(10)).toBe('dfuERROR');
    expect(dfuStateName(0x2a)).toBe('state 0x2a');
    expect(dfuStatusName(DfuStatus.ErrTarget)).toBe('errTARGET');
    expect(dfuStatusName(0x0e)).toBe('errUNKNOWN');
    expect(dfuStatusName(0x0f)).toBe('errSTALLEDPKT');
    expect(dfuStatusName(0x10)).toBe('status 0x10');
  });

  it('uses the request codes of DFU 1.1', () => {
    expect([DfuRequest.Detach, DfuRequest.Dnload, DfuRequest.Upload, DfuRequest.GetStatus, DfuRequest.ClrStatus, DfuRequest.GetState, DfuRequest.Abort])
      .toEqual([0, 1, 2, 3, 4, 5, 6]);
  });
});

describe('GETSTATUS payload', () => {
  it('decodes bStatus, the 24-bit little-endian bwPollTimeout, bState and iString', () => {
    expect(decodeStatus(Uint8Array.of(0x00, 0xe8, 0x03, 0x00, 0x04, 0x00))).toEqual({ status: 0, pollTimeoutMs: 1000, state: DfuState.DfuDnbusy, iString: 0 });
    expect(decodeStatus(Uint8Array.of(0x01, 0xff, 0xff, 0xff, 0x0a, 0x07))).toEqual({ status: DfuStatus.ErrTarget, pollTimeoutMs: 0xffffff, state: DfuState.DfuError, iString: 7 });
    expect(decodeStatus(Uint8Array.of(0, 0, 0, 0, 2))).toBeUndefined();
  });

  it('encodes what it decodes, clamping the poll timeout to 24 bits', () => {
    const report = { status: DfuStatus.ErrUnknown, pollTimeoutMs: 0x123456, state: DfuState.DfuError, iString: 0 };
    expect(decodeStatus(encodeStatus(report))).toEqual(report);
    expect(Array.from(encodeStatus({ ...report, pollTimeoutMs: 2 ** 30 }).subarray(1, 4))).toEqual([0xff, 0xff, 0xff]);
    expect(formatStatus(report)).toBe('errUNKNOWN/dfuERROR');
  });
});

describe('DfuSe commands', () => {
  it('encodes Set Address Pointer and Erase with a little-endian address, mass erase alone', () => {
    expect(Array.from(encodeDfuseCommand(0x21, 0x08100000))).toEqual([0x21, 0x00, 0x00, 0x10, 0x08]);
    expect(Array.from(encodeDfuseCommand(0x41, 0x5200201c))).toEqual([0x41, 0x1c, 0x20, 0x00, 0x52]);
    expect(Array.from(encodeDfuseCommand(0x41))).toEqual([0x41]);
  });

  it('decodes each command back', () => {
    expect(decodeDfuseCommand(encodeDfuseCommand(0x21, 0x08020000))).toEqual({ command: 'SET_ADDRESS', address: 0x08020000 });
    expect(decodeDfuseCommand(encodeDfuseCommand(0x41, 0xfffffff0))).toEqual({ command: 'ERASE', address: 0xfffffff0 });
    expect(decodeDfuseCommand(Uint8Array.of(0x41))).toEqual({ command: 'MASS_ERASE' });
    expect(decodeDfuseCommand(Uint8Array.of(0x92))).toEqual({ command: 'READ_UNPROTECT' });
    expect(decodeDfuseCommand(Uint8Array.of(0x33, 1))).toMatchObject({ command: 'UNKNOWN' });
  });
});

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

  it('builds class, interface-recipient setup packets', () => {
    expect(dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6)).toEqual({ bmRequestType: 0xa1, bRequest: 3, wValue: 0, wIndex: 0, wLength: 6 });
    expect(dfuSetup(DfuRequest.Dnload, 'out', 2, 5, 16)).toEqual({ bmRequestType: 0x21, bRequest: 1, wValue: 5, wIndex: 2, wLength: 16 });
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
