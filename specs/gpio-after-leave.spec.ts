// What the application finds after leave: every GPIO register of ports A..K, captured by its
// Reset_Handler before any initialisation, against the RM0399 reset values or the rig's
// listed exceptions; and a pin the application drove before entering DFU.
import { describe } from 'vitest';
import { compareGpio, describeGpioMismatches, gpioExpectationAfterLeave } from '../harness/rig/gpio-expectation.js';
import type { EntryMethod } from '../harness/rig/config/schema.js';
import type { GpioPortName } from '../harness/serial/console-protocol.js';
import { expect, test } from '../fixtures/hil.js';

/** The rig's LED pin (pins.led; LD1, PB0, on a NUCLEO-H745ZI-Q): its port, its bit, its MODER field. */
function led(pin: string): { pin: string; port: GpioPortName; bit: number; moder: number } {
  const bit = Number(pin.slice(2));
  return { pin, port: pin[1] as GpioPortName, bit: 1 << bit, moder: 2 * bit };
}

// Entry through a reset returns every pin to reset values before the bootloader runs.
const RESET_ENTRIES: EntryMethod[] = ['dfu-detach', 'console-jump', 'rc', 'probe'];

describe('GPIO state after leave', () => {
  for (const method of RESET_ENTRIES) {
    test(`entered by ${method}: the pre-init snapshot matches the expectation and the driven pin is released`, async ({ rig, console: appConsole, needs }) => {
      needs(method, 'led-pin');
      const pin = led(rig.capabilities.ledPin!);
      await appConsole.pin(pin.pin, 1);
      const driven = await rig.gpioSnapshot();
      expect(driven[pin.port]!.ODR & pin.bit).toBe(pin.bit);
      expect((driven[pin.port]!.MODER >> pin.moder) & 0x3).toBe(0x1);

      await rig.enterDfu(method);
      await rig.leave();
      await rig.waitForApp();
      const boot = await appConsole.boot();
      // After RC/BOOT0 entry the ROM runs straight from the reset, so the application never
      // cleared RCC_RSR and reports entry=reset; after the early-jump methods it reports jump.
      expect(boot.entry).toBe(method === 'rc' ? 'reset' : 'jump');
      const mismatches = compareGpio(boot.pre, gpioExpectationAfterLeave(rig.config));
      expect(describeGpioMismatches(mismatches)).toBe('');
      expect(boot.pre[pin.port]!.ODR & pin.bit).toBe(0);
    });
  }

  test('entered by console-direct (no reset): the pin the application drove is still driven after leave', async ({ rig, console: appConsole, needs }) => {
    needs('console-direct', 'led-pin');
    const pin = led(rig.capabilities.ledPin!);
    await appConsole.pin(pin.pin, 1);
    await rig.enterDfu('console-direct');
    await rig.leave();
    await rig.waitForApp();
    const boot = await appConsole.boot();
    // The well-known trap: a jump without a reset hands the application's pin state to the
    // bootloader and back. The harness reports it rather than hiding it.
    expect(boot.pre[pin.port]!.ODR & pin.bit).toBe(pin.bit);
    expect((boot.pre[pin.port]!.MODER >> pin.moder) & 0x3).toBe(0x1);
    const mismatches = compareGpio(boot.pre, gpioExpectationAfterLeave(rig.config));
    expect(mismatches.map((m) => `${m.port}.${m.register}`)).toEqual(expect.arrayContaining([`${pin.port}.MODER`, `${pin.port}.ODR`]));
  });

  test('the live registers after leave agree with what the application reports', async ({ rig, console: appConsole }) => {
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.leave();
    await rig.waitForApp();
    const live = await rig.gpioSnapshot();
    // The application configures USART3 on PD8/PD9 (AF7) after the snapshot, and nothing else.
    const boot = await appConsole.boot();
    expect(live.A).toEqual(boot.pre.A);
    expect(live.B).toEqual(boot.pre.B);
    expect((live.D!.MODER >> 16) & 0xf).toBe(0b1010);
    expect((live.D!.AFRH) & 0xff).toBe(0x77);
  });
});
