// BOOT0 driven by an RC circuit charged from an application pin: a reset inside the window
// (while the capacitor is above BOOT0's threshold) enters the ROM, after it the application
// boots, and a power-on never enters DFU. The window found by sweeping the delay must agree
// with R·C·ln(V0/Vth).
import * as allure from 'allure-js-commons';
import { describe } from 'vitest';
import type { Rig } from '../harness/rig/rig.js';
import { expect, test } from '../fixtures/hil.js';

/** Tolerance on the measured window: component tolerances on a bench, 1 ms steps in the sweep. */
const WINDOW_TOLERANCE = { relative: 0.05, absoluteMs: 2 };

/** True when `dfu rc <delayMs>` put the board in DFU; otherwise the application has booted again. */
async function entersDfuAfter(rig: Rig, delayMs: number): Promise<boolean> {
  try {
    await rig.enterDfu('rc', { rcDelayMs: delayMs, timeoutMs: 1_000 });
  } catch {
    await rig.waitForApp();
    return false;
  }
  await rig.leave();
  await rig.waitForApp();
  return true;
}

function expectedWindowMs(rig: Rig): number {
  const rc = rig.config.entry.rc!;
  return rc.r * rc.c * Math.log(rc.vdd / rc.threshold) * 1000;
}

describe('RC circuit on BOOT0', () => {
  test('a reset right after charging enters the bootloader', async ({ rig, needs }) => {
    needs('rc');
    const report = await rig.enterDfu('rc', { rcDelayMs: 0 });
    expect(report.vidPid).toEqual(rig.capabilities.bootloader.vidPid);
  });

  test('a reset after the window boots the application', async ({ rig, console: appConsole, needs, images }) => {
    needs('rc');
    const mark = appConsole.mark();
    await appConsole.dfuRc(Math.ceil(expectedWindowMs(rig) * 3));
    expect(await appConsole.waitForReady(rig.config.timeouts.readyMs, { after: mark })).toMatchObject(images.identity.a);
    expect(await rig.bootloaderPresent()).toBe(false);
  });

  test('a power-on never enters DFU, even straight after charging', async ({ rig, console: appConsole, needs, images }) => {
    needs('rc', 'power-control');
    await appConsole.pin(rig.config.entry.rc!.chargePin, 1);
    await rig.powerCycle();
    expect(await rig.waitForApp()).toMatchObject(images.identity.a);
    expect(await rig.bootloaderPresent()).toBe(false);
    expect((await appConsole.boot()).cause).toBe('power-on');
  });

  test(`the window found by sweeping the reset delay agrees with R·C·ln(V0/Vth) within ${WINDOW_TOLERANCE.relative * 100} % + ${WINDOW_TOLERANCE.absoluteMs} ms`, async ({ rig, needs }) => {
    needs('rc');
    const expected = expectedWindowMs(rig);
    // Bisect for the longest delay that still enters DFU.
    let inside = 0;
    let outside = Math.ceil(expected * 4);
    expect(await entersDfuAfter(rig, inside)).toBe(true);
    expect(await entersDfuAfter(rig, outside)).toBe(false);
    while (outside - inside > 1) {
      const mid = Math.floor((inside + outside) / 2);
      if (await entersDfuAfter(rig, mid)) inside = mid; else outside = mid;
    }
    await allure.parameter('window expected (ms)', expected.toFixed(2));
    await allure.parameter('window measured (ms)', `${inside}..${outside}`);
    expect(Math.abs(inside - expected)).toBeLessThanOrEqual(expected * WINDOW_TOLERANCE.relative + WINDOW_TOLERANCE.absoluteMs);
  });
});
