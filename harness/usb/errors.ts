import { DfuHilError } from '../errors.js';

/** What went wrong on the wire, named the way libusb names it. */
export type UsbFailure = 'stall' | 'no-device' | 'timeout' | 'io' | 'access' | 'busy' | 'not-found' | 'overflow' | 'invalid';

const HINTS: Record<UsbFailure, string> = {
  stall: 'The device refused the request (EP0 STALL). It may be in a state that does not accept it: read its DFU state, clear errors, retry.',
  'no-device': 'The device left the bus. If it was resetting or leaving DFU this is expected; otherwise check the cable and the hub.',
  timeout: 'The device did not answer in time. Check its power and cable, and raise the rig\'s timeouts if it is merely slow.',
  io: 'The transfer failed at the USB level. Check the cable, hub and power supply.',
  access: 'No permission to open the device. Install the udev rules (see README "Setting up a bench") and re-plug it.',
  busy: 'Another program holds the device (dfu-util, STM32CubeProgrammer, another test run). Close it and retry.',
  'not-found': 'No matching device is on the bus. Check that it is plugged in and in the expected mode (`dfu-hil devices`).',
  overflow: 'The device sent more data than asked for.',
  invalid: 'The request was malformed; this is a bug in the caller.',
};

/** A USB-level failure, with the request that hit it. */
export class UsbError extends DfuHilError {
  readonly failure: UsbFailure;

  constructor(failure: UsbFailure, message: string, options: { hint?: string; cause?: unknown } = {}) {
    // No permission, or another program holds the device: the bench's failure, not the board's.
    super(`usb-${failure}`, message, { hint: options.hint ?? HINTS[failure], cause: options.cause, failureClass: failure === 'access' || failure === 'busy' ? 'infrastructure' : 'test' });
    this.failure = failure;
  }
}

/** True for an error meaning the device went away: what leave and resets are expected to cause. */
export function isDisconnect(error: unknown): boolean {
  return error instanceof UsbError && (error.failure === 'no-device' || error.failure === 'not-found');
}
