// Each form of rigs.yaml `appReady` on a simulated rig, end to end: the rig's wait ends when the
// banner, the application's USB device or the pin level appears, or after the settle time, and
// fails with a typed error naming the form and what was seen when it does not. The example
// application (executed, where libunicorn 2 is installed) prints its own banner and lights LD1;
// the modelled test application prints READY and offers its USB device by usb.dfuRuntime.
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadImageFile } from '../../image/image-file.js';
import { unicornAvailability } from '../../sim/cpu/unicorn-core.js';
import { parseRigs } from '../config/load-rigs.js';
import { createRig } from '../create-rig.js';
import { REPO_ROOT } from '../reference-images.js';
import type { Rig } from '../rig.js';
import { AppNotReadyError } from './app-ready.js';

const availability = await unicornAvailability();
const skipNote = availability.available ? '' : ` (skipped: ${availability.reason}; .ci/run installs libunicorn2)`;

const opened: Rig[] = [];
afterEach(async () => {
  for (const rig of opened.splice(0)) await rig.close();
});

/** A simulated rig described by `lines` (after `kind: sim`), as if in the repository's rigs.yaml. */
async function simRig(...lines: string[]): Promise<Rig> {
  const config = parseRigs(['rigs:', '  r:', '    kind: sim', '    usb: { serial: "200364500000", portPath: "1-3", app: "1209:0001", dfuRuntime: }', '    probe: { tool: st-flash }', ...lines.map((l) => `    ${l}`)].join('\n'),
    path.join(REPO_ROOT, 'rigs.yaml')).rigs.get('r')!;
  const rig = await createRig(config, { env: process.env, warn: () => undefined });
  opened.push(rig);
  return rig;
}

/** The rejection of `work`, which must be an AppNotReadyError. */
async function notReady(work: Promise<unknown>): Promise<AppNotReadyError> {
  const error = await work.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(AppNotReadyError);
  return error as AppNotReadyError;
}

describe('appReady on a simulated rig running the test application (modelled)', () => {
  it('console banner: the wait ends at the matching line of the next boot, with the identity its groups carry', async () => {
    const rig = await simRig('appReady: { banner: "^READY (?<name>\\\\S+) (?<version>\\\\S+)$" }');
    await rig.reset();
    const up = await rig.waitForApp();
    expect(up).toMatchObject({ form: 'console-banner', checked: true, evidence: 'READY dfu-hil-testapp 1.0.0', name: 'dfu-hil-testapp', version: '1.0.0' });
    // Seen when the line arrived, after the application's boot time.
    expect(up.t).toBe(rig.console.ready!.t);
    expect(up.afterMs).toBeGreaterThan(0);
  });

  it('console banner: a pattern nothing prints fails the wait, naming the pattern, the port and the lines seen', async () => {
    const error = await notReady(simRig('appReady: { banner: "^my-app \\\\S+ up$" }'));
    expect(error.message).toBe('no line matching /^my-app \\S+ up$/ on sim:r within 5000 ms; last lines: "READY dfu-hil-testapp 1.0.0" (appReady: console-banner)');
    expect(error.failureClass).toBe('test');
  });

  it('USB device: the wait ends when the application enumerates again after the reset, read from its product string', async () => {
    const rig = await simRig('appReady: { usb: "1209:0001", product: "^(?<name>\\\\S+) (?<version>\\\\S+)$" }');
    await rig.reset();
    const up = await rig.waitForApp();
    expect(up).toMatchObject({ form: 'usb-device', evidence: '1209:0001 SN 200364500000 @1-3 "dfu-hil-testapp 1.0.0"', name: 'dfu-hil-testapp', version: '1.0.0' });
    // The application's USB connects 100 ms after its start; the old enumeration did not count.
    expect(up.afterMs).toBeGreaterThanOrEqual(100);
  });

  it('USB device: an image that never runs never enumerates, and the wait says which device it looked for', async () => {
    const rig = await simRig('entry: { console-jump: }', 'appReady: { usb: "1209:0001" }');
    await rig.enterDfu('console-jump');
    await rig.flash(rig.images.broken);
    await rig.leave();
    const error = await notReady(rig.waitForApp(300));
    expect(error.message).toMatch(/^no USB device matching 1209:0001 @1-3 enumerated within 300 ms \(appReady: usb-device\)/);
  });

  it('GPIO level: the wait ends when the pin reads the level, read through the probe', async () => {
    const rig = await simRig('appReady: { gpio: PB0, level: 0, pollMs: 20 }');
    await rig.reset();
    const up = await rig.waitForApp();
    expect(up).toMatchObject({ form: 'gpio-level', checked: true });
    expect(up.evidence).toMatch(/^PB0 = 0 \(0x58020410 = 0x[0-9A-F]{8}\)$/);
    expect(rig.trace.probe?.since(0).some((e) => e.command === 'read 0x58020410 +4')).toBe(true);
  });

  it('GPIO level: a pin the test application leaves in its reset state never reads 1, so the rig does not open, saying what it read', async () => {
    const error = await notReady(simRig('appReady: { gpio: PB0, level: 1, pollMs: 100 }'));
    expect(error.message).toBe('PB0 did not read 1 within 5000 ms (last read 0) (appReady: gpio-level)');
  });

  it('settle time: the wait ends exactly that long after the reset, checking nothing else', async () => {
    const rig = await simRig('appReady: { settleMs: 250 }');
    await rig.reset();
    const before = rig.clock.now();
    const up = await rig.waitForApp();
    expect(up).toMatchObject({ form: 'settle-time', checked: true, afterMs: 250, evidence: '250 ms elapsed' });
    expect(rig.clock.now() - before).toBeLessThanOrEqual(250);
  });

  it('none: flash and leave only; the wait ends at once and says nothing was checked, even with nothing running', async () => {
    // Without a wait, the rig cannot know when the application takes commands: enter through the probe.
    const rig = await simRig('entry: { probe: }', 'appReady: none');
    await rig.enterDfu('probe');
    await rig.flash(rig.images.broken);
    await rig.leave();
    expect(await rig.waitForApp()).toMatchObject({ form: 'none', checked: false, afterMs: 0, evidence: 'not checked (appReady: none)' });
  });
});

describe.skipIf(!availability.available)(`appReady on a simulated rig executing the example application${skipNote}`, () => {
  const example = ['application: executed', 'firmware: { reference: firmware-images/images/example-app-2.0.0.hex }', 'entry: { dfu-detach:, probe: }'];

  it('console banner: its own banner, not READY, after a leave into the next version', async () => {
    const rig = await simRig(...example, 'appReady: { banner: "^(?<name>example-app) (?<version>\\\\S+) up$" }');
    await rig.enterDfu('dfu-detach');
    await rig.flash(await loadImageFile(path.join(REPO_ROOT, 'firmware-images/images/example-app-2.1.0.hex')));
    await rig.leave();
    expect(await rig.waitForApp()).toMatchObject({ form: 'console-banner', evidence: 'example-app 2.1.0 up', name: 'example-app', version: '2.1.0' });
  });

  it('GPIO level: LD1 reads 1 once the image runs again after leave; after a leave into an image that faults it stays 0', async () => {
    const rig = await simRig(...example, 'appReady: { gpio: PB0, level: 1, pollMs: 10 }');
    await rig.enterDfu('dfu-detach');
    await rig.leave();
    const up = await rig.waitForApp();
    expect(up).toMatchObject({ form: 'gpio-level', checked: true });
    expect(up.evidence).toMatch(/^PB0 = 1 \(0x58020410 = 0x[0-9A-F]{7}[13579BDF]\)$/);
    await rig.enterDfu('probe');
    await rig.flash(rig.images.broken);
    await rig.leave();
    const error = await notReady(rig.waitForApp(200));
    expect(error.message).toMatch(/^PB0 did not read 1 within 200 ms \(last read 0\) \(appReady: gpio-level\); likely cause: the Cortex-M7 is in its fault handler/);
  });
});
