import { SerialPortStream } from '@serialport/stream';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { buildTestAppImage } from '../../image/synthetic-app.js';
import { createSimSerialBinding } from '../../serial/sim-binding.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import type { UsbTransport } from '../../usb/transport.js';
import { DFU_MAGIC_ADDRESS } from '../app/dfu-magic.js';
import { bootloaderProfiles } from '../bootloader/profiles.js';
import { ConsoleTranscript } from '../uart/console-transcript.js';
import { SimulatedNucleoH745, type SimulatedNucleoH745Options } from './nucleo-h745.js';

const app = (name = 'dfu-hil-testapp', version = '1.0.0'): Uint8Array => buildTestAppImage({ name, version }).segments[0]!.data;

function board(options: Partial<SimulatedNucleoH745Options> = {}, clock = new VirtualClock()) {
  const b = new SimulatedNucleoH745({ clock, profile: bootloaderProfiles['st-rom-v9.2']!, serialNumber: '3A0043001851', portPath: '1-4.2', ...options });
  return { clock, b };
}

const dfuOut = (bRequest: number, wValue: number, length: number) => ({ bmRequestType: 0x21, bRequest, wValue, wIndex: 0, wLength: length });
const getStatus = { bmRequestType: 0xa1, bRequest: 3, wValue: 0, wIndex: 0, wLength: 6 };

/** DfuSe leave from the wire: Set Address Pointer, then a zero-length DNLOAD and its GETSTATUS. */
async function leaveTo(transport: UsbTransport, address: number): Promise<void> {
  const cmd = Uint8Array.of(0x21, address & 0xff, (address >> 8) & 0xff, (address >> 16) & 0xff, (address >>> 24) & 0xff);
  await transport.controlOut(dfuOut(1, 0, 5), cmd, 1000);
  await transport.controlIn(getStatus, 1000);
  await transport.controlIn(getStatus, 1000);
  await transport.controlOut(dfuOut(1, 0, 0), new Uint8Array(), 1000);
  await transport.controlIn(getStatus, 1000).catch(() => undefined);
}

describe('SimulatedNucleoH745', () => {
  it('boots a synthetic image and prints READY through SerialPortStream and the sim binding', async () => {
    const { clock, b } = board();
    b.loadImage(0x08000000, app());
    const binding = createSimSerialBinding(b.console, { path: b.console.path });
    const port = await new Promise<SerialPortStream>((resolve, reject) => {
      const p = new SerialPortStream({ binding, path: 'sim:1-4.2', baudRate: 115200 }, (e) => (e ? reject(e) : resolve(p)));
    });
    let text = '';
    const ready = new Promise<void>((resolve) => port.on('data', (d: Buffer) => { text += d.toString(); if (text.includes('\r\n')) resolve(); }));
    b.powerOn();
    await ready;
    expect(text).toBe('READY dfu-hil-testapp 1.0.0\r\n');
    // No boot delay worth a virtual ms (the firmware needs about 0.2 ms), then 29 bytes at 86.8 µs each, delivered on the next whole ms.
    expect(clock.now()).toBe(Math.ceil(29 * (10 / 115200) * 1000));
    expect(b.runningCode).toBe('app');
    await new Promise<void>((r) => port.close(() => r()));
  });

  it('`dfu jump` brings 0483:df11 with the board serial onto the bus; leave boots the app with entry=jump', async () => {
    const { clock, b } = board();
    const bus = new InProcessUsbBus({ clock });
    bus.addConnector(b.usb);
    b.loadImage(0x08000000, app());
    const con = new ConsoleTranscript(clock, b.console);
    b.powerOn();
    await con.waitFor(/^READY/);
    await con.ask('pin PB0 1');
    const asked = clock.now();
    expect(await con.ask('dfu jump')).toEqual(['OK']);
    const device = await bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 5000);
    expect(device).toMatchObject({ serialNumber: '3A0043001851', portPath: '1-4.2' });
    // ROM startup (53.98 ms, whole ms: 54) plus the re-enumeration delay (100 ms).
    expect(clock.now() - asked).toBeGreaterThanOrEqual(154);
    expect(clock.now() - asked).toBeLessThan(160);
    expect(b.runningCode).toBe('bootloader');
    expect(b.gpio.port('A').snapshot().AFRH).toBe(0x000aa000);
    // The software reset put PB0 back to its reset state before the early jump.
    expect(b.gpio.port('B').snapshot().ODR).toBe(0);

    const transport = await bus.open(device);
    const from = con.lines.length;
    await leaveTo(transport, 0x08000000);
    await bus.waitForDetach(device, 1000);
    await con.waitFor(/^READY/, from);
    const boot = await con.ask('boot');
    expect(boot[0]).toBe('BOOT cause=none entry=jump rsr=0x00000000 cm4=lockup ecc=0');
    // V9.2 restores the USB pins completely: PRE A shows PA11/PA12 at reset values.
    expect(boot[1]).toBe('PRE A MODER=0xABFFFFFF OTYPER=0x00000000 OSPEEDR=0x0C000000 PUPDR=0x64000000 ODR=0x00000000 AFRL=0x00000000 AFRH=0x00000000');
  });

  it('leaves PA11/PA12 in AF10 after leave when the profile restores peripherals incompletely', async () => {
    const base = bootloaderProfiles['st-rom-v9.2']!;
    const { clock, b } = board({ profile: { ...base, leave: { ...base.leave, restoresPeripheralsCompletely: false } }, boot0: { kind: 'jumper', level: 1 } });
    const bus = new InProcessUsbBus({ clock });
    bus.addConnector(b.usb);
    b.loadImage(0x08000000, app());
    const con = new ConsoleTranscript(clock, b.console);
    b.powerOn();
    const device = await bus.waitForDevice({ vendorId: 0x0483 }, 5000);
    await leaveTo(await bus.open(device), 0x08000000);
    await con.waitFor(/^READY/);
    const boot = await con.ask('boot');
    // Entered by BOOT0 at power-on: RSR still holds the power-on flags, so the app reports a reset.
    expect(boot[0]).toBe('BOOT cause=power-on entry=reset rsr=0x00FE0000 cm4=lockup ecc=0');
    expect(boot[1]).toMatch(/^PRE A MODER=0xAABFFFFF .* AFRH=0x000AA000$/);
  });

  it('never enters DFU at power-on through the RC circuit, and enters it with `dfu rc`', async () => {
    const { clock, b } = board({ boot0: { kind: 'rc' } });
    b.loadImage(0x08000000, app());
    const con = new ConsoleTranscript(clock, b.console);
    b.powerOn();
    await con.waitFor(/^READY/);
    expect(await con.ask('dfu rc 5')).toEqual(['OK']);
    await clock.sleep(30);
    expect(b.runningCode).toBe('bootloader');
    b.powerOff();
    b.powerOn();
    expect(b.runningCode).toBe('app');
  });

  it('gives a probe RAM, registers and flash, and keeps them per board', () => {
    const clock = new VirtualClock();
    const one = board({}, clock).b;
    const two = board({ portPath: '1-5' }, clock).b;
    one.loadImage(0x08000000, app('one'));
    one.powerOn();
    two.powerOn();
    one.debug.writeMemory(DFU_MAGIC_ADDRESS, Uint8Array.of(1, 2, 3, 4));
    expect(Array.from(one.debug.readMemory(DFU_MAGIC_ADDRESS, 4))).toEqual([1, 2, 3, 4]);
    expect(Array.from(two.debug.readMemory(DFU_MAGIC_ADDRESS, 4))).toEqual([0, 0, 0, 0]);
    expect(Array.from(one.debug.readMemory(0x08000400, 4))).toEqual([0x44, 0x48, 0x49, 0x4c]);
    expect(Array.from(two.debug.readMemory(0x08000400, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(one.runningCode).toBe('app');
    expect(two.runningCode).toBe('none');
    expect(new DataView(one.debug.readMemory(0x58020000, 4).buffer).getUint32(0, true)).toBe(0xabffffff);
    one.debug.writeMemory(0x58020414, Uint8Array.of(1, 0, 0, 0));
    expect(one.gpio.port('B').snapshot().ODR).toBe(1);
    expect(two.gpio.port('B').snapshot().ODR).toBe(0);
    expect(one.usb).not.toBe(two.usb);
    expect(one.console).not.toBe(two.console);
    two.debug.programFlash(0x08000000, app('two'));
    two.debug.reset('hardware');
    expect(two.runningCode).toBe('app');
    // The application's Reset_Handler has already cleared the pin-reset flags.
    expect(two.rsr).toBe(0);
    expect(two.mcu.application?.identity.name).toBe('two');
    expect(one.memoryFootprintBytes()).toBeGreaterThan(2 * 1024 * 1024);
    // TIM2 exists but is not modelled: it reads 0. A reserved address bus-faults, as on the chip.
    expect(Array.from(one.debug.readMemory(0x40000000, 4))).toEqual([0, 0, 0, 0]);
    expect(() => one.debug.readMemory(0x1ff30000, 4)).toThrow(/bus fault at 0x1FF30000/);
  });

  it('reports flash words with ECC errors in its bank as ecc=<n>', async () => {
    const { clock, b } = board();
    b.loadImage(0x08000000, app());
    // Programming a word that is not erased leaves a sticky ECC error (RM0399 §4.3.9).
    b.loadImage(0x08001000, new Uint8Array(32));
    const con = new ConsoleTranscript(clock, b.console);
    b.powerOn();
    await con.waitFor(/^READY/);
    expect((await con.ask('boot'))[0]).toBe('BOOT cause=power-on entry=reset rsr=0x00FE0000 cm4=lockup ecc=1');
  });

  it('puts the armed console noise on the line at every reset, ahead of READY', async () => {
    const { clock, b } = board();
    b.loadImage(0x08000000, app());
    b.faults.noiseOnReset = Uint8Array.of(0x00, 0xfe);
    let raw = '';
    b.console.onData((d) => { raw += Buffer.from(d).toString('latin1'); });
    const con = new ConsoleTranscript(clock, b.console);
    b.powerOn();
    await con.waitFor(/READY/);
    expect(raw).toBe('\x00\xfeREADY dfu-hil-testapp 1.0.0\r\n');
  });

  it('refuses debug access without power', () => {
    const { b } = board();
    expect(() => b.debug.readMemory(0x20000000, 4)).toThrow(/no power/);
  });
});
