// The chip in executed mode: the committed test application runs on the emulated Cortex-M7, and
// its ways into the ROM, a broken image and a wrong supply setting show as a board would show
// them. Skipped, with the reason, where libunicorn 2 is not installed.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { UsbSocket } from '../../usb/gadget.js';
import { DFU_MAGIC_ADDRESS } from '../app/dfu-magic.js';
import { Boot0Jumper } from '../boot0/boot0-source.js';
import { ST_ROM_ENTRY } from '../bootloader/profiles.js';
import { handAssembledImage } from '../cpu/thumb.js';
import { openUnicornCore, unicornAvailability } from '../cpu/unicorn-core.js';
import { SimFlash } from '../flash/sim-flash.js';
import { SimOptionBytes } from '../option-bytes/sim-option-bytes.js';
import { ConsoleTranscript } from '../uart/console-transcript.js';
import { ConsoleUart } from '../uart/console-uart.js';
import { Stm32h745 } from './stm32h745.js';

const availability = await unicornAvailability();
const skipNote = availability.available ? '' : ` (skipped: ${availability.reason}; .ci/run installs libunicorn2)`;
const image = (name: string): Uint8Array => new Uint8Array(readFileSync(fileURLToPath(new URL(`../../../firmware-images/images/${name}`, import.meta.url))));

async function chip() {
  const clock = new VirtualClock();
  const optionBytes = new SimOptionBytes();
  const flash = new SimFlash({ writeProtection: optionBytes });
  optionBytes.connectFlash(flash);
  const uart = new ConsoleUart(clock);
  let romStarts = 0;
  const mcu = new Stm32h745({
    clock, flash, optionBytes, boot0: new Boot0Jumper(0), uart, usb: new UsbSocket('1-1'),
    bootConfig: () => ({
      rdpLevel: 0, bootCm7Add0: optionBytes.bootCm7Add0(), bootCm7Add1: optionBytes.bootCm7Add1(),
      bootCm4Add0: optionBytes.bootCm4Add0(), bootCm4Add1: optionBytes.bootCm4Add1(), bcm7: true, bcm4: true,
    }),
    createBootloader: () => ({ start: () => { romStarts++; }, stop: () => undefined }),
    reEnumerationDelayMs: () => 100,
    cm7: { kind: 'executed', core: await openUnicornCore(), romEntry: ST_ROM_ENTRY },
  });
  const console = new ConsoleTranscript(clock, uart.host);
  const command = async (text: string): Promise<string[]> => {
    const from = console.lines.length;
    uart.host.write(Buffer.from(`${text}\n`));
    const end = await Promise.race([console.waitFor(/^(OK|ERR)/, from), clock.sleep(2000).then(() => -1)]);
    return console.lines.slice(from, end < 0 ? undefined : end + 1).map((l) => l.text);
  };
  return { clock, flash, mcu, uart, console, command, romStarts: () => romStarts };
}

describe.skipIf(!availability.available)(`STM32H745 executing the committed test application${skipNote}`, () => {
  it('boots to READY in a few virtual ms, sets the direct-SMPS supply once, and answers on USART3', async () => {
    const c = await chip();
    c.flash.program(0x08000000, image('testapp-1.0.0.bin'));
    c.flash.program(0x08100000, image('cm4-idle-1.0.0.bin'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect(c.console.lines[0]!.text).toBe('READY dfu-hil-testapp 1.0.0');
    expect(c.console.lines[0]!.t).toBeLessThanOrEqual(5);
    expect(c.mcu.pwr.supplyBits).toBe(0x04);
    expect(await c.command('version')).toEqual(['VERSION dfu-hil-testapp 1.0.0', 'OK']);
    expect((await c.command('boot'))[0]).toBe('BOOT cause=power-on entry=reset rsr=0x00FE0000 cm4=running ecc=0');
    expect(await c.command('pin PZ9 1')).toEqual(['ERR usage: pin <Pxn> <0|1>']);
    c.mcu.dispose();
  });

  it('counts the flash words with an ECC error in its bank by reading each one (ecc=<n>)', async () => {
    const c = await chip();
    c.flash.program(0x08000000, image('testapp-1.0.0.bin'));
    // Programming a word twice without an erase leaves a sticky ECC error (RM0399 §4.3.9).
    for (const at of [0x08010000, 0x080f0040]) {
      c.flash.program(at, new Uint8Array(32));
      c.flash.program(at, new Uint8Array(32));
    }
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect((await c.command('boot'))[0]).toMatch(/ ecc=2$/);
    expect(c.mcu.flashInterface.read32(0x60)).toBe((0x080f0040 - 0x08000000) / 32);
    c.mcu.dispose();
  });

  it('`dfu jump` hands a clean state to the ROM through the magic word and the early jump; the magic is cleared', async () => {
    const c = await chip();
    c.flash.program(0x08000000, image('testapp-1.0.0.bin'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect(await c.command('dfu jump')).toEqual(['OK']);
    await c.clock.sleep(5);
    expect(c.romStarts()).toBe(1);
    expect(c.mcu.cm7State).toBe('bootloader');
    expect(c.mcu.romEntryProblems).toEqual([]);
    expect(c.mcu.sram.readU64(DFU_MAGIC_ADDRESS)).toBe(0n);
    c.mcu.dispose();
  });

  it('`dfu direct` de-initialises (USART3 and GPIO clocks off, NVIC cleared, SysTick stopped) and the ROM takes over', async () => {
    const c = await chip();
    c.flash.program(0x08000000, image('testapp-1.0.0.bin'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect(await c.command('dfu direct')).toEqual(['OK']);
    await c.clock.sleep(5);
    expect(c.romStarts()).toBe(1);
    expect(c.mcu.romEntryProblems).toEqual([]);
    expect(c.mcu.rccPeripheral.enableRegister('APB1L')).toBe(0);
    expect(c.mcu.rccPeripheral.enableRegister('AHB4')).toBe(0);
    c.mcu.dispose();
  });

  it('a broken image (vector table erased) takes a HardFault into its Default_Handler, silently: it does not lock up', async () => {
    const c = await chip();
    c.flash.program(0x08000000, image('testapp-broken.bin'));
    c.mcu.powerOn();
    await c.clock.sleep(50);
    expect(c.console.lines).toEqual([]);
    expect(c.mcu.cm7State).toBe('app');
    expect(c.mcu.cm7Trouble?.description).toMatch(/fault handler \(exception 3/);
    c.mcu.dispose();
  });

  it('a jump into the ROM with interrupts masked leaves no DFU device, and says why', async () => {
    const c = await chip();
    // cpsid i; ldr r0, =0x1FF09800; ldr r1, [r0]; msr msp, r1; ldr r0, [r0, #4]; bx r0
    c.flash.program(0x08000000, handAssembledImage([0xb672, 0x4803, 0x6801, 0xf381, 0x8808, 0x6840, 0x4700, 0x0000, 0x9800, 0x1ff0]));
    c.mcu.powerOn();
    await c.clock.sleep(5);
    expect(c.romStarts()).toBe(0);
    expect(c.mcu.cm7State).toBe('bootloader');
    expect(c.mcu.romEntryProblems?.map((p) => p.check)).toEqual(['interruptsMasked']);
    expect(c.mcu.cm7Trouble?.description).toMatch(/without a clean hand-over.*PRIMASK = 1/);
    c.mcu.dispose();
  });

  it('a supply setting the board is not wired for stops the chip until power is removed', async () => {
    const c = await chip();
    // ldr r0, =PWR_CR3; movs r1, #2 (LDOEN); str r1, [r0]; b .
    c.flash.program(0x08000000, handAssembledImage([0x4801, 0x2102, 0x6001, 0xe7fe, 0x480c, 0x5802]));
    c.mcu.powerOn();
    await c.clock.sleep(5);
    expect(c.mcu.cm7State).toBe('lockup');
    expect(c.mcu.cm7Trouble).toMatchObject({ kind: 'supply', description: expect.stringMatching(/LDO \(0x02\) on a board wired for direct SMPS/) });
    c.mcu.reset('pin');
    expect(c.mcu.cm7State).toBe('lockup');
    // The recovery: without power the setting is gone; with the right firmware the board comes back.
    c.mcu.powerOff();
    c.flash.massErase();
    c.flash.program(0x08000000, image('testapp-1.0.0.bin'));
    c.mcu.powerOn();
    await c.console.waitFor(/^READY/);
    expect(c.mcu.cm7Trouble).toBeUndefined();
    c.mcu.dispose();
  });
});
