import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import { DfuState } from '../dfu-wire/dfu.js';
import { Chapter9Device } from '../sim/usb-device/chapter9-device.js';
import { UsbSocket } from '../usb/gadget.js';
import { InProcessUsbBus } from '../usb/in-process-bus.js';
import { DfuseClient } from './dfuse-client.js';
import { enterDfuMode } from './enter-dfu-mode.js';
import { DfuDetachError } from './errors.js';
import { dfuRequestNamer } from './protocol.js';
import { plugSimulatedApplication, TEST_APP_USB_ID } from './testing/simulated-application.js';

/** The DFU requests (with the interface they went to) and the bus events of the switch. */
function switchSequence(bus: InProcessUsbBus): string[] {
  return bus.trace.list()
    .filter((e) => e.kind !== 'control' || (e.setup!.bmRequestType & 0x60) === 0x20)
    .map((e) => (e.kind === 'control' ? `${dfuRequestNamer(e.setup!)}@${e.setup!.wIndex}` : e.kind));
}

describe('enterDfuMode, against the simulated application\'s run-time DFU interface', () => {
  it('reads the run-time state, sends DETACH to the run-time interface, resets, and finds the ROM with its own VID:PID on the same port', async () => {
    const { clock, bus, board, runtime } = await plugSimulatedApplication({ detachTimeoutMs: 500 });
    expect(runtime).toMatchObject({ ...TEST_APP_USB_ID, portPath: '1-4.2' });
    const report = await enterDfuMode(bus, runtime, { clock });
    expect(report).toMatchObject({ alreadyInDfuMode: false, runtimeState: DfuState.AppIdle, detachReply: 'ok', resetSent: true });
    expect(report.device).toMatchObject({ vendorId: 0x0483, productId: 0xdf11, portPath: '1-4.2', serialNumber: '200364500000' });
    expect(report.device.deviceAddress).not.toBe(runtime.deviceAddress);
    expect(board.runningCode).toBe('bootloader');
    // DETACH goes to the run-time interface (1, after the application's own function), with wDetachTimeOut as wValue.
    const detach = bus.trace.list().find((e) => e.kind === 'control' && dfuRequestNamer(e.setup!) === 'DETACH');
    expect(detach?.setup).toEqual({ bmRequestType: 0x21, bRequest: 0, wValue: 500, wIndex: 1, wLength: 0 });
    expect(switchSequence(bus)).toEqual(['attach', 'GETSTATUS@1', 'DETACH@1', 'reset', 'detach', 'attach']);
    // Reset, the application's reboot into the ROM, its start-up (54 ms) and enumeration (100 ms).
    expect(report.elapsedMs).toBeGreaterThanOrEqual(150);
    const client = await DfuseClient.open(bus, report.device, { clock });
    expect(client.layout.name).toBe('Internal Flash');
  });

  it('does not reset a device that says bitWillDetach: it leaves the bus by itself', async () => {
    const { clock, bus, runtime } = await plugSimulatedApplication({ willDetach: true, detachTimeoutMs: 255 });
    const report = await enterDfuMode(bus, runtime, { clock, detachTimeoutMs: 200 });
    expect(report).toMatchObject({ detachReply: 'ok', resetSent: false });
    expect(switchSequence(bus)).toEqual(['attach', 'GETSTATUS@1', 'DETACH@1', 'detach', 'attach']);
    expect(bus.trace.list().find((e) => e.kind === 'control' && dfuRequestNamer(e.setup!) === 'DETACH')?.setup?.wValue).toBe(200);
  });

  it('carries on when DETACH is answered by a STALL or by the device vanishing (field notes 18)', async () => {
    const stalled = await plugSimulatedApplication();
    stalled.board.faults.appUsb.detachReply = 'stall';
    expect(await enterDfuMode(stalled.bus, stalled.runtime, { clock: stalled.clock })).toMatchObject({ detachReply: 'stall', resetSent: true });
    const vanished = await plugSimulatedApplication();
    vanished.board.faults.appUsb.detachReply = 'vanish';
    expect(await enterDfuMode(vanished.bus, vanished.runtime, { clock: vanished.clock })).toMatchObject({ detachReply: 'no-device', resetSent: false });
    expect(vanished.board.runningCode).toBe('bootloader');
  });

  it('returns at once for a device already in DFU mode', async () => {
    const { clock, bus, board } = await plugSimulatedApplication({ willDetach: true });
    board.mcu.jumpTo(0x1ff00000);
    const dfu = await bus.waitForDevice({ vendorId: 0x0483 }, 1000);
    expect(await enterDfuMode(bus, dfu, { clock })).toEqual({ device: dfu, alreadyInDfuMode: true, detachReply: 'not-sent', resetSent: false, elapsedMs: 0 });
  });

  it('fails with a typed error when the application ignores DETACH', async () => {
    const { clock, bus, board, runtime } = await plugSimulatedApplication();
    board.faults.appUsb.ignoreDetach = true;
    const start = clock.now();
    const error = await enterDfuMode(bus, runtime, { clock, timeoutMs: 3000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuDetachError);
    expect((error as DfuDetachError).message).toBe('1209:0001 SN 200364500000 @1-4.2 was still on the bus 3000 ms after DETACH (answered: ok)');
    expect(clock.now() - start).toBe(3000);
    expect(board.runningCode).toBe('app');
  });

  it('fails with a typed error when the DFU-mode device does not come back in time', async () => {
    const { clock, bus, board, runtime } = await plugSimulatedApplication();
    // A host or hub that takes seconds to enumerate the ROM (field notes 3).
    board.faults.slowReEnumerationMs = 5000;
    const error = await enterDfuMode(bus, runtime, { clock, timeoutMs: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuDetachError);
    expect((error as DfuDetachError).message).toBe('no DFU-mode device matching 0483:df11 @1-4.2 appeared within 2000 ms of DETACH');
    expect((error as DfuDetachError).hint).toMatch(/lost device after reset/);
  });

  it('refuses a device without a DFU run-time interface, sending nothing', async () => {
    const clock = new VirtualClock();
    const bus = new InProcessUsbBus({ clock });
    const socket = new UsbSocket('1-2');
    bus.addConnector(socket);
    // A CDC-only application: no way into DFU over USB.
    const cdc = new Chapter9Device({
      device: {
        bcdUSB: 0x0200, bDeviceClass: 0, bDeviceSubClass: 0, bDeviceProtocol: 0, bMaxPacketSize0: 64, idVendor: 0x0483,
        idProduct: 0x5740, bcdDevice: 0x0200, iManufacturer: 0, iProduct: 0, iSerialNumber: 0, bNumConfigurations: 1,
      },
      configuration: {
        bConfigurationValue: 1, iConfiguration: 0, bmAttributes: 0x80, bMaxPower: 0x32,
        interfaces: [{ bInterfaceNumber: 0, bAlternateSetting: 0, bNumEndpoints: 0, bInterfaceClass: 0x02, bInterfaceSubClass: 2, bInterfaceProtocol: 1, iInterface: 0 }],
      },
      strings: new Map(),
    });
    const sent: number[] = [];
    socket.plug({ control: (setup) => { sent.push(setup.bRequest); return cdc.handle(setup); }, busReset: () => undefined });
    const [device] = await bus.list();
    await expect(enterDfuMode(bus, device!, { clock })).rejects.toThrow('0483:5740 @1-2 has no DFU run-time interface (class 0xFE/0x01/0x01)');
    expect(bus.trace.list().filter((e) => e.kind === 'control' && (e.setup!.bmRequestType & 0x60) !== 0)).toEqual([]);
  });

  it('is what DfuseClient.open points to when given the application instead of the bootloader', async () => {
    const { clock, bus, runtime } = await plugSimulatedApplication();
    await expect(DfuseClient.open(bus, runtime, { clock })).rejects.toMatchObject({
      name: 'DfuDescriptorError',
      message: 'interface 0 of dfu-hil-testapp 1.0.0 is not a DFU-mode interface (class 0xFE/0x01/0x02)',
      hint: expect.stringMatching(/enterDfuMode/),
    });
  });
});
