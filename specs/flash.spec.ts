// Flashing over DfuSe: every image format, both banks, verified by an independent read-back,
// erasing exactly the sectors the image touches and nothing else.
import * as allure from 'allure-js-commons';
import { describe } from 'vitest';
import { loadImageFile } from '../harness/image/image-file.js';
import { buildTestAppImage } from '../harness/image/synthetic-app.js';
import { MemoryLayout } from '../harness/dfu/layout.js';
import { changedSectors } from '../harness/rig/flash-digest.js';
import type { Rig } from '../harness/rig/rig.js';
import type { FirmwareImage } from '../harness/image/firmware-image.js';
import { expect, test, type DfuOpener } from '../fixtures/hil.js';

/** Sector start addresses `image` touches, in the rig's flash layout. */
function touchedSectors(rig: Rig, image: FirmwareImage): number[] {
  const layout = MemoryLayout.parse(rig.capabilities.bootloader.layout.flash);
  return [...new Set(image.segments.flatMap((s) => layout.sectorsTouched(s.address, s.data.length).map((x) => x.start)))];
}

/** Reads every segment back through a fresh DfuSe session and compares byte for byte. */
async function expectInFlash(dfu: DfuOpener, image: FirmwareImage): Promise<void> {
  const session = await dfu();
  for (const segment of image.segments) {
    const back = await session.upload(segment.address, segment.data.length);
    expect(Buffer.from(back).equals(Buffer.from(segment.data)), `read-back of ${segment.data.length} bytes at 0x${segment.address.toString(16)}`).toBe(true);
  }
  await session.close();
}

describe('flashing over DfuSe', () => {
  for (const format of ['bin', 'hex', 'dfu'] as const) {
    test(`a .${format} of version B into bank 1: read back identical, only its sectors erased, B boots`, async ({ rig, dfu, images, needs }) => {
      // Version B is the test application's: a board booting firmware of its own has no B to boot.
      needs('test-app-console');
      const files = await images.files(images.appB, 'app-b');
      const image = await loadImageFile(files[format], format === 'bin' ? { address: images.appB.segments[0]!.address } : {});
      await rig.enterDfu(rig.capabilities.entryMethods[0]!);
      const before = rig.flashDigest ? await rig.flashDigest() : undefined;

      const report = await rig.flash(image);
      expect(report.erasedSectors).toEqual(touchedSectors(rig, image));
      expect(report.verified).toBe(true);
      await expectInFlash(dfu, image);
      if (before && rig.flashDigest) {
        const layout = MemoryLayout.parse(rig.capabilities.bootloader.layout.flash);
        const changed = changedSectors(before, await rig.flashDigest()).map((i) => layout.start + i * layout.segments[0]!.sectorSize);
        for (const sector of changed) expect(touchedSectors(rig, image)).toContain(sector);
      }

      await rig.leave();
      expect(await rig.waitForApp()).toMatchObject(images.identity.b);
    });
  }

  test('an image into bank 2 (the Cortex-M4 core\'s): read back identical, bank 1 untouched, the CM4 runs it after a reset', async ({ rig, dfu, console: appConsole }) => {
    const cm4 = buildTestAppImage({ name: 'dfu-hil-cm4-idle', version: '1.0.1', loadAddress: 0x08100000, core: 4 });
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const before = rig.flashDigest ? await rig.flashDigest() : undefined;
    const report = await rig.flash(cm4);
    expect(report.erasedSectors).toEqual([0x08100000]);
    await expectInFlash(dfu, cm4);
    if (before && rig.flashDigest) expect(changedSectors(before, await rig.flashDigest())).toEqual([8]);
    await rig.leave();
    await rig.waitForApp();
    // Leave is a jump on the Cortex-M7 only: the M4, whose bank was erased under it, is not
    // reset by it. Record what it does meanwhile; require it to run the new image after a reset.
    await allure.parameter('CM4 after leave', (await appConsole.boot()).cm4);
    await rig.reset();
    await rig.waitForApp();
    expect((await appConsole.boot()).cm4).toBe('running');
  });

  test('one image spanning both banks, 2 MiB in all, reads back identical', async ({ rig, dfu }) => {
    const pattern = (seed: number, size: number): Uint8Array => Uint8Array.from({ length: size }, (_, i) => (i * 131 + seed * 7 + (i >> 9)) & 0xff);
    const image: FirmwareImage = {
      source: 'two 1 MiB segments', format: 'bin',
      segments: [{ address: 0x08000000, data: pattern(1, 0x100000) }, { address: 0x08100000, data: pattern(2, 0x100000) }],
    };
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const report = await rig.flash(image, { verify: true });
    expect(report.erasedSectors).toHaveLength(16);
    expect(report.bytesWritten).toBe(0x200000);
    await expectInFlash(dfu, image);
  });

  test('an image outside the flash layout is refused before anything is erased', async ({ rig }) => {
    const outside = buildTestAppImage({ name: 'x', version: '1', loadAddress: 0x081ff000, size: 0x2000 });
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const before = rig.flashDigest ? await rig.flashDigest() : undefined;
    const mark = rig.trace.usb.mark();
    await expect(rig.flash(outside)).rejects.toThrow(/0x08200000/);
    expect(rig.trace.usb.since(mark).filter((e) => e.kind === 'control' && e.setup?.bRequest === 1 && e.setup.wValue === 0)).toEqual([]);
    if (before && rig.flashDigest) expect(changedSectors(before, await rig.flashDigest())).toEqual([]);
  });
});
