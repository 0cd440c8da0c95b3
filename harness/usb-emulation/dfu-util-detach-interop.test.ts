// dfu-util's run-time → DFU switch (`-e`, DFU 1.1 §5.1) against the simulated application's
// own USB device through umockdev. What dfu-util 0.11 does, from its src/main.c: it claims the
// run-time interface, sets alternate setting 0, asks GETSTATUS (a STALL means appIDLE),
// sends DETACH with wValue 1000, and issues a USB reset only when the functional descriptor's
// bitWillDetach is clear; with `-e` it stops there. The ROM then enumerates as 0483:df11 on
// the same port, where the next dfu-util finds it.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadReferenceImages, type ReferenceImages } from '../rig/reference-images.js';
import type { DfuRuntimeSettings } from '../sim/app/dfu-runtime-interface.js';
import { dfuUtilSupport, exposeSimApplication, type ExposedSimApplication } from './testing/interop-board.js';
import { findUmockdevSupport, type UmockdevTools } from './umockdev-support.js';

const support = await findUmockdevSupport();
const { version: dfuUtilVersion, skipReason } = dfuUtilSupport(support);
const suffix = skipReason ? ` (skipped: ${skipReason})` : '';

const APP: DfuRuntimeSettings = { vendorId: 0x1209, productId: 0x0001, serialNumber: 'APP0001' };

describe.skipIf(skipReason !== undefined)(`dfu-util ${dfuUtilVersion ?? ''} -e against the simulated application's run-time DFU interface through umockdev${suffix}`, () => {
  let images: ReferenceImages;
  let app: ExposedSimApplication | undefined;

  beforeAll(async () => {
    images = await loadReferenceImages();
  });

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function expose(settings: Partial<DfuRuntimeSettings> = {}): Promise<ExposedSimApplication> {
    app = await exposeSimApplication(images, support as UmockdevTools, { ...APP, ...settings });
    return app;
  }

  const dfuUtil = (a: ExposedSimApplication, ...args: string[]) => a.exposed.run('dfu-util', args, { timeoutMs: 60_000 });

  /** Lets the board's virtual time run until the ROM is up, as a bench does while nobody looks. */
  async function settle(a: ExposedSimApplication): Promise<void> {
    await a.clock.sleep(500);
  }

  it('-l lists the application as a run-time device on its own VID:PID', async () => {
    const a = await expose();
    const r = await dfuUtil(a, '-l');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/Found Runtime: \[1209:0001\] ver=0100, devnum=\d+, cfg=1, intf=1, path="1-1", alt=0, name="DFU run-time", serial="APP0001"/);
    expect(r.stdout).not.toContain('Found DFU');
  });

  it('-e: GETSTATUS says appIDLE, DETACH, then the USB reset; afterwards -l finds the ROM as 0483:df11 on the same port', async () => {
    const a = await expose();
    const r = await dfuUtil(a, '-e');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Claiming USB DFU (Run-Time) Interface...\nSetting Alternate Interface zero...\nDetermining device status...\n'
      + 'DFU state(0) = appIDLE, status(0) = No error condition is present\n'
      + 'Device really in Run-Time Mode, send DFU detach request...\nResetting USB...');
    expect(r.all).not.toContain('error detaching');
    await settle(a);
    expect(a.board.runningCode).toBe('bootloader');
    const list = await dfuUtil(a, '-l');
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toContain('Found DFU: [0483:df11] ver=0200');
    expect(list.stdout).toContain('path="1-1", alt=0, name="@Internal Flash   /0x08000000/16*128Kg", serial="200364500000"');
    expect(list.stdout).not.toContain('Found Runtime');
  });

  it('-e on a device that says bitWillDetach: no reset, the device leaves by itself', async () => {
    const a = await expose({ willDetach: true });
    const r = await dfuUtil(a, '-e');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Device will detach and reattach');
    expect(r.stdout).not.toContain('Resetting USB');
    await settle(a);
    expect(a.board.runningCode).toBe('bootloader');
    expect((await dfuUtil(a, '-l')).stdout).toContain('Found DFU: [0483:df11]');
  });

  it('-e on an application that ignores DETACH: dfu-util exits 0, the reset is an ordinary one, the application keeps running', async () => {
    const a = await expose();
    a.board.faults.appUsb.ignoreDetach = true;
    const r = await dfuUtil(a, '-e');
    expect(r.exitCode).toBe(0);
    await settle(a);
    expect(a.board.runningCode).toBe('app');
    const list = await dfuUtil(a, '-l');
    expect(list.stdout).toContain('Found Runtime: [1209:0001]');
    expect(list.stdout).not.toContain('Found DFU');
  });
});
