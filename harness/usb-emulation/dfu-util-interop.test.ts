// dfu-util, the reference DFU host that nobody here wrote, against the simulated board through
// umockdev. Its messages and exit codes are those it gives with ST's ROM on a bench; where they
// come from, dfu-util 0.11 src/dfuse.c and src/main.c.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { imageStart, imageToBin } from '../image/firmware-image.js';
import { writeDfu } from '../image/dfuse-file.js';
import { DfuState, DfuStatus } from '../dfu-wire/dfu.js';
import { runCli } from '../cli/main.js';
import { defaultCliServices } from '../cli/services.js';
import { loadReferenceImages, syntheticReferenceImages, type ReferenceImages } from '../rig/reference-images.js';
import type { SimRig } from '../rig/sim/sim-rig.js';
import { SimStateStore } from '../rig/sim/sim-state-store.js';
import type { ExposedBoard } from './exposed-board.js';
import { dfuUtilSupport, exposeSimBoard, type ExposedSimBoard } from './testing/interop-board.js';
import { findUmockdevSupport, type UmockdevTools } from './umockdev-support.js';
import { patternBytes } from '../image/testing/pattern-bytes.js';

const support = await findUmockdevSupport();
const { version: dfuUtilVersion, skipReason } = dfuUtilSupport(support);
const suffix = skipReason ? ` (skipped: ${skipReason})` : '';

/**
 * Device-busy time runs at a tenth of real time here, so that a suite of erases stays short; the
 * test "at real speed" shows scale 1, the default of `dfu-hil sim expose`.
 */
const BUSY_TIME_SCALE = 0.1;
const FLASH = 0x08000000;
const hex = (n: number): string => `0x${n.toString(16)}`;

describe.skipIf(skipReason !== undefined)(`dfu-util ${dfuUtilVersion ?? ''} against the simulated ROM bootloader through umockdev${suffix}`, () => {
  let images: ReferenceImages;
  let dir: string;
  let board: ExposedSimBoard | undefined;
  let rig: SimRig;
  let exposed: ExposedBoard;
  let binFile: string;
  let dfuFile: string;

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

  async function expose(busyTimeScale = BUSY_TIME_SCALE): Promise<void> {
    board = await exposeSimBoard(images, support as UmockdevTools, busyTimeScale);
    ({ rig, exposed } = board);
  }

  afterEach(async () => {
    await board?.close();
    board = undefined;
  });

  const dfuUtil = (...args: string[]) => exposed.run('dfu-util', args, { timeoutMs: 60_000 });
  const flashBytes = (address: number, length: number): Uint8Array => rig.backends.board.flash.read(address, length);

  describe('at a tenth of real time', () => {
    beforeEach(() => expose());

    it('lists the bootloader with both alternate settings, its layouts and serial', async () => {
      const r = await dfuUtil('-l');
      expect(r.exitCode).toBe(0);
      const found = r.stdout.split('\n').filter((l) => l.startsWith('Found DFU'));
      expect(found).toHaveLength(2);
      expect(r.stdout).toContain('Found DFU: [0483:df11] ver=0200, devnum=2, cfg=1, intf=0, path="1-1", alt=0, name="@Internal Flash   /0x08000000/16*128Kg", serial="200364500000"');
      expect(r.stdout).toContain('alt=1, name="@Option Bytes   /0x5200201C/01*128 e", serial="200364500000"');
    });

    it.each([
      { length: 1, at: '0x08000000' },
      { length: 1023, at: '0x08100000' },
      // 1024 bytes in sector 0, the last one in sector 1: two sector erases, a short last block.
      { length: 1025, at: '0x0801fc00' },
      // Across the bank boundary (0x08100000), ending with a 1-byte block.
      { length: 300_001, at: '0x080f0000' },
    ])('downloads $length bytes at $at and uploads them back byte-identical', async ({ length, at }) => {
      const address = Number.parseInt(at, 16);
      const data = patternBytes(length, length);
      const file = path.join(dir, `in-${length}.bin`);
      const back = path.join(dir, `out-${length}.bin`);
      await writeFile(file, data);
      await rm(back, { force: true });
      const down = await dfuUtil('-a', '0', '-s', hex(address), '-D', file);
      expect(down.exitCode).toBe(0);
      expect(down.stdout).toContain(`Downloading element to address = 0x${address.toString(16).padStart(8, '0')}, size = ${length}`);
      expect(down.stdout).toContain('File downloaded successfully');
      expect(flashBytes(address, length)).toEqual(data);
      const up = await dfuUtil('-a', '0', '-s', `${hex(address)}:${length}`, '-U', back);
      expect(up.exitCode).toBe(0);
      expect(new Uint8Array(await readFile(back))).toEqual(data);
    });

    it('downloads a .dfu (addresses from the file); only the written bytes and the rest of the sector change', async () => {
      const bin = imageToBin(images.appB);
      expect(imageStart(images.appB)).toBe(FLASH);
      const down = await dfuUtil('-a', '0', '-D', dfuFile);
      expect(down.exitCode).toBe(0);
      expect(down.stdout).toContain('Done parsing DfuSe file');
      expect(flashBytes(FLASH, bin.length)).toEqual(bin);
      expect(flashBytes(FLASH + bin.length, 256).every((b) => b === 0xff)).toBe(true);
      expect(rig.backends.board.runningCode).toBe('bootloader');
    });

    it('reads the 308-byte option-byte window from alt 1, bank-2 registers included', async () => {
      const back = path.join(dir, 'ob.bin');
      await rm(back, { force: true });
      const up = await dfuUtil('-a', '1', '-s', '0x5200201C:308', '-U', back);
      expect(up.exitCode).toBe(0);
      expect(new Uint8Array(await readFile(back))).toEqual(rig.backends.board.optionBytes.readWindow());
    });

    it('mass-erases with :mass-erase:force, leaving every byte of both banks erased', async () => {
      expect(flashBytes(FLASH, 16).some((b) => b !== 0xff)).toBe(true);
      const r = await dfuUtil('-a', '0', '-s', `${hex(FLASH)}:mass-erase:force`);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toContain('Performing mass erase, this can take a moment');
      expect(flashBytes(FLASH, 2 * 1024 * 1024).every((b) => b === 0xff)).toBe(true);
    });

    it(':leave after a download exits 74 with "Error during download get_status", as on a real H7, and the new image boots', async () => {
      const mark = rig.console.mark();
      const r = await dfuUtil('-a', '0', '-s', `${hex(FLASH)}:leave`, '-D', binFile);
      // The ROM leaves before the GETSTATUS status stage (profile leave.statusStage 'lost'): dfu-util
      // 0.11 dfuse_dnload_chunk() ends in errx(EX_IOERR = 74, "Error during download get_status").
      expect(r.exitCode).toBe(74);
      expect(r.stdout).toContain('File downloaded successfully');
      expect(r.stdout).toContain('Submitting leave request...');
      expect(r.stderr).toContain('Error during download get_status');
      const banner = await rig.console.waitForReady(2000, { after: mark });
      expect([banner.name, banner.version]).toEqual([images.identity.b.name, images.identity.b.version]);
      expect(rig.backends.board.runningCode).toBe('app');
      const list = await dfuUtil('-l');
      expect(list.stdout).not.toContain('Found DFU');
    });

    it('-R after a download: DETACH is accepted, no "can\'t detach", exit 0; the ROM stays in DFU mode', async () => {
      const r = await dfuUtil('-R', '-a', '0', '-s', '0x08020000', '-D', binFile);
      expect(r.exitCode).toBe(0);
      expect(r.all).not.toContain("can't detach");
      expect(r.stdout).toContain('Resetting USB to switch back to Run-Time mode');
      expect(flashBytes(0x0802_0000, 64)).toEqual(imageToBin(images.appB).subarray(0, 64));
      // Profile `detach: 'ignore'` (AN3156: DETACH "is not meaningful" to the bootloader).
      expect(rig.backends.board.runningCode).toBe('bootloader');
    });

    it('an address outside every segment: SET_ADDRESS runs, the second GETSTATUS says errTARGET, dfu-util exits 74', async () => {
      const back = path.join(dir, 'nowhere.bin');
      // `force` skips dfu-util's own layout check, so the device is asked.
      const r = await dfuUtil('-a', '0', '-s', '0x90000000:force:16', '-U', back);
      // dfuse_special_command(): first GETSTATUS dfuDNBUSY, then bStatus errTARGET -> "SET_ADDRESS not correctly executed", EX_IOERR.
      expect(r.exitCode).toBe(74);
      expect(r.stderr).toContain('SET_ADDRESS not correctly executed');
      expect(r.all).not.toContain('Wrong state after command');
      expect(rig.backends.board.snapshot().dfu).toMatchObject({ state: DfuState.DfuError, status: DfuStatus.ErrTarget });
    });
  });

  describe('at real speed (the default of `dfu-hil sim expose`)', () => {
    beforeEach(() => expose(1));

    it('a client whose timeout is shorter than the erase fails as on a bench: the 8.8 s mass erase outlasts dfu-util\'s 5 s GETSTATUS', async () => {
      const started = performance.now();
      const r = await dfuUtil('-a', '0', '-s', `${hex(FLASH)}:mass-erase:force`);
      // dfu-util waits bwPollTimeout (1000 ms), then its next GETSTATUS is held past libusb's 5 s
      // timeout: errx(EX_IOERR, "Error during special command \"MASS_ERASE\" get_status").
      expect(r.exitCode).toBe(74);
      expect(r.stderr).toContain('Error during special command "MASS_ERASE" get_status');
      expect(performance.now() - started).toBeGreaterThanOrEqual(6000);
    });
  });
});

describe.skipIf(skipReason !== undefined)(`dfu-util across two \`dfu-hil sim expose\` runs: one board${suffix}`, () => {
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(path.join(tmpdir(), 'dfu-hil-expose-'));
    await writeFile(path.join(tmp, 'rigs.yaml'), 'default: sim-a\nrigs:\n  sim-a:\n    kind: sim\n    usb: { serial: "200364500000" }\n');
  });
  afterEach(async () => { await rm(tmp, { recursive: true, force: true }); });

  async function cli(...argv: string[]): Promise<{ code: number; stdout: string }> {
    let stdout = '';
    const code = await runCli(argv, {
      stdout: { write: (t: string) => { stdout += t; } },
      stderr: { write: () => undefined },
      env: { DFU_HIL_STATE_DIR: path.join(tmp, 'state'), DFU_HIL_BUSY_TIME_SCALE: String(BUSY_TIME_SCALE) },
      cwd: tmp,
    }, defaultCliServices({ images: async () => syntheticReferenceImages() }));
    return { code, stdout };
  }

  it('the second dfu-util meets the dfuERROR the first one left, as on a bench, and clears it', async () => {
    expect((await cli('enter')).code).toBe(0);
    const first = JSON.parse((await cli('--json', 'sim', 'expose', '--', 'dfu-util', '-a', '0', '-s', '0x90000000:force:16', '-U', path.join(tmp, 'x.bin'))).stdout) as { exitCode: number; running: string };
    expect(first).toMatchObject({ exitCode: 74, running: 'bootloader' });
    const saved = await new SimStateStore(path.join(tmp, 'state'), 'sim-a').load();
    expect(saved?.dfu).toMatchObject({ state: DfuState.DfuError, status: DfuStatus.ErrTarget });
    const second = JSON.parse((await cli('--json', 'sim', 'expose', '--', 'dfu-util', '-a', '0', '-s', '0x08000000:16', '-U', path.join(tmp, 'y.bin'))).stdout) as { exitCode: number; output: string };
    expect(second.exitCode).toBe(0);
    // dfu-util main.c: a device found in dfuERROR is cleared before anything else.
    expect(second.output).toContain('DFU state(10) = dfuERROR, status(1) = File is not targeted for use by this device\nClearing status');
  });
});
