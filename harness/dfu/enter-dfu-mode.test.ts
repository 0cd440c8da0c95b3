import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import { UsbSocket } from '../usb/gadget.js';
import { InProcessUsbBus } from '../usb/in-process-bus.js';
import { DfuseClient } from './dfuse-client.js';
import { enterDfuMode } from './enter-dfu-mode.js';
import { DfuDetachError } from './errors.js';
import { dfuRequestNamer } from './protocol.js';
import { startSimulatedBootloader } from './testing/simulated-dfuse.js';
import { ScriptedRuntimeDevice, type ScriptedRuntimeDeviceOptions } from './testing/scripted-runtime-device.js';

/** A board whose application switches to the simulated bootloader (or, with `bootloaderComesBack: false`, just leaves). */
async function board(options: Partial<Omit<ScriptedRuntimeDeviceOptions, 'clock' | 'onSwitch'>> & { bootloaderComesBack?: boolean } = {}) {
  const clock = new VirtualClock();
  const bus = new InProcessUsbBus({ clock });
  const socket = new UsbSocket('1-4.2');
  bus.addConnector(socket);
  /** The application hands the port to the ROM bootloader, which attaches after its start-up delay. */
  const startBootloader = (): void => {
    socket.unplug();
    startSimulatedBootloader(clock, socket);
  };
  const onSwitch = options.bootloaderComesBack === false ? () => socket.unplug() : startBootloader;
  const app = new ScriptedRuntimeDevice({ clock, onSwitch, ...options });
  socket.plug(app);
  const [runtime] = await bus.list();
  return { clock, bus, socket, app, startBootloader, runtime: runtime! };
}

describe('enterDfuMode', () => {
  it('sends DETACH to the run-time interface, resets the port and finds the DFU-mode device with its new VID:PID', async () => {
    const { clock, bus, app, runtime } = await board({ willDetach: false, wDetachTimeOut: 500 });
    expect(runtime.vendorId).toBe(0x1209);
    const report = await enterDfuMode(bus, runtime, { clock });
    expect(report).toMatchObject({ alreadyInDfuMode: false, detachReply: 'ok', resetSent: true });
    expect(report.device).toMatchObject({ vendorId: 0x0483, productId: 0xdf11, portPath: '1-4.2', serialNumber: '200364500000' });
    expect(report.device.deviceAddress).not.toBe(runtime.deviceAddress);
    // DETACH goes to the run-time interface (2), with the device's wDetachTimeOut.
    expect(app.detachRequests).toEqual([{ bmRequestType: 0x21, bRequest: 0, wValue: 500, wIndex: 2, wLength: 0 }]);
    expect(app.busResets).toBe(1);
    expect(report.elapsedMs).toBeGreaterThanOrEqual(50);
    const kinds = bus.trace.list().map((e) => (e.kind === 'control' ? dfuRequestNamer(e.setup!) : e.kind));
    expect(kinds.filter((k) => k === 'DETACH' || k === 'reset' || k === 'detach' || k === 'attach')).toEqual(['attach', 'DETACH', 'reset', 'detach', 'attach']);
    const client = await DfuseClient.open(bus, report.device, { clock });
    expect(client.layout.name).toBe('Internal Flash');
  });

  it('does not reset a device that says WillDetach', async () => {
    const { clock, bus, app, runtime } = await board({ willDetach: true });
    const report = await enterDfuMode(bus, runtime, { clock, detachTimeoutMs: 1000 });
    expect(report).toMatchObject({ detachReply: 'ok', resetSent: false });
    expect(app.busResets).toBe(0);
    expect(app.detachRequests[0]!.wValue).toBe(1000);
  });

  it('carries on when DETACH is answered by a STALL or by the device vanishing', async () => {
    const stalled = await board({ detachReply: 'stall' });
    expect(await enterDfuMode(stalled.bus, stalled.runtime, { clock: stalled.clock })).toMatchObject({ detachReply: 'stall', resetSent: true });
    const vanished = await board({ detachReply: 'disconnected' });
    expect(await enterDfuMode(vanished.bus, vanished.runtime, { clock: vanished.clock })).toMatchObject({ detachReply: 'no-device', resetSent: false });
  });

  it('returns at once for a device already in DFU mode', async () => {
    const { clock, bus, startBootloader } = await board();
    startBootloader();
    const dfu = await bus.waitForDevice({ vendorId: 0x0483 }, 1000);
    expect(await enterDfuMode(bus, dfu!, { clock })).toMatchObject({ alreadyInDfuMode: true, detachReply: 'not-sent', device: dfu });
  });

  it('fails with a typed error when the application ignores DETACH', async () => {
    const { clock, bus, runtime } = await board({ ignoreDetach: true });
    const start = clock.now();
    const error = await enterDfuMode(bus, runtime, { clock, timeoutMs: 3000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuDetachError);
    expect((error as DfuDetachError).message).toBe('1209:0001 SN APP0001 @1-4.2 was still on the bus 3000 ms after DETACH (answered: ok)');
    expect(clock.now() - start).toBe(3000);
  });

  it('fails with a typed error when the DFU-mode device does not come back', async () => {
    const { clock, bus, runtime } = await board({ bootloaderComesBack: false });
    const error = await enterDfuMode(bus, runtime, { clock, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuDetachError);
    expect((error as DfuDetachError).message).toBe('no DFU-mode device matching 0483:df11 @1-4.2 appeared within 2000 ms of DETACH');
    expect((error as DfuDetachError).hint).toMatch(/lost device after reset/);
  });

  it('refuses a device without a DFU run-time interface, sending nothing', async () => {
    const { clock, bus, app, runtime } = await board({ runtimeInterface: false });
    await expect(enterDfuMode(bus, runtime, { clock })).rejects.toThrow('1209:0001 SN APP0001 @1-4.2 has no DFU run-time interface (class 0xFE/0x01/0x01)');
    expect(app.detachRequests).toEqual([]);
  });

  it('is what DfuseClient.open points to when given the application instead of the bootloader', async () => {
    const { clock, bus, runtime } = await board();
    await expect(DfuseClient.open(bus, runtime, { clock })).rejects.toMatchObject({
      name: 'DfuDescriptorError',
      message: 'interface 0 of test application is not a DFU-mode interface (class 0xFE/0x01/0x02)',
      hint: expect.stringMatching(/enterDfuMode/),
    });
  });
});
