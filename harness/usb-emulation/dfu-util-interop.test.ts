// dfu-util, the reference DFU host that nobody here wrote, against the simulated board through
// umockdev. Its messages and exit codes are those it gives with ST's ROM on a bench.
import { execaSync } from 'execa';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imageStart, imageToBin } from '../dfu/image/firmware-image.js';
import { writeDfu } from '../dfu/image/dfuse-file.js';
import { loadRigs } from '../rig/config/load-rigs.js';
import { loadReferenceImages, REPO_ROOT, type ReferenceImages } from '../rig/reference-images.js';
import { SimRig } from '../rig/sim/sim-rig.js';
import { ExposedBoard } from './exposed-board.js';
import { findUmockdevSupport, type UmockdevTools } from './umockdev-support.js';

const support = await findUmockdevSupport();
const dfuUtilVersion = ((): string | undefined => {
  try {
    return /dfu-util (\S+)/.exec(execaSync('dfu-util', ['--version']).stdout)?.[1];
  } catch {
    return undefined;
  }
})();
const skipReason = !support.available ? support.reason : dfuUtilVersion === undefined ? 'dfu-util is not installed (sudo apt-get install -y dfu-util)' : undefined;
const suffix = skipReason ? ` (skipped: ${skipReason})` : '';


describe.skipIf(skipReason !== undefined)(`dfu-util ${dfuUtilVersion ?? ''} against the simulated ROM bootloader through umockdev${suffix}`, () => {
  let images: ReferenceImages;
  let dir: string;
  let rig: SimRig;
  let exposed: ExposedBoard;
  let binFile: string;
  let dfuFile: string;
  const FLASH = 0x08000000;

  beforeAll(async () => {
    images = await loadReferenceImages();
    dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-interop-'));
    binFile = path.join(dir, 'app-b.bin');
    dfuFile = path.join(dir, 'app-b.dfu');
    await writeFile(binFile, imageToBin(images.appB));
    await writeFile(dfuFile, writeDfu(images.appB));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(async () => {
    // The committed rigs.yaml's simulated rig on ROM V9.2.
    rig = await SimRig.create((await loadRigs(path.join(REPO_ROOT, 'rigs.yaml'))).rigs.get('sim-h745')!, images);
    await rig.enterDfu('console-jump');
    exposed = await ExposedBoard.start({ clock: rig.clock, connector: rig.board.usb }, support as UmockdevTools);
  });

  afterEach(async () => {
    await exposed.close();
    await rig.close();
  });

  const dfuUtil = (...args: string[]) => exposed.run('dfu-util', args, { timeoutMs: 60_000 });
  const flashBytes = (address: number, length: number): Uint8Array => rig.board.flash.read(address, length);

  it('lists the bootloader with both alternate settings, its layouts and serial', async () => {
    const r = await dfuUtil('-l');
    expect(r.exitCode).toBe(0);
    const found = r.stdout.split('\n').filter((l) => l.startsWith('Found DFU'));
    expect(found).toHaveLength(2);
    expect(r.stdout).toContain('Found DFU: [0483:df11] ver=0200, devnum=2, cfg=1, intf=0, path="1-1", alt=0, name="@Internal Flash   /0x08000000/16*128Kg", serial="200364500000"');
    expect(r.stdout).toContain('alt=1, name="@Option Bytes   /0x5200201C/01*128 e", serial="200364500000"');
  });

  it('downloads a .bin with a DfuSe sector erase; only the written bytes change', async () => {
    const bin = imageToBin(images.appB);
    expect(imageStart(images.appB)).toBe(FLASH);
    const r = await dfuUtil('-a', '0', '-s', `0x${FLASH.toString(16)}`, '-D', binFile);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain(`Downloading element to address = 0x08000000, size = ${bin.length}`);
    expect(r.stdout).toContain('Erase    done.');
    expect(r.stdout).toContain('Download done.');
    expect(r.stdout).toContain('File downloaded successfully');
    expect(flashBytes(FLASH, bin.length)).toEqual(bin);
    // The rest of sector 0 was erased with it.
    expect(flashBytes(FLASH + bin.length, 256).every((b) => b === 0xff)).toBe(true);
    expect(rig.board.runningCode).toBe('bootloader');
  });

  it('downloads a .dfu (addresses from the file) and uploads it back byte-identical', async () => {
    const bin = imageToBin(images.appB);
    const down = await dfuUtil('-a', '0', '-D', dfuFile);
    expect(down.exitCode).toBe(0);
    expect(down.stdout).toContain('Done parsing DfuSe file');
    expect(flashBytes(FLASH, bin.length)).toEqual(bin);

    const whole = Math.ceil(bin.length / 1024) * 1024;
    const uploaded = path.join(dir, 'uploaded.bin');
    await rm(uploaded, { force: true });
    const up = await dfuUtil('-a', '0', '-s', `0x${FLASH.toString(16)}:${whole}`, '-U', uploaded);
    expect(up.exitCode).toBe(0);
    expect(up.stdout).toContain('Upload done.');
    const back = new Uint8Array(await readFile(uploaded));
    expect(back.length).toBe(whole);
    expect(back.subarray(0, bin.length)).toEqual(bin);
    expect(back.subarray(bin.length).every((b) => b === 0xff)).toBe(true);
  });

  it('an upload whose length is not whole transfers reads its short last block from (N - 2) x wTransferSize', async () => {
    const length = 2 * 1024 + 100;
    const uploaded = path.join(dir, 'short-tail.bin');
    await rm(uploaded, { force: true });
    const up = await dfuUtil('-a', '0', '-s', `0x${FLASH.toString(16)}:${length}`, '-U', uploaded);
    expect(up.exitCode).toBe(0);
    // dfu-util asks for block 4 with wLength 100; ST's DFU class places it at (4 - 2) x 1024 (usbd_dfu.c).
    expect(new Uint8Array(await readFile(uploaded))).toEqual(flashBytes(FLASH, length));
  });

  it('mass-erases with :mass-erase:force, leaving every byte of both banks erased', async () => {
    expect(flashBytes(FLASH, 16).some((b) => b !== 0xff)).toBe(true);
    const r = await dfuUtil('-a', '0', '-s', `0x${FLASH.toString(16)}:mass-erase:force`);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain('Performing mass erase, this can take a moment');
    expect(flashBytes(FLASH, 2 * 1024 * 1024).every((b) => b === 0xff)).toBe(true);
  });

  it(':leave after a download: dfu-util exits 74 as with a real H7, and the board boots the new image, off the bus', async () => {
    const mark = rig.console.mark();
    const r = await dfuUtil('-a', '0', '-s', `0x${FLASH.toString(16)}:leave`, '-D', binFile);
    expect(r.exitCode).toBe(74);
    expect(r.stdout).toContain('File downloaded successfully');
    expect(r.stdout).toContain('Submitting leave request...');
    expect(r.stderr).toContain('Error during download get_status');
    const banner = await rig.console.waitForReady(2000, { after: mark });
    expect([banner.name, banner.version]).toEqual([images.identity.b.name, images.identity.b.version]);
    expect(rig.board.runningCode).toBe('app');
    const list = await dfuUtil('-l');
    expect(list.stdout).not.toContain('Found DFU');
  });

  it('with the leave race armed, dfu-util fails the way it does on a bench: exit 74, "Error during download get_status"', async () => {
    rig.faults.leaveRace();
    const r = await dfuUtil('-a', '0', '-s', `0x${FLASH.toString(16)}:leave`, '-D', binFile);
    expect(r.exitCode).toBe(74);
    expect(r.stderr).toContain('Error during download get_status');
    // The image was written all the same, and the board left the bootloader.
    expect(flashBytes(FLASH, imageToBin(images.appB).length)).toEqual(imageToBin(images.appB));
    await rig.console.waitForReady(2000);
    expect(rig.board.runningCode).toBe('app');
  });
});
