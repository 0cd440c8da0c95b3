import { UsbError, type UsbFailure } from './errors.js';

/** libusb_error codes (libusb.h); stable across platforms. */
export const LibusbErrno = {
  IO: -1, INVALID_PARAM: -2, ACCESS: -3, NO_DEVICE: -4, NOT_FOUND: -5, BUSY: -6,
  TIMEOUT: -7, OVERFLOW: -8, PIPE: -9, INTERRUPTED: -10, NO_MEM: -11, NOT_SUPPORTED: -12, OTHER: -99,
} as const;

/**
 * libusb_transfer_status codes (libusb.h). node `usb` reports a failed asynchronous transfer
 * (every control transfer) with one of these as `errno`, not with a libusb_error code.
 */
export const LibusbTransferStatus = {
  ERROR: 1, TIMED_OUT: 2, CANCELLED: 3, STALL: 4, NO_DEVICE: 5, OVERFLOW: 6,
} as const;

const FAILURE_BY_ERRNO = new Map<number, UsbFailure>([
  [LibusbTransferStatus.ERROR, 'io'],
  [LibusbTransferStatus.TIMED_OUT, 'timeout'],
  [LibusbTransferStatus.CANCELLED, 'io'],
  [LibusbTransferStatus.STALL, 'stall'],
  [LibusbTransferStatus.NO_DEVICE, 'no-device'],
  [LibusbTransferStatus.OVERFLOW, 'overflow'],
  [LibusbErrno.PIPE, 'stall'],
  [LibusbErrno.NO_DEVICE, 'no-device'],
  // After re-enumeration Windows reports NOT_FOUND where Linux reports NO_DEVICE.
  [LibusbErrno.NOT_FOUND, 'no-device'],
  [LibusbErrno.TIMEOUT, 'timeout'],
  [LibusbErrno.IO, 'io'],
  [LibusbErrno.ACCESS, 'access'],
  [LibusbErrno.BUSY, 'busy'],
  [LibusbErrno.OVERFLOW, 'overflow'],
  [LibusbErrno.INVALID_PARAM, 'invalid'],
]);

/** Turns a libusb exception into the harness's typed error, keeping the original as the cause. */
export function fromLibusbError(error: unknown, what: string): UsbError {
  if (error instanceof UsbError) return error;
  const errno = typeof error === 'object' && error !== null && 'errno' in error ? Number((error as { errno: unknown }).errno) : Number.NaN;
  const failure = FAILURE_BY_ERRNO.get(errno) ?? 'io';
  const detail = error instanceof Error ? error.message : String(error);
  return new UsbError(failure, `${what}: ${detail}`, { cause: error });
}
