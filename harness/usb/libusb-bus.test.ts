import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import { UsbError } from './errors.js';
import { LibusbBus } from './libusb-bus.js';

// These run against whatever libusb sees on this machine (usually nothing in CI); the filter
// names a serial no real board has, so the outcome does not depend on the bench.
const nobody = { vendorId: 0x0483, productId: 0xdf11, serialNumber: 'no-such-board-0000' };

describe('LibusbBus', () => {
  it('lists without throwing and filters by serial', async () => {
    const bus = new LibusbBus({ clock: new VirtualClock() });
    expect(await bus.list(nobody)).toEqual([]);
  });

  it('gives up waiting at the deadline with a typed error, polling on the injected clock', async () => {
    const clock = new VirtualClock();
    const bus = new LibusbBus({ clock, pollIntervalMs: 250 });
    const error = await bus.waitForDevice(nobody, 2000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsbError);
    expect((error as UsbError).failure).toBe('not-found');
    expect((error as UsbError).message).toBe('no device matching 0483:df11 SN no-such-board-0000 appeared within 2000 ms');
    expect(clock.now()).toBe(2000);
  });
});
