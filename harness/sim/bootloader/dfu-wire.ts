// DFU 1.1 and DfuSe values as the simulated device sees them on the wire. The host keeps its own
// copy in harness/dfu/protocol.ts; the simulator may not import host code, and the values are
// fixed by the specifications (DFU 1.1; ST AN3156), so both copies cannot drift in meaning.

/** DFU class requests (bRequest). */
export const DfuRequestCode = { Detach: 0, Dnload: 1, Upload: 2, GetStatus: 3, ClrStatus: 4, GetState: 5, Abort: 6 } as const;
export type DfuRequestCode = (typeof DfuRequestCode)[keyof typeof DfuRequestCode];

/** DFU device states (bState), stm32h7-dfu-facts.md §8. */
export const DfuDeviceState = {
  AppIdle: 0, AppDetach: 1, Idle: 2, DnloadSync: 3, Dnbusy: 4, DnloadIdle: 5,
  ManifestSync: 6, Manifest: 7, ManifestWaitReset: 8, UploadIdle: 9, Error: 10,
} as const;
export type DfuDeviceState = (typeof DfuDeviceState)[keyof typeof DfuDeviceState];

/** DFU status codes (bStatus), stm32h7-dfu-facts.md §8. */
export const DfuDeviceStatus = {
  Ok: 0x00, ErrTarget: 0x01, ErrFile: 0x02, ErrWrite: 0x03, ErrErase: 0x04, ErrCheckErased: 0x05, ErrProg: 0x06,
  ErrVerify: 0x07, ErrAddress: 0x08, ErrNotDone: 0x09, ErrFirmware: 0x0a, ErrVendor: 0x0b, ErrUsbr: 0x0c,
  ErrPor: 0x0d, ErrUnknown: 0x0e, ErrStalledPkt: 0x0f,
} as const;
export type DfuDeviceStatus = (typeof DfuDeviceStatus)[keyof typeof DfuDeviceStatus];

/** DfuSe commands carried by DNLOAD with wValue = 0 (AN3156 §6). */
export const DfuseCommand = { GetCommands: 0x00, SetAddressPointer: 0x21, Erase: 0x41, ReadUnprotect: 0x92 } as const;

/** The 6-byte GETSTATUS answer: bStatus, bwPollTimeout (24-bit LE), bState, iString. */
export function encodeStatus(status: number, pollTimeoutMs: number, state: number, iString = 0): Uint8Array {
  const poll = Math.max(0, Math.min(0xff_ffff, Math.round(pollTimeoutMs)));
  return Uint8Array.of(status, poll & 0xff, (poll >> 8) & 0xff, (poll >> 16) & 0xff, state, iString);
}
