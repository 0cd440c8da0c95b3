// What goes wrong on real DfuSe sessions, and how each ends: a typed error naming the DFU
// status and state, or a recovery, with the board still recoverable afterwards.
import * as allure from 'allure-js-commons';
import { describe } from 'vitest';
import { DfuError } from '../harness/dfu/errors.js';
import { DfuState } from '../harness/dfu/protocol.js';
import { buildTestAppImage } from '../harness/image/synthetic-app.js';
import { expect, test } from '../fixtures/hil.js';

const OPTION_BYTES = 0x5200201c;

describe('protocol errors', () => {
  test('an address outside the memory ends in errTARGET, and the session carries on', async ({ rig, dfu, images }) => {
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const session = await dfu();
    const error = await session.setAddress(0x90000000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuError);
    expect((error as DfuError).message).toMatch(/^errTARGET in dfuERROR after SET_ADDRESS 0x90000000/);
    expect((await session.dfu.getStatus()).state).toBe(DfuState.DfuIdle);
    const report = await session.download(images.appB, { verify: true });
    expect(report.verified).toBe(true);
  });

  test('under readout protection, reads and writes end in errVENDOR; Read Unprotect erases and the board is recovered', async ({ rig, dfu, images, needs }) => {
    needs('option-bytes', 'debug-probe', 'test-app-console');
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const ob = await dfu({ altSetting: 'Option Bytes' });
    const block = await ob.upload(OPTION_BYTES, 128);
    expect(block[1]).toBe(0xaa);
    const level1 = Uint8Array.from(block);
    level1[1] = 0x55; // OPTSR_CUR.RDP
    level1[5] = 0x55; // OPTSR_PRG.RDP: what the ROM programs
    const boot = rig.console.mark();
    const written = await ob.download([{ address: OPTION_BYTES, data: level1 }], { allowOptionBytes: true });
    expect(written.outcome).toBe('will-reset');
    // The option-byte write ends in a system reset: the application boots again, protected.
    await rig.console.waitForReady(rig.config.timeouts.readyMs, { after: boot });

    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const flash = await dfu();
    await expect(flash.upload(0x08000000, 1024)).rejects.toThrow(/errVENDOR/);
    await expect(flash.download(images.appB)).rejects.toThrow(/errVENDOR/);

    const afterUnprotect = rig.console.mark();
    const unprotect = await flash.readUnprotect({ allowOptionBytes: true });
    expect(unprotect.outcome).toBe('will-reset');
    // Regression to level 0 mass-erases the flash: nothing boots until the harness recovers it.
    // The regression runs a mass erase (seconds) before the reset; wait it out.
    await expect(rig.console.waitForReady(20_000, { after: afterUnprotect })).rejects.toMatchObject({ failure: "timeout" });
    await rig.recover(images.appA);
    expect(rig.console.ready).toMatchObject(images.identity.a);
  });

  test('RDP level 2 is refused by the host whatever the caller allows', async ({ rig, dfu, needs }) => {
    needs('option-bytes');
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const ob = await dfu({ altSetting: 'Option Bytes' });
    const block = Uint8Array.from(await ob.upload(OPTION_BYTES, 128));
    block[1] = 0xcc;
    block[5] = 0xcc;
    const mark = rig.trace.usb.mark();
    await expect(ob.download([{ address: OPTION_BYTES, data: block }], { allowOptionBytes: true })).rejects.toThrow(/level 2/);
    expect(rig.trace.usb.since(mark).filter((e) => e.setup?.bRequest === 1)).toEqual([]);
    // The session's raw DFU client is guarded too: the block never leaves the host.
    await ob.setAddress(OPTION_BYTES);
    const raw = rig.trace.usb.mark();
    await expect(ob.dfu.download(2, block)).rejects.toThrow(/level 2/);
    expect(rig.trace.usb.since(raw).map((e) => e.result)).toEqual(['refused (dfu-rdp2-refused)']);
    expect((await ob.upload(OPTION_BYTES, 128))[1]).toBe(0xaa);
  });

  test('a transfer interrupted by the device leaving the bus ends in a typed error; a new session then flashes', async ({ rig, images, needs }) => {
    needs('faults', 'test-app-console');
    const armed = rig.faults!.disconnectAt('DNLOAD', 3, 200);
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await expect(rig.flash(images.appB)).rejects.toMatchObject({ code: 'usb-no-device' });
    expect(armed.fired).toBe(true);
    const report = await rig.flash(images.appB);
    expect(report.verified).toBe(true);
    await rig.leave();
    expect(await rig.waitForApp()).toMatchObject(images.identity.b);
  });

  test('a STALL on the first GETSTATUS after a command is retried and the flash completes', async ({ rig, images, needs }) => {
    needs('faults');
    const faults = rig.faults!;
    const armed = faults.stallFirstStatusAfterCommand();
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const mark = rig.trace.usb.mark();
    const report = await rig.flash(images.appB);
    expect(armed.fired).toBe(true);
    expect(rig.trace.usb.since(mark).some((e) => e.result === 'stall')).toBe(true);
    expect(report.verified).toBe(true);
  });

  test('a STALLed UPLOAD ends in a typed error, and the session recovers to dfuIDLE', async ({ rig, dfu, images, needs }) => {
    needs('faults');
    const faults = rig.faults!;
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const session = await dfu();
    faults.stall('UPLOAD');
    await expect(session.upload(0x08000000, 1024)).rejects.toMatchObject({ code: expect.stringMatching(/stall|dfu/) });
    const back = await session.upload(0x08000000, 64);
    expect(Buffer.from(back).equals(Buffer.from(images.appA.segments[0]!.data.subarray(0, 64)))).toBe(true);
  });

  test('an absurd bwPollTimeout does not stall the host for hours', async ({ rig, images, needs }) => {
    needs('faults');
    const faults = rig.faults!;
    faults.lyingPollTimeout(0xffffff);
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(images.appB);
    const flashStep = rig.trace.steps.at(-1)!;
    await allure.parameter('flash virtual duration (ms)', flashStep.durationMs.toFixed(0));
    expect(flashStep.durationMs).toBeLessThan(60_000);
  });

  test('bank-2 erase: a sector erase that stays dfuDNBUSY is recovered with CLRSTATUS twice and the flash completes', async ({ rig, dfu }) => {
    const cm4 = buildTestAppImage({ name: 'dfu-hil-cm4-idle', version: '1.0.2', loadAddress: 0x08100000, core: 4 });
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const session = await dfu();
    const report = await session.download(cm4, { verify: true });
    expect(report.verified).toBe(true);
    expect(report.erasedSectors).toEqual([0x08100000]);
    await allure.parameter('stuck erases recovered', String(report.recoveries.length));
    for (const recovery of report.recoveries) {
      expect(recovery.address).toBe(0x08100000);
      expect(recovery.afterFirstClear).toMatch(/errUNKNOWN/);
    }
  });

  test('the leave race: the device drops before answering GETSTATUS, and leave still counts as done', async ({ rig, images, needs }) => {
    needs('faults', 'test-app-console');
    const faults = rig.faults!;
    const armed = faults.leaveRace();
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(images.appB);
    const leave = await rig.leave();
    expect(armed.fired).toBe(true);
    expect(leave.outcome).toBe('disconnected');
    expect(await rig.waitForApp()).toMatchObject(images.identity.b);
  });

  test('a board gone during leave\'s SET_ADDRESS is reported as the disconnect it is, not as a console timeout', async ({ rig, images, needs }) => {
    needs('faults');
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(images.appB);
    // Leave opens a session and sets the pointer first: that DNLOAD is the first one from here.
    const armed = rig.faults!.disconnectAt('DNLOAD', 1);
    const error = await rig.leave().catch((e: unknown) => e);
    expect(armed.fired).toBe(true);
    expect(error).toMatchObject({ code: 'dfu-disconnected' });
    expect((error as Error).message).toMatch(/^the device left the bus during SET_ADDRESS 0x08000000 of leave/);
  });

  test('noise on the console line is ignored and logged', async ({ rig, console: appConsole, images, needs }) => {
    needs('faults');
    const faults = rig.faults!;
    faults.consoleNoise('\u0000\u00ffgarbage #@!\r\n');
    expect(await appConsole.version()).toEqual(images.identity.a);
    expect(rig.trace.console.list().some((e) => e.noise === true)).toBe(true);
  });

  test('a 0x00 or 0xFF on the console before READY (a UART waking up) does not fail a good flash', async ({ rig, images, needs }) => {
    needs('faults', 'test-app-console');
    const faults = rig.faults!;
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(images.appB);
    faults.consoleNoiseAtReset('\u0000');
    // Without a line end, this byte runs into the banner the application prints after leave.
    faults.consoleNoise('\u00ff');
    await rig.leave();
    expect(await rig.waitForApp()).toMatchObject(images.identity.b);
    await rig.reset();
    expect(await rig.waitForApp()).toMatchObject(images.identity.b);
    const noise = rig.trace.console.list().filter((e) => e.noise).map((e) => e.text);
    expect(noise).toContain(`\\xFFREADY ${images.identity.b.name} ${images.identity.b.version}`);
    expect(noise).toContain(`\\x00READY ${images.identity.b.name} ${images.identity.b.version}`);
  });

  test('a slow re-enumeration still enters DFU within the rig\'s bound', async ({ rig, needs }) => {
    needs('faults');
    const faults = rig.faults!;
    faults.slowReEnumeration(3_000);
    const report = await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    expect(report.enumeratedAfterMs).toBeGreaterThanOrEqual(3_000);
    expect(report.enumeratedAfterMs).toBeLessThanOrEqual(rig.config.timeouts.enumerationMs);
  });
});
