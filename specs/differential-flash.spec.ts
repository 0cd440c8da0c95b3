// Differential flashing: a rig's flash erases and writes only the sectors whose bytes change,
// knowing what the board holds from its own record or by reading it back, and distrusting that
// record whenever something else may have touched the board.
import { describe } from 'vitest';
import { buildTestAppImage } from '../harness/image/synthetic-app.js';
import type { FirmwareImage } from '../harness/image/firmware-image.js';
import { describeDfuTransfers } from '../harness/dfu/protocol.js';
import { changedSectors } from '../harness/rig/flash-digest.js';
import type { Rig } from '../harness/rig/rig.js';
import { expect, test, type DfuOpener } from '../fixtures/hil.js';

const SECTOR = 0x20000;
const BANK1 = 0x08000000;
const THREE_SECTORS = [BANK1, BANK1 + SECTOR, BANK1 + 2 * SECTOR];

/** An application image over three sectors of bank 1, the last one partly. */
function threeSectorImage(version = '5.0.0'): FirmwareImage {
  return buildTestAppImage({ name: 'dfu-hil-differential', version, size: 2 * SECTOR + 0x2000 });
}

/** `image` with one byte changed in the sector at `sector`. */
function withOneByteChanged(image: FirmwareImage, sector: number): FirmwareImage {
  const segment = image.segments[0]!;
  const data = segment.data.slice();
  data[sector - segment.address + 0x155]! ^= 0xa5;
  return { ...image, source: `${image.source}, one byte changed at ${(sector + 0x155).toString(16)}`, segments: [{ address: segment.address, data }] };
}

/** Erases and data blocks the rig sent since `mark`: what changed the flash. */
function flashWrites(rig: Rig, mark: number): string[] {
  return describeDfuTransfers(rig.trace.usb.since(mark)).filter((t) => /^(ERASE|MASS_ERASE|DNLOAD#)/.test(t));
}

/** Reads the image back through a fresh DfuSe session and compares byte for byte. */
async function expectInFlash(dfu: DfuOpener, image: FirmwareImage): Promise<void> {
  const session = await dfu();
  for (const segment of image.segments) {
    const back = await session.upload(segment.address, segment.data.length);
    expect(Buffer.compare(back, segment.data), `read-back of ${segment.data.length} bytes at 0x${segment.address.toString(16)}`).toBe(0);
  }
  await session.close();
}

describe('differential flashing', () => {
  test('an image that differs in one sector: only that sector is erased and programmed, and the bytes verify', async ({ rig, dfu }) => {
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(threeSectorImage());
    const changed = withOneByteChanged(threeSectorImage(), BANK1 + SECTOR);
    const before = rig.flashDigest ? await rig.flashDigest() : undefined;
    const mark = rig.trace.usb.mark();

    const report = await rig.flash(changed);
    expect(report).toMatchObject({ erasedSectors: [BANK1 + SECTOR], skippedSectors: [BANK1, BANK1 + 2 * SECTOR], bytesWritten: SECTOR, verified: true });
    // The rig wrote the first image itself and nothing touched the board since: it knew, without reading.
    expect(report.differential).toEqual({ fromCache: THREE_SECTORS, readBack: [] });
    const writes = flashWrites(rig, mark);
    expect(writes.filter((w) => w.startsWith('ERASE'))).toEqual(['ERASE 0x08020000 ok']);
    expect(writes.filter((w) => w.startsWith('DNLOAD#'))).toHaveLength(SECTOR / 1024);
    await expectInFlash(dfu, changed);
    if (before && rig.flashDigest) expect(changedSectors(before, await rig.flashDigest())).toEqual([1]);
  });

  test('the image the board already holds: nothing erased, nothing written, its bytes confirmed', async ({ rig, images }) => {
    // Every test starts with reference application A in bank 1.
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    const mark = rig.trace.usb.mark();
    const report = await rig.flash(images.appA);
    expect(report).toMatchObject({ erasedSectors: [], skippedSectors: [BANK1], bytesWritten: 0, verified: true });
    expect(flashWrites(rig, mark)).toEqual([]);
  });

  test('a board changed behind the harness\'s back by another DFU session: the record is distrusted and the result is still right', async ({ rig, dfu }) => {
    const image = threeSectorImage();
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(image);
    // Another program on the same bus (here a second session) erases a sector the rig wrote.
    const other = await dfu();
    await other.eraseSector(BANK1 + SECTOR);
    await other.close();

    const report = await rig.flash(image);
    expect(report.differential?.cacheDistrusted).toMatch(/^ERASE 0x08020000 reached /);
    expect(report.differential?.readBack).toEqual(THREE_SECTORS);
    expect(report).toMatchObject({ erasedSectors: [BANK1 + SECTOR], skippedSectors: [BANK1, BANK1 + 2 * SECTOR], verified: true });
    await expectInFlash(dfu, image);
  });

  test('a board changed behind the harness\'s back over SWD: the record is distrusted and the result is still right', async ({ rig, dfu, needs }) => {
    needs('debug-probe');
    const image = threeSectorImage();
    await rig.enterDfu(rig.capabilities.entryMethods[0]!);
    await rig.flash(image);
    await rig.probe!.massErase();

    const report = await rig.flash(image);
    expect(report.differential?.cacheDistrusted).toBe('the debug probe mass-erased the flash');
    expect(report).toMatchObject({ erasedSectors: THREE_SECTORS, skippedSectors: [], verified: true });
    await expectInFlash(dfu, image);
  });
});
