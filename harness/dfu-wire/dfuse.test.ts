import { describe, expect, it } from 'vitest';
import { decodeDfuseCommand, dfuseBlockAddress, encodeDfuseCommand, formatDfuseCommand } from './dfuse.js';

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

describe('DfuSe block addressing', () => {
  it('places block N at (N - 2) x wTransferSize + pointer, whatever the request length (ST\'s usbd_dfu.c)', () => {
    expect(dfuseBlockAddress(2, 1024, 0x0800_0000)).toBe(0x0800_0000);
    expect(dfuseBlockAddress(3, 1024, 0x0800_0000)).toBe(0x0800_0400);
    expect(dfuseBlockAddress(4, 1024, 0x0810_0000)).toBe(0x0810_0800);
    expect(dfuseBlockAddress(0xffff, 1024, 0xfff0_0000)).toBe((0xfff0_0000 + 0xfffd * 1024) >>> 0);
  });
});

describe('DfuSe command names', () => {
  it('prints addresses as 8 upper-case hex digits', () => {
    expect(formatDfuseCommand({ command: 'ERASE', address: 0x0810_0000 })).toBe('ERASE 0x08100000');
    expect(formatDfuseCommand({ command: 'MASS_ERASE' })).toBe('MASS_ERASE');
  });
});
