// Each form of "the application is up" against a simulated board running the test application:
// its console through the serialport binding, its own USB device on an in-process bus, its
// GPIO through the simulated probe, all on the board's virtual clock.
import { SerialPortStream } from '@serialport/stream';
import { afterEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { buildTestAppImage } from '../../image/synthetic-app.js';
import { SimulatedProbe } from '../../probe/sim-probe.js';
import { createSimSerialBinding } from '../../serial/sim-binding.js';
import { SimulatedNucleoH745 } from '../../sim/board/nucleo-h745.js';
import { bootloaderProfiles } from '../../sim/bootloader/profiles.js';
import { ConsoleTranscript } from '../../sim/uart/console-transcript.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import {
  AppNotReadyError, AppReadyCancelled, AppReadyWiringError, ConsoleBannerReady, createAppReadyCheck, GpioLevelReady, gpioInput,
  NoAppCheck, serialLines, SettleTimeReady, UsbDeviceReady, type AppReadyResult,
} from './index.js';

const APP_ID = { vendorId: 0x1209, productId: 0x0001 };
const READY = /^READY (?<name>\S+) (?<version>\S+)$/;

interface Bench {
  clock: VirtualClock;
  board: SimulatedNucleoH745;
  bus: InProcessUsbBus;
  probe: SimulatedProbe;
  lines: ReturnType<typeof serialLines>;
  /** The console as the simulator's tests read it, to send commands. */
  console: ConsoleTranscript;
  port: SerialPortStream;
}

let bench: Bench | undefined;
afterEach(async () => {
  const b = bench;
  bench = undefined;
  if (!b) return;
  b.lines.close();
  await new Promise<void>((resolve) => b.port.close(() => resolve()));
  b.board.dispose();
});

/** A simulated board with the test application in flash, its application offering USB; not powered yet. */
async function makeBench(): Promise<Bench> {
  const clock = new VirtualClock();
  const board = new SimulatedNucleoH745({ clock, profile: bootloaderProfiles['st-rom-v9.2']!, portPath: '1-3', appUsb: APP_ID });
  for (const s of buildTestAppImage({ name: 'dfu-hil-testapp', version: '1.0.0' }).segments) board.loadImage(s.address, s.data);
  const bus = new InProcessUsbBus({ clock });
  bus.addConnector(board.usb);
  const binding = createSimSerialBinding(board.console, { path: board.console.path });
  const port = await new Promise<SerialPortStream>((resolve, reject) => {
    const p = new SerialPortStream({ binding, path: board.console.path, baudRate: 115200 }, (e) => (e ? reject(e) : resolve(p)));
  });
  bench = { clock, board, bus, probe: new SimulatedProbe(board.debug, clock), lines: serialLines(port, clock), console: new ConsoleTranscript(clock, board.console), port };
  return bench;
}

/** A bench whose application has booted and enumerated. */
async function runningBench(): Promise<Bench> {
  const b = await makeBench();
  b.board.powerOn();
  await b.console.waitFor(/^READY/);
  await b.bus.waitForDevice(APP_ID, 1000);
  return b;
}

describe('console banner', () => {
  it('sees the banner the application prints after the reset it was armed before, with its name and version', async () => {
    const b = await makeBench();
    const check = new ConsoleBannerReady({ pattern: READY, port: b.board.console.path }, b);
    expect(check.describe()).toBe('console banner /^READY (?<name>\\S+) (?<version>\\S+)$/ on sim:1-3');
    const watch = check.arm();
    b.board.powerOn();
    const result = await watch.wait(1000);
    expect(result).toEqual({
      form: 'console-banner', checked: true, t: 3, afterMs: 3, evidence: 'READY dfu-hil-testapp 1.0.0',
      name: 'dfu-hil-testapp', version: '1.0.0',
    });
  });

  it('does not count a banner printed before it was armed, and says what it saw', async () => {
    const b = await runningBench();
    const watch = new ConsoleBannerReady({ pattern: READY, port: 'sim:1-3' }, b).arm();
    await b.console.ask('version');
    const error = await watch.wait(200).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppNotReadyError);
    expect((error as AppNotReadyError).message).toBe('no line matching /^READY (?<name>\\S+) (?<version>\\S+)$/ on sim:1-3 within 200 ms; last lines: "VERSION dfu-hil-testapp 1.0.0", "OK" (appReady: console-banner)');
    expect((error as AppNotReadyError).code).toBe('app-not-ready');
  });

  it('takes a team\'s own banner, which the test application\'s console would call noise', async () => {
    const b = await runningBench();
    const watch = new ConsoleBannerReady({ pattern: /^acme-sensor v(?<version>[\d.]+) up/g, port: 'sim:1-3' }, b).arm();
    b.board.faults.consoleNoise('boot...\r\nacme-sensor v2.4.1 up, 3 sensors\r\n', 5);
    // 5 ms, then 42 bytes at 115200 baud (3.6 ms), delivered on the next whole ms.
    expect(await watch.wait(100)).toMatchObject({ evidence: 'acme-sensor v2.4.1 up, 3 sensors', version: '2.4.1', afterMs: 9 });
  });

  it('says nothing arrived when the port stayed silent, and can be cancelled', async () => {
    const b = await makeBench();
    const check = new ConsoleBannerReady({ pattern: READY, port: 'sim:1-3' }, b);
    await expect(check.arm().wait(50)).rejects.toThrow('within 50 ms; nothing arrived');
    const watch = check.arm();
    const waiting = watch.wait(1000);
    watch.cancel();
    await expect(waiting).rejects.toBeInstanceOf(AppReadyCancelled);
  });
});

describe('the application\'s own USB device', () => {
  it('sees the application enumerate after a reset, with its product string and the identity it carries', async () => {
    const b = await runningBench();
    const check = new UsbDeviceReady({ device: { ...APP_ID, portPath: '1-3' }, productPattern: /^(?<name>\S+) (?<version>\S+)$/ }, b);
    expect(check.describe()).toBe('USB device 1209:0001 @1-3');
    const watch = check.arm();
    // The enumeration present before the reset is not the one that counts.
    await b.clock.sleep(50);
    b.board.pressReset();
    const result = await watch.wait(1000);
    expect(result.evidence).toMatch(/^1209:0001 SN 200364500000 @1-3 "dfu-hil-testapp 1\.0\.0"$/);
    expect(result).toMatchObject({ name: 'dfu-hil-testapp', version: '1.0.0' });
    // The application's USB connects 100 ms after its start.
    expect(result.afterMs).toBeGreaterThanOrEqual(150);
  });

  it('times out on a device that was already there and never re-enumerated', async () => {
    const b = await runningBench();
    const error = await new UsbDeviceReady({ device: APP_ID }, b).arm().wait(300).catch((e: unknown) => e);
    expect((error as AppNotReadyError).message).toBe('no USB device matching 1209:0001 enumerated within 300 ms (appReady: usb-device)');
    expect((error as AppNotReadyError).hint).toMatch(/usb\.app/);
  });

  it('counts the application leaving DFU as up: it was not on the bus before', async () => {
    const b = await runningBench();
    await b.console.ask('dfu jump');
    await b.bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 1000);
    const watch = new UsbDeviceReady({ device: APP_ID }, b).arm();
    b.board.mcu.jumpTo(0x08000000);
    expect((await watch.wait(1000)).afterMs).toBe(100);
  });
});

describe('a GPIO level through the probe', () => {
  it('reads GPIOx_IDR until the pin the application drives is high', async () => {
    const b = await runningBench();
    expect(gpioInput('PB0')).toEqual({ register: 0x58020410, bit: 0 });
    expect(gpioInput('PK15')).toEqual({ register: 0x58022810, bit: 15 });
    const check = new GpioLevelReady({ pin: 'PB0', level: 1, pollMs: 10 }, b);
    expect(check.describe()).toBe('PB0 reads 1 through the probe');
    const watch = check.arm();
    b.clock.setTimer(35, () => b.console.send('pin PB0 1'));
    const result = await watch.wait(1000);
    expect(result.evidence).toMatch(/^PB0 = 1 \(0x58020410 = 0x[0-9A-F]{7}[13579BDF]\)$/);
    expect(result.afterMs).toBe(40);
    // Each poll is one probe command in the report.
    expect(b.probe.log.since(0).map((e) => e.command)).toEqual(Array.from({ length: 5 }, () => 'read 0x58020410 +4'));
  });

  it('names the last level read when the pin never gets there', async () => {
    const b = await runningBench();
    await expect(new GpioLevelReady({ pin: 'PE1', level: 1, pollMs: 20 }, b).arm().wait(100)).rejects.toThrow('PE1 did not read 1 within 100 ms (last read 0)');
  });

  it('refuses a pin the STM32H7 does not have', async () => {
    const b = await makeBench();
    expect(() => new GpioLevelReady({ pin: 'PZ3', level: 1 }, b)).toThrow('"PZ3" is not a pin of the STM32H7 (PA0 to PK15)');
    expect(gpioInput('PA16')).toBeUndefined();
  });
});

describe('a fixed settle time, and none', () => {
  it('settles exactly the time given after it was armed, whatever the deadline', async () => {
    const clock = new VirtualClock();
    const check = new SettleTimeReady({ ms: 250 }, { clock });
    const watch = check.arm();
    await clock.sleep(100);
    expect(await watch.wait(10)).toEqual({ form: 'settle-time', checked: true, t: 250, afterMs: 250, evidence: '250 ms elapsed' });
    expect(clock.now()).toBe(250);
    expect(() => new SettleTimeReady({ ms: -1 }, { clock })).toThrow(RangeError);
  });

  it('none checks nothing and says so', async () => {
    const clock = new VirtualClock();
    await clock.sleep(7);
    const result: AppReadyResult = await new NoAppCheck({ clock }).arm().wait(1000);
    expect(result).toEqual({ form: 'none', checked: false, t: 7, afterMs: 0, evidence: 'not checked (appReady: none)' });
  });
});

describe('createAppReadyCheck', () => {
  it('builds each form over the rig\'s I/O', async () => {
    const b = await makeBench();
    const io = { clock: b.clock, bus: b.bus, probe: b.probe, lines: () => b.lines };
    expect(createAppReadyCheck({ form: 'console-banner', pattern: READY, port: 'sim:1-3' }, io)).toBeInstanceOf(ConsoleBannerReady);
    expect(createAppReadyCheck({ form: 'usb-device', device: APP_ID }, io)).toBeInstanceOf(UsbDeviceReady);
    expect(createAppReadyCheck({ form: 'gpio-level', pin: 'PB0', level: 1 }, io)).toBeInstanceOf(GpioLevelReady);
    expect(createAppReadyCheck({ form: 'settle-time', ms: 5 }, io)).toBeInstanceOf(SettleTimeReady);
    expect(createAppReadyCheck({ form: 'none' }, io)).toBeInstanceOf(NoAppCheck);
  });

  it('refuses a form whose I/O the rig lacks, with a typed error', () => {
    const clock = new VirtualClock();
    expect(() => createAppReadyCheck({ form: 'gpio-level', pin: 'PB0', level: 1 }, { clock })).toThrow(AppReadyWiringError);
    expect(() => createAppReadyCheck({ form: 'usb-device', device: APP_ID }, { clock })).toThrow('app-ready "usb-device" needs the rig\'s USB bus, which this rig does not have');
  });
});
