import { describe, expect, it } from 'vitest';
import { decodeStatus, dfuSetup, dfuStateName, dfuStatusName, DfuRequest, DfuState, DfuStatus, encodeStatus, formatStatus } from './dfu.js';

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

describe('DFU setup packets', () => {
  it('builds class, interface-recipient setup packets', () => {
    expect(dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6)).toEqual({ bmRequestType: 0xa1, bRequest: 3, wValue: 0, wIndex: 0, wLength: 6 });
    expect(dfuSetup(DfuRequest.Dnload, 'out', 2, 5, 16)).toEqual({ bmRequestType: 0x21, bRequest: 1, wValue: 5, wIndex: 2, wLength: 16 });
  });
});
