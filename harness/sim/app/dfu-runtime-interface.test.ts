import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { buildTestAppImage } from '../../image/synthetic-app.js';
import { DfuState } from '../../dfu-wire/dfu.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import type { UsbTransport } from '../../usb/transport.js';
import { bootloaderProfiles } from '../bootloader/profiles.js';
import { SimulatedNucleoH745 } from '../board/nucleo-h745.js';
import { openUnicornCore, unicornAvailability } from '../cpu/unicorn-core.js';
import { ConsoleTranscript } from '../uart/console-transcript.js';
import type { DfuRuntimeSettings } from './dfu-runtime-interface.js';

const APP_ID = { vendorId: 0x1209, productId: 0x0001 };
const ROM_ID = { vendorId: 0x0483, productId: 0xdf11 };
/** DFU class requests to the run-time interface (1). */
const detach = (wValue: number) => ({ bmRequestType: 0x21, bRequest: 0, wValue, wIndex: 1, wLength: 0 });
const getStatus = { bmRequestType: 0xa1, bRequest: 3, wValue: 0, wIndex: 1, wLength: 6 };
const getState = { bmRequestType: 0xa1, bRequest: 5, wValue: 0, wIndex: 1, wLength: 1 };
const abort = { bmRequestType: 0x21, bRequest: 6, wValue: 0, wIndex: 1, wLength: 0 };

/** A board running the test application, whose application offers a run-time DFU interface. */
function boardWithAppUsb(appUsb: Partial<DfuRuntimeSettings> | 'none' = {}) {
  const clock = new VirtualClock();
  const board = new SimulatedNucleoH745({
    clock, profile: bootloaderProfiles['st-rom-v9.2']!, serialNumber: '3A0043001851', portPath: '1-4.2',
    ...(appUsb === 'none' ? {} : { appUsb: { ...APP_ID, ...appUsb } }),
  });
  board.loadImage(0x08000000, buildTestAppImage({ name: 'dfu-hil-testapp', version: '1.0.0' }).segments[0]!.data);
  return powerOnAndWaitForReady(clock, board);
}

/** Puts `board` on an in-process bus, powers it and waits for its READY. */
async function powerOnAndWaitForReady(clock: VirtualClock, board: SimulatedNucleoH745) {
  const bus = new InProcessUsbBus({ clock });
  bus.addConnector(board.usb);
  const console = new ConsoleTranscript(clock, board.console);
  board.powerOn();
  await console.waitFor(/^READY/);
  return { clock, board, bus, console };
}

async function openApp(bus: InProcessUsbBus): Promise<UsbTransport> {
  return bus.open(await bus.waitForDevice(APP_ID, 1000));
}

const state = async (t: UsbTransport): Promise<number> => (await t.controlIn(getState, 100))[0]!;

describe('the application\'s run-time DFU interface', () => {
  it('enumerates under the application\'s own VID:PID on the ROM\'s socket, 100 ms after the application starts', async () => {
    const { clock, bus } = await boardWithAppUsb();
    const started = clock.now();
    const device = await bus.waitForDevice(APP_ID, 1000);
    expect(clock.now() - started).toBeGreaterThanOrEqual(97);
    expect(device).toMatchObject({ ...APP_ID, portPath: '1-4.2', serialNumber: '3A0043001851' });
    const t = await bus.open(device);
    const d = await t.describe();
    expect(d.product).toBe('dfu-hil-testapp 1.0.0');
    expect(d.configuration.interfaces.map((i) => [i.bInterfaceNumber, i.bInterfaceClass, i.bInterfaceSubClass, i.bInterfaceProtocol, i.name]))
      .toEqual([[0, 0xff, 0, 0, 'dfu-hil-testapp 1.0.0'], [1, 0xfe, 1, 1, 'DFU run-time']]);
    // Not bitWillDetach by default (DFU 1.1's base case); download and upload capable; DFU 1.1.
    expect(d.configuration.dfuFunctional).toEqual({ bmAttributes: 0x03, wDetachTimeOut: 1000, wTransferSize: 1024, bcdDFUVersion: 0x0110 });
  });

  it('answers GETSTATUS and GETSTATE with appIDLE, and stalls the DFU-mode requests', async () => {
    const { bus } = await boardWithAppUsb();
    const t = await openApp(bus);
    expect([...await t.controlIn(getStatus, 100)]).toEqual([0, 0, 0, 0, DfuState.AppIdle, 0]);
    expect(await state(t)).toBe(DfuState.AppIdle);
    await expect(t.controlOut(abort, new Uint8Array(), 100)).rejects.toMatchObject({ failure: 'stall' });
    await expect(t.controlIn({ ...getStatus, wIndex: 0 }, 100)).rejects.toMatchObject({ failure: 'stall' });
  });

  it('DETACH, then a USB reset within wDetachTimeOut: the application leaves and the ROM enumerates as 0483:df11 on the same port', async () => {
    const { clock, board, bus, console } = await boardWithAppUsb();
    const t = await openApp(bus);
    const app = t.info;
    await t.controlOut(detach(1000), new Uint8Array(), 100);
    expect(await state(t)).toBe(DfuState.AppDetach);
    // Without the reset nothing happens: the host must reset (bitWillDetach clear).
    await clock.sleep(500);
    expect(board.runningCode).toBe('app');
    expect(bus.isPresent(app)).toBe(true);
    await t.reset();
    const rom = await bus.waitForDevice(ROM_ID, 1000);
    expect(rom).toMatchObject({ portPath: '1-4.2', serialNumber: '3A0043001851' });
    expect(bus.isPresent(app)).toBe(false);
    expect(board.runningCode).toBe('bootloader');
    // The way in was the application's own: the magic word and a software reset, then the early
    // jump in Reset_Handler, before a second READY.
    expect(console.texts.filter((l) => l.startsWith('READY'))).toHaveLength(1);
    const kinds = bus.trace.list().filter((e) => e.kind !== 'control').map((e) => e.kind);
    expect(kinds).toEqual(['attach', 'reset', 'detach', 'attach']);
  });

  it('the detach timer runs out without a reset: back to appIDLE, and a later reset starts nothing', async () => {
    const { clock, board, bus } = await boardWithAppUsb({ detachTimeoutMs: 255 });
    const t = await openApp(bus);
    // The host asks for longer than the device can wait: wDetachTimeOut (255 ms) bounds it.
    await t.controlOut(detach(1000), new Uint8Array(), 100);
    await clock.sleep(250);
    expect(await state(t)).toBe(DfuState.AppDetach);
    await clock.sleep(10);
    expect(await state(t)).toBe(DfuState.AppIdle);
    await t.reset();
    await clock.sleep(500);
    expect(board.runningCode).toBe('app');
    expect(bus.isPresent(t.info)).toBe(true);
    expect(await bus.list(ROM_ID)).toEqual([]);
  });

  it('a shorter wValue in DETACH shortens the wait', async () => {
    const { clock, bus } = await boardWithAppUsb();
    const t = await openApp(bus);
    await t.controlOut(detach(50), new Uint8Array(), 100);
    await clock.sleep(60);
    expect(await state(t)).toBe(DfuState.AppIdle);
  });

  it('another DFU request in appDETACH stalls and ends the detach (DFU 1.1 A.2.2)', async () => {
    const { clock, board, bus } = await boardWithAppUsb();
    const t = await openApp(bus);
    await t.controlOut(detach(1000), new Uint8Array(), 100);
    await expect(t.controlOut(abort, new Uint8Array(), 100)).rejects.toMatchObject({ failure: 'stall' });
    expect(await state(t)).toBe(DfuState.AppIdle);
    await t.reset();
    await clock.sleep(500);
    expect(board.runningCode).toBe('app');
  });

  it('with bitWillDetach the device leaves the bus by itself after DETACH; no reset is needed', async () => {
    const { board, bus } = await boardWithAppUsb({ willDetach: true, detachTimeoutMs: 255 });
    const t = await openApp(bus);
    expect((await t.describe()).configuration.dfuFunctional).toMatchObject({ bmAttributes: 0x0b, wDetachTimeOut: 255 });
    await t.controlOut(detach(255), new Uint8Array(), 100);
    await bus.waitForDetach(t.info, 100);
    await bus.waitForDevice(ROM_ID, 1000);
    expect(board.runningCode).toBe('bootloader');
    expect(bus.trace.list().some((e) => e.kind === 'reset')).toBe(false);
  });

  it('comes back when the application starts again after DFU leave', async () => {
    const { clock, board, bus } = await boardWithAppUsb({ willDetach: true });
    const t = await openApp(bus);
    await t.controlOut(detach(1000), new Uint8Array(), 100);
    const rom = await bus.open(await bus.waitForDevice(ROM_ID, 1000));
    // DfuSe leave: a zero-length DNLOAD, then the GETSTATUS that starts it.
    await rom.controlOut({ bmRequestType: 0x21, bRequest: 1, wValue: 0, wIndex: 0, wLength: 0 }, new Uint8Array(), 100);
    await rom.controlIn({ ...getStatus, wIndex: 0 }, 100).catch(() => undefined);
    const back = await bus.waitForDevice(APP_ID, 1000);
    expect(board.runningCode).toBe('app');
    expect(back.deviceAddress).not.toBe(t.info.deviceAddress);
    expect(clock.now()).toBeGreaterThan(0);
  });

  it('leaves the bus at once when the application jumps to the ROM another way (`dfu direct`)', async () => {
    const { bus, console } = await boardWithAppUsb();
    const app = await bus.waitForDevice(APP_ID, 1000);
    await console.ask('dfu direct');
    await bus.waitForDetach(app, 5);
    await bus.waitForDevice(ROM_ID, 1000);
  });

  it('is not there when the board\'s application has no USB', async () => {
    const { clock, bus } = await boardWithAppUsb('none');
    await clock.sleep(1000);
    expect(await bus.list()).toEqual([]);
  });

  describe('field faults (field notes 18)', () => {
    it('DETACH answered by the device vanishing: the application reboots into the ROM before the status stage', async () => {
      const { board, bus } = await boardWithAppUsb();
      board.faults.appUsb.detachReply = 'vanish';
      const t = await openApp(bus);
      await expect(t.controlOut(detach(1000), new Uint8Array(), 100)).rejects.toMatchObject({ failure: 'no-device' });
      await bus.waitForDevice(ROM_ID, 1000);
    });

    it('DETACH answered by a STALL, acted on all the same: the reset still switches', async () => {
      const { board, bus } = await boardWithAppUsb();
      board.faults.appUsb.detachReply = 'stall';
      const t = await openApp(bus);
      await expect(t.controlOut(detach(1000), new Uint8Array(), 100)).rejects.toMatchObject({ failure: 'stall' });
      expect(await state(t)).toBe(DfuState.AppDetach);
      await t.reset();
      await bus.waitForDevice(ROM_ID, 1000);
    });

    it('DETACH acknowledged and ignored: the reset is an ordinary one', async () => {
      const { clock, board, bus } = await boardWithAppUsb();
      board.faults.appUsb.ignoreDetach = true;
      const t = await openApp(bus);
      await t.controlOut(detach(1000), new Uint8Array(), 100);
      expect(await state(t)).toBe(DfuState.AppIdle);
      await t.reset();
      await clock.sleep(1000);
      expect(board.runningCode).toBe('app');
      expect(await bus.list(ROM_ID)).toEqual([]);
    });
  });
});

const availability = await unicornAvailability();
const skipNote = availability.available ? '' : ` (skipped: ${availability.reason}; .ci/run installs libunicorn2)`;
const committed = (name: string): Uint8Array => new Uint8Array(readFileSync(fileURLToPath(new URL(`../../../firmware-images/images/${name}`, import.meta.url))));

describe.skipIf(!availability.available)(`the run-time DFU interface of an executed image${skipNote}`, () => {
  /** A board executing `image`, whose application offers the run-time interface. */
  async function executedBoard(image: string) {
    const clock = new VirtualClock();
    const board = new SimulatedNucleoH745({
      clock, profile: bootloaderProfiles['st-rom-v9.2']!, portPath: '1-1', appUsb: APP_ID,
      application: { kind: 'executed', core: await openUnicornCore() },
    });
    board.loadImage(0x08000000, committed(image));
    board.loadImage(0x08100000, committed('cm4-idle-1.0.0.bin'));
    return powerOnAndWaitForReady(clock, board);
  }

  it('DETACH and a reset: the firmware\'s own Reset_Handler takes the magic word into the ROM', async () => {
    const { board, bus, console } = await executedBoard('testapp-1.0.0.bin');
    const t = await openApp(bus);
    expect((await t.describe()).product).toBe('dfu-hil-testapp 1.0.0');
    await t.controlOut(detach(1000), new Uint8Array(), 100);
    await t.reset();
    await bus.waitForDevice(ROM_ID, 1000);
    expect(board.runningCode).toBe('bootloader');
    expect(board.mcu.romEntryProblems).toEqual([]);
    expect(console.texts.filter((l) => l.startsWith('READY'))).toHaveLength(1);
    board.dispose();
  });

  it('an image that does not act on the magic word boots again: its own device comes back, never 0483:df11', async () => {
    const { clock, board, bus, console } = await executedBoard('testapp-mutant-magic-inverted.bin');
    const t = await openApp(bus);
    await t.controlOut(detach(1000), new Uint8Array(), 100);
    await t.reset();
    const back = await bus.waitForDevice(APP_ID, 1000);
    expect(back.deviceAddress).not.toBe(t.info.deviceAddress);
    await clock.sleep(500);
    expect(await bus.list(ROM_ID)).toEqual([]);
    expect(console.texts.filter((l) => l.startsWith('READY'))).toHaveLength(2);
    board.dispose();
  });
});
