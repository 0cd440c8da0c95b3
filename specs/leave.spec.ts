// Leaving DFU: a jump to the new image (not a reset), which then boots and announces itself;
// an image that is not valid code never boots.
import { describe } from 'vitest';
import { expect, test } from '../fixtures/hil.js';

describe('leaving DFU', () => {
  test('the new image boots after leave, entered by a jump with no reset since', async ({ rig, console: appConsole, images }) => {
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(images.appB);
    const leave = await rig.leave();
    // Both are a completed leave: the bootloader answered dfuMANIFEST, or (the STM32H7 ROM) it was
    // gone before the GETSTATUS that started the leave could complete.
    expect(['manifest', 'disconnected']).toContain(leave.outcome);
    expect(await rig.bootloaderPresent()).toBe(false);
    const banner = await rig.waitForApp();
    expect(banner).toMatchObject(images.identity.b);
    expect(await appConsole.version()).toEqual(images.identity.b);
    const boot = await appConsole.boot();
    expect(boot.entry).toBe('jump');
    expect(boot.cause).toBe('none');
    expect(boot.rsr).toBe(0);
  });

  test('leaving without flashing returns to the same application', async ({ rig, images }) => {
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.leave();
    expect(await rig.waitForApp()).toMatchObject(images.identity.a);
  });

  test('an image with an invalid vector table does not boot and prints nothing', async ({ rig, console: appConsole, images }) => {
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(images.broken);
    const mark = appConsole.mark();
    await rig.leave();
    await expect(rig.waitForApp(2_000)).rejects.toMatchObject({ failure: 'timeout' });
    expect(rig.trace.console.since(mark).filter((e) => e.direction === 'rx')).toEqual([]);
  });
});
