import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { buildTestAppImage } from '../../image/synthetic-app.js';
import { UsbSocket, type UsbGadget } from '../../usb/gadget.js';
import type { BootloaderHost } from '../contracts.js';
import { DFU_MAGIC, DFU_MAGIC_ADDRESS } from '../app/dfu-magic.js';
import { Boot0RcCircuit } from '../boot0/boot0-rc-circuit.js';
import { Boot0Jumper, type Boot0Source } from '../boot0/boot0-source.js';
import { SimFlash } from '../flash/sim-flash.js';
import { SimOptionBytes, type OptionRegisters } from '../option-bytes/sim-option-bytes.js';
import { RsrBit } from '../rcc/reset-flags.js';
import { ConsoleTranscript } from '../uart/console-transcript.js';
import { ConsoleUart } from '../uart/console-uart.js';
import { Stm32h745 } from './stm32h745.js';

/** Stands in for the ROM bootloader: claims the USB pins and attaches a device, as the real one does. */
class StubBootloader {
  started = 0;
  stopped = 0;
  readonly gadget: UsbGadget = { control: () => ({ type: 'stall' }), busReset: () => undefined };
  constructor(readonly host: BootloaderHost) {}
  start(): void {
    this.started += 1;
    this.host.claimUsbPins();
    this.host.attachUsb(this.gadget);
  }
  stop(): void {
    this.stopped += 1;
  }
}

function imageBytes(name: string, options: { loadAddress?: number; core?: 4 | 7; valid?: boolean } = {}): Uint8Array {
  return buildTestAppImage({ name, version: '1.2.3', ...options }).segments[0]!.data;
}

function chip(options: { boot0?: (clock: VirtualClock) => Boot0Source; initial?: Partial<OptionRegisters>; chargePin?: boolean } = {}) {
  const clock = new VirtualClock();
  const optionBytes = new SimOptionBytes({ initial: options.initial ?? {} });
  const flash = new SimFlash({ writeProtection: optionBytes });
  optionBytes.connectFlash(flash);
  const uart = new ConsoleUart(clock);
  const usb = new UsbSocket('1-1');
  const boot0 = options.boot0?.(clock) ?? new Boot0Jumper(0);
  const bootloaders: StubBootloader[] = [];
  const mcu = new Stm32h745({
    clock, flash, optionBytes, boot0, uart, usb,
    bootConfig: () => ({
      rdpLevel: optionBytes.rdpLevel(), bootCm7Add0: optionBytes.bootCm7Add0(), bootCm7Add1: optionBytes.bootCm7Add1(),
      bootCm4Add0: optionBytes.bootCm4Add0(), bootCm4Add1: optionBytes.bootCm4Add1(), bcm7: optionBytes.bcm7(), bcm4: optionBytes.bcm4(),
    }),
    createBootloader: (host) => { const b = new StubBootloader(host); bootloaders.push(b); return b; },
    reEnumerationDelayMs: () => 100,
    onReset: () => optionBytes.loadAtReset(),
    ...(options.chargePin ? { boot0ChargePin: { port: 'G' as const, pin: 2 } } : {}),
  });
  const console = new ConsoleTranscript(clock, uart.host);
  return { clock, flash, optionBytes, uart, usb, mcu, bootloaders, console, boot0 };
}

describe('Stm32h745 boot selection', () => {
  it('boots a valid bank-1 image at power-on and prints READY as soon as its bytes are through', async () => {
    const c = chip();
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    expect(c.mcu.cm7State).toBe('app');
    await c.console.waitFor(/^READY/);
    // 21 bytes at 115200 8N1 take 1.82 ms; the firmware starts sending about 0.2 ms after reset.
    expect(c.console.lines[0]).toEqual({ text: 'READY testapp 1.2.3', t: 2 });
  });

  it('locks up on erased flash: nothing on the console, no USB', async () => {
    const c = chip();
    c.mcu.powerOn();
    await c.clock.sleep(1000);
    expect(c.mcu.cm7State).toBe('lockup');
    expect(c.console.lines).toEqual([]);
    expect(c.usb.current()).toBeUndefined();
  });

  it('starts the bootloader when BOOT0 selects BOOT_CM7_ADD1 = 0x1FF0, and attaches USB after the re-enumeration delay', async () => {
    const c = chip({ boot0: () => new Boot0Jumper(1) });
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    expect(c.mcu.cm7State).toBe('bootloader');
    expect(c.bootloaders).toHaveLength(1);
    expect(c.mcu.gpio.port('A').snapshot()).toMatchObject({ AFRH: 0x000aa000 });
    expect((c.mcu.gpio.port('A').snapshot().MODER >>> 22) & 0xf).toBe(0b1010);
    await c.clock.sleep(99);
    expect(c.usb.current()).toBeUndefined();
    await c.clock.sleep(1);
    expect(c.usb.current()).toBe(c.bootloaders[0]!.gadget);
  });

  it('boots system memory when BOOT_CM7_ADD0 is 0x1FF0 even with BOOT0 low, but never at RDP level 2', () => {
    const c = chip({ initial: { boot7: (0x1ff0 << 16 | 0x1ff0) >>> 0 } });
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    expect(c.mcu.cm7State).toBe('bootloader');
    const l2 = chip({ initial: { boot7: (0x1ff0 << 16 | 0x1ff0) >>> 0, optsr: (0x1bc6aaf0 & ~0xff00 | 0xcc00) >>> 0 } });
    l2.flash.program(0x08000000, imageBytes('testapp'));
    l2.mcu.powerOn();
    expect(l2.optionBytes.rdpLevel()).toBe(2);
    expect(l2.mcu.cm7State).toBe('app');
  });

  it('runs the CM4 from bank 2 when it holds a valid image, else locks it up; BCM4 = 0 turns it off', () => {
    const c = chip();
    c.flash.program(0x08000000, imageBytes('m7'));
    c.mcu.powerOn();
    expect(c.mcu.cm4State).toBe('lockup');
    c.flash.program(0x08100000, imageBytes('m4', { loadAddress: 0x08100000, core: 4 }));
    c.mcu.reset('pin');
    expect(c.mcu.cm4State).toBe('running');
    const off = chip({ initial: { optsr: (0x1bc6aaf0 & ~(1 << 22)) >>> 0 } });
    off.mcu.powerOn();
    expect(off.mcu.cm4State).toBe('off');
  });

  it('locks the CM4 up when bank 2 is erased under it (inferred behaviour)', () => {
    const c = chip();
    c.flash.program(0x08100000, imageBytes('m4', { loadAddress: 0x08100000, core: 4 }));
    c.mcu.powerOn();
    expect(c.mcu.cm4State).toBe('running');
    c.mcu.flash.eraseSector(1, 7);
    expect(c.mcu.cm4State).toBe('running');
    c.mcu.flash.eraseSector(2, 3);
    expect(c.mcu.cm4State).toBe('lockup');
  });
});

describe('Stm32h745 resets, RAM and the jump paths', () => {
  it('keeps SRAM over pin, software and watchdog resets and loses it over a power cycle', () => {
    const c = chip();
    c.mcu.powerOn();
    c.mcu.sram.writeU64(0x24001000, 0x1122334455667788n);
    for (const cause of ['pin', 'software', 'watchdog'] as const) {
      c.mcu.reset(cause);
      expect(c.mcu.sram.readU64(0x24001000)).toBe(0x1122334455667788n);
    }
    c.mcu.powerOff();
    c.mcu.powerOn();
    expect(c.mcu.sram.readU64(0x24001000)).toBe(0n);
  });

  it('puts GPIO back to reset values and sets RSR flags at a reset', () => {
    const c = chip();
    c.mcu.powerOn();
    c.mcu.gpio.port('B').driveOutput(0, 1);
    c.mcu.rcc.write32(0x580244d0, RsrBit.RMVF);
    c.mcu.reset('pin');
    expect(c.mcu.gpio.port('B').snapshot().MODER).toBe(0xfffffebf);
    expect(c.mcu.rcc.resetStatus).toBe(0x00460000);
  });

  it('leaves the bootloader by a jump: RSR and GPIO keep what they had; invalid code resets instead', () => {
    const c = chip({ boot0: () => new Boot0Jumper(1) });
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    const bl = c.bootloaders[0]!;
    bl.host.restorePeripherals(false);
    bl.host.jumpTo(0x08000000);
    expect(bl.stopped).toBe(1);
    expect(c.mcu.cm7State).toBe('app');
    expect(c.mcu.gpio.port('A').snapshot().AFRH).toBe(0x000aa000);
    const before = c.bootloaders.length;
    c.mcu.jumpTo(0x08100000);
    // Bank 2 is erased: not valid code, so the chip resets and BOOT0 = 1 brings the bootloader back.
    expect(c.bootloaders.length).toBe(before + 1);
    expect(c.mcu.rcc.resetStatus & RsrBit.SFT1RSTF).not.toBe(0);
  });

  it('restorePeripherals(true) puts PA11/PA12 back to their reset values', () => {
    const c = chip({ boot0: () => new Boot0Jumper(1) });
    c.mcu.powerOn();
    c.bootloaders[0]!.host.restorePeripherals(true);
    expect(c.mcu.gpio.port('A').snapshot()).toEqual({ MODER: 0xabffffff, OTYPER: 0, OSPEEDR: 0x0c000000, PUPDR: 0x64000000, ODR: 0, AFRL: 0, AFRH: 0 });
  });

  it('drops the USB device at a reset and cancels a pending attach', async () => {
    const c = chip({ boot0: () => new Boot0Jumper(1) });
    c.mcu.powerOn();
    await c.clock.sleep(100);
    expect(c.usb.current()).toBeDefined();
    c.bootloaders[0]!.host.systemReset('software');
    expect(c.usb.current()).toBeUndefined();
    c.mcu.powerOff();
    await c.clock.sleep(500);
    expect(c.usb.current()).toBeUndefined();
  });
});

describe('the test application on the chip', () => {
  it('answers version, boot and gpio as docs/console-protocol.md says', async () => {
    const c = chip();
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect(await c.console.ask('version')).toEqual(['VERSION testapp 1.2.3', 'OK']);
    const boot = await c.console.ask('boot');
    expect(boot[0]).toBe('BOOT cause=power-on entry=reset rsr=0x00FE0000 cm4=lockup ecc=0');
    expect(boot[1]).toBe('PRE A MODER=0xABFFFFFF OTYPER=0x00000000 OSPEEDR=0x0C000000 PUPDR=0x64000000 ODR=0x00000000 AFRL=0x00000000 AFRH=0x00000000');
    expect(boot[4]).toBe('PRE D MODER=0xFFFFFFFF OTYPER=0x00000000 OSPEEDR=0x00000000 PUPDR=0x00000000 ODR=0x00000000 AFRL=0x00000000 AFRH=0x00000000');
    expect(boot).toHaveLength(13);
    expect(c.mcu.rcc.resetStatus).toBe(0);
    const gpio = await c.console.ask('gpio');
    // USART3 on PD8/PD9 in AF7.
    expect(gpio[3]).toBe('GPIO D MODER=0xFFFAFFFF OTYPER=0x00000000 OSPEEDR=0x00000000 PUPDR=0x00000000 ODR=0x00000000 AFRL=0x00000000 AFRH=0x00000077');
    expect(await c.console.ask('frobnicate')).toEqual(['ERR unknown command frobnicate']);
  });

  it('drives a pin with `pin` and rejects bad pins', async () => {
    const c = chip();
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect(await c.console.ask('pin PB0 1')).toEqual(['OK']);
    expect(c.mcu.gpio.port('B').snapshot()).toMatchObject({ MODER: 0xfffffebd, ODR: 1 });
    expect(await c.console.ask('pin PZ9 1')).toEqual(['ERR usage: pin <Pxn> <0|1>']);
  });

  it('`reset` answers OK, resets by software and announces itself again', async () => {
    const c = chip();
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect(await c.console.ask('reset')).toEqual(['OK']);
    const again = await c.console.waitFor(/^READY/, 2);
    expect(again).toBe(2);
    const boot = await c.console.ask('boot');
    expect(boot[0]).toBe('BOOT cause=software entry=reset rsr=0x01460000 cm4=lockup ecc=0');
  });

  it('`dfu jump` keeps the magic over the software reset, takes the early jump and clears the magic', async () => {
    const c = chip();
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect(await c.console.ask('dfu jump')).toEqual(['OK']);
    await c.clock.sleep(1);
    expect(c.mcu.cm7State).toBe('bootloader');
    expect(c.mcu.sram.readU64(DFU_MAGIC_ADDRESS)).toBe(0n);
    // The app cleared RSR before the jump, so the bootloader's leave finds it clear.
    expect(c.mcu.rcc.resetStatus).toBe(0);
    c.bootloaders[0]!.host.jumpTo(0x08000000);
    await c.console.waitFor(/^READY/, 2);
    const boot = await c.console.ask('boot');
    expect(boot[0]).toBe('BOOT cause=none entry=jump rsr=0x00000000 cm4=lockup ecc=0');
  });

  it('does not take the early jump on a magic left over without a software reset, and clears it as the firmware does', async () => {
    const c = chip();
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    c.mcu.sram.writeU64(DFU_MAGIC_ADDRESS, DFU_MAGIC);
    c.mcu.reset('pin');
    expect(c.mcu.cm7State).toBe('app');
    expect(c.mcu.sram.readU64(DFU_MAGIC_ADDRESS)).toBe(0n);
    // So the next software reset boots the application again rather than the bootloader.
    c.mcu.reset('software');
    expect(c.mcu.cm7State).toBe('app');
  });

  it('`dfu direct` starts the bootloader without a reset and keeps the application GPIO state', async () => {
    const c = chip();
    c.flash.program(0x08000000, imageBytes('testapp'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    await c.console.ask('pin PB0 1');
    const rsrBefore = c.mcu.rcc.resetStatus;
    expect(await c.console.ask('dfu direct')).toEqual(['OK']);
    await c.clock.sleep(1);
    expect(c.mcu.cm7State).toBe('bootloader');
    expect(c.mcu.rcc.resetStatus).toBe(rsrBefore);
    expect(c.mcu.gpio.port('B').snapshot().ODR & 1).toBe(1);
    expect(c.mcu.gpio.port('D').snapshot().AFRH).toBe(0x77);
  });

  it('`dfu rc` enters the bootloader inside the RC window and boots the app outside it', async () => {
    const outcome = async (delay: number): Promise<'bootloader' | 'app'> => {
      const c = chip({ chargePin: true, boot0: (clock) => new Boot0RcCircuit(clock) });
      c.flash.program(0x08000000, imageBytes('testapp'));
      c.mcu.powerOn();
      await c.console.waitFor(/^READY/);
      expect(await c.console.ask(`dfu rc ${delay}`)).toEqual(['OK']);
      await c.clock.sleep(10 + delay + 5);
      return c.mcu.cm7State === 'bootloader' ? 'bootloader' : 'app';
    };
    expect(await outcome(0)).toBe('bootloader');
    expect(await outcome(200)).toBe('app');
  });

  it('has an RC window, found by sweeping the reset delay, that agrees with R·C·ln(V0/Vth)', async () => {
    const entersBootloader = async (delay: number): Promise<boolean> => {
      let rc: Boot0RcCircuit | undefined;
      const c = chip({ chargePin: true, boot0: (clock) => (rc = new Boot0RcCircuit(clock)) });
      c.flash.program(0x08000000, imageBytes('testapp'));
      c.mcu.powerOn();
      await c.console.waitFor(/^READY/);
      await c.console.ask(`dfu rc ${delay}`);
      await c.clock.sleep(10 + delay + 5);
      expect(rc!.windowMs()).toBeCloseTo(100 * Math.log(rc!.chargedVoltage / rc!.threshold), 9);
      return c.mcu.cm7State === 'bootloader';
    };
    let inside = 0;
    let outside = 200;
    expect(await entersBootloader(inside)).toBe(true);
    expect(await entersBootloader(outside)).toBe(false);
    while (outside - inside > 1) {
      const mid = Math.floor((inside + outside) / 2);
      if (await entersBootloader(mid)) inside = mid; else outside = mid;
    }
    const expected = 100e3 * 1e-6 * Math.log((3.3 * 100e3 / (100e3 + 100)) / (0.7 * 3.3)) * 1000;
    expect(inside).toBe(Math.floor(expected));
    expect(outside).toBe(Math.floor(expected) + 1);
  });
});
