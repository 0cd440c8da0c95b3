// Recovery: power lost in the middle of a flash leaves a sector half written and nothing
// bootable; the harness gets back in (probe or BOOT0) and restores a bootable image.
import { describe } from 'vitest';
import { expect, test } from '../fixtures/hil.js';

describe('recovery', () => {
  test('after power loss mid-flash, the board is restored to a bootable image', async ({ rig, console: appConsole, images, needs }) => {
    needs('faults', 'power-control', 'debug-probe');
    // Power goes the moment programming starts after sector 0 was erased: no vector table left.
    const cut = rig.faults!.powerLossAfterBytes(0);
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await expect(rig.flash(images.appB)).rejects.toMatchObject({ code: 'usb-no-device' });
    expect(cut.fired).toBe(true);

    await rig.powerCycle();
    // Nothing valid in bank 1: the core locks up and the console stays silent.
    await expect(rig.waitForApp(2_000)).rejects.toMatchObject({ failure: 'timeout' });

    await rig.recover(images.appA);
    expect(rig.console.ready).toMatchObject(images.identity.a);
    const boot = await appConsole.boot();
    expect(boot.ecc).toBe(0);
    // RSR still holds the power-on flags: the locked-up core never ran to clear them.
    expect(boot.entry).toBe('reset');
  });

  test('a half-written image is replaced through DFU once the board is back in the bootloader', async ({ rig, images, needs }) => {
    needs('faults', 'power-control', 'test-app-console');
    const cut = rig.faults!.powerLossAfterBytes(2048);
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await expect(rig.flash(images.appB)).rejects.toMatchObject({ code: 'usb-no-device' });
    expect(cut.fired).toBe(true);
    await rig.powerCycle();
    // Whatever the half-written image does now, a working entry path and a reflash repair it.
    const banner = await rig.waitForApp(2_000).catch(() => undefined);
    if (banner === undefined) {
      needs('debug-probe');
      await rig.recover(images.appA);
    }
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const report = await rig.flash(images.appB);
    expect(report.verified).toBe(true);
    await rig.leave();
    expect(await rig.waitForApp()).toMatchObject(images.identity.b);
  });
});
