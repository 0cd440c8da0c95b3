// The worked example of docs/own-firmware.md: a team's own application (not the test
// application) enters DFU its own way, takes a new version, leaves, and shows the version it
// runs. It runs on a rig whose reference image is the example application
// (firmware-images/src/example, rigs.yaml sim-h745-example); elsewhere it is skipped, saying why.
import { describe } from 'vitest';
import { loadImageFile } from '../harness/image/index.js';
import { expect, test } from '../fixtures/hil.js';

const NEXT = 'firmware-images/images/example-app-2.1.0.hex';

describe('the example application, as a team would test its own', () => {
  test('enters DFU by DFU_DETACH, takes a new version, and shows it', async ({ rig, needs, skip }) => {
    needs('dfu-detach');
    if (rig.images.identity.a.name !== 'example-app') skip(`rig "${rig.name}" boots ${rig.images.identity.a.name}, not the example application (run it on sim-h745-example)`);
    const next = await loadImageFile(NEXT);
    await rig.enterDfu('dfu-detach');
    await rig.flash(next);
    await rig.leave();
    expect(await rig.waitForApp()).toMatchObject({ name: 'example-app', version: '2.1.0' });
  });

  test('enters DFU by its own console command, and leaving without a flash brings the same version back', async ({ rig, needs, skip }) => {
    needs('console-command');
    if (rig.images.identity.a.name !== 'example-app') skip(`rig "${rig.name}" boots ${rig.images.identity.a.name}, not the example application (run it on sim-h745-example)`);
    const mark = rig.trace.console.mark();
    const entered = await rig.enterDfu('console-command');
    expect(entered.vidPid).toEqual(rig.capabilities.bootloader.vidPid);
    expect(rig.trace.console.since(mark).filter((e) => e.direction === 'rx').map((e) => e.text)).toContain('entering the bootloader');
    await rig.leave();
    expect(await rig.waitForApp()).toMatchObject({ form: 'console-banner', name: 'example-app', version: '2.0.0', evidence: 'example-app 2.0.0 up' });
  });
});
