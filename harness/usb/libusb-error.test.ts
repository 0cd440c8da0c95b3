import { describe, expect, it } from 'vitest';
import { UsbError } from './errors.js';
import { fromLibusbError, LibusbErrno, LibusbTransferStatus } from './libusb-error.js';

/** Shaped like usb 2.x's LibUSBException: an Error with the libusb errno. */
function libusbException(errno: number, message: string): Error {
  return Object.assign(new Error(message), { errno });
}

describe('fromLibusbError', () => {
  it.each([
    [LibusbErrno.PIPE, 'stall', 'EP0 STALL'],
    [LibusbErrno.NO_DEVICE, 'no-device', 'left the bus'],
    [LibusbErrno.NOT_FOUND, 'no-device', 'left the bus'],
    [LibusbErrno.TIMEOUT, 'timeout', 'did not answer in time'],
    [LibusbErrno.IO, 'io', 'cable'],
    [LibusbErrno.ACCESS, 'access', 'udev rules'],
    [LibusbErrno.BUSY, 'busy', 'Another program holds the device'],
  ])('maps errno %i to %s with advice', (errno, failure, advice) => {
    const error = fromLibusbError(libusbException(errno, 'LIBUSB_ERROR_X'), 'GETSTATUS on 0483:df11');
    expect(error).toBeInstanceOf(UsbError);
    expect(error.failure).toBe(failure);
    expect(error.message).toBe('GETSTATUS on 0483:df11: LIBUSB_ERROR_X');
    expect(error.hint).toContain(advice);
  });

  // A failed control transfer arrives with a libusb_transfer_status, positive, as errno.
  it.each([
    [LibusbTransferStatus.STALL, 'stall'],
    [LibusbTransferStatus.NO_DEVICE, 'no-device'],
    [LibusbTransferStatus.TIMED_OUT, 'timeout'],
    [LibusbTransferStatus.ERROR, 'io'],
    [LibusbTransferStatus.OVERFLOW, 'overflow'],
  ])('maps transfer status %i to %s', (errno, failure) => {
    expect(fromLibusbError(libusbException(errno, 'LIBUSB_TRANSFER_X'), 'DNLOAD').failure).toBe(failure);
  });

  it('treats an unknown error as an I/O failure and keeps the cause', () => {
    const cause = new Error('weird');
    const error = fromLibusbError(cause, 'open');
    expect(error.failure).toBe('io');
    expect(error.cause).toBe(cause);
  });
});
