// Entering the bootloader from software, by every method the rig offers. Each must end with the
// bootloader enumerated as the rig says it should (VID:PID, serial, layouts) within the bound.
import { describe } from 'vitest';
import { MemoryLayout } from '../harness/dfu/layout.js';
import type { EntryMethod } from '../harness/rig/config/schema.js';
import { expect, test } from '../fixtures/hil.js';

const METHODS: EntryMethod[] = ['dfu-detach', 'console-jump', 'console-direct', 'console-command', 'rc', 'probe'];

describe('entering DFU from software', () => {
  for (const method of METHODS) {
    test(`by ${method}: the bootloader enumerates with the expected identity and layout`, async ({ rig, dfu, needs }) => {
      needs(method);
      const report = await rig.enterDfu(method);
      const expected = rig.capabilities.bootloader;
      expect(report.vidPid).toEqual(expected.vidPid);
      if (rig.config.usb.serial) expect(report.serialNumber).toBe(rig.config.usb.serial);
      expect(report.enumeratedAfterMs).toBeLessThanOrEqual(rig.config.timeouts.enumerationMs);
      expect(await rig.bootloaderPresent()).toBe(true);

      const session = await dfu();
      const layouts = session.layouts();
      expect([...layouts.entries()].map(([alt, l]) => [alt, l.source])).toEqual([[0, expected.layout.flash], [1, expected.layout.optionBytes]]);
      expect(layouts.get(0)).toEqual(MemoryLayout.parse(expected.layout.flash));
      // The DfuSe Get command: the bootloader lists what it supports (AN3156: 00 21 41 92).
      expect(await session.getCommands()).toEqual([0x00, 0x21, 0x41, 0x92]);
    });
  }

  test('the application no longer answers while the bootloader runs, and answers again after leave', async ({ rig, console: appConsole, images }) => {
    const method = rig.capabilities.entryMethods[0]!;
    await rig.enterDfu(method);
    await expect(appConsole.command('version', 500)).rejects.toMatchObject({ failure: 'timeout' });
    await rig.leave();
    const banner = await rig.waitForApp();
    expect(banner).toMatchObject(images.identity.a);
  });
});
