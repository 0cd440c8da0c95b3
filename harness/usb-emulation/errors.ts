import { DfuHilError } from '../errors.js';

/** The USB emulation (umockdev) cannot be used or has failed. */
export class UsbEmulationError extends DfuHilError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('usb-emulation', message, options);
  }
}

/** What to install for the emulation on Debian or Ubuntu. */
export const UMOCKDEV_INSTALL_HINT = 'Install umockdev, its headers and a C compiler: `sudo apt-get install -y umockdev libumockdev-dev gcc pkg-config`.';
