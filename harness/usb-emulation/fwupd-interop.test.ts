// fwupd, how Linux distributions update DFU devices, against the simulated board through
// umockdev: `fwupdtool` on its own, no daemon, limited to its DFU plugin. What it does with the
// device comes from fwupd's plugins/dfu (fu-dfu-device.c, fu-dfu-target-stm.c).
import { execaSync } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadReferenceImages } from '../rig/reference-images.js';
import type { ExposedBoard } from './exposed-board.js';
import { exposeSimBoard, type ExposedSimBoard } from './testing/interop-board.js';
import { findUmockdevSupport, type UmockdevTools } from './umockdev-support.js';

const support = await findUmockdevSupport();
const fwupdVersion = ((): string | undefined => {
  try {
    return /fwupd\s+(\d+\.\d+\.\d+)/.exec(execaSync('fwupdtool', ['--version'], { reject: false, all: true }).all ?? '')?.[1];
  } catch {
    return undefined;
  }
})();
const skipReason = !support.available ? support.reason : fwupdVersion === undefined ? 'fwupdtool is not installed (sudo apt-get install -y fwupd)' : undefined;
const suffix = skipReason ? ` (skipped: ${skipReason})` : '';

interface FwupdDevice {
  Name: string;
  DeviceId: string;
  InstanceIds: string[];
  Serial?: string;
  Plugin: string;
  Protocols: string[];
  Flags: string[];
  Vendor: string;
  Version: string;
}

describe.skipIf(skipReason !== undefined)(`fwupdtool ${fwupdVersion ?? ''} against the simulated ROM bootloader through umockdev${suffix}`, () => {
  let board: ExposedSimBoard;
  let exposed: ExposedBoard;
  let dir: string;

  beforeEach(async () => {
    board = await exposeSimBoard(await loadReferenceImages(), support as UmockdevTools, 0.1);
    exposed = board.exposed;
    dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-fwupd-'));
  });

  afterEach(async () => {
    await board.close();
    await rm(dir, { recursive: true, force: true });
  });

  const fwupdtool = (...args: string[]) => exposed.run('fwupdtool', ['--plugins', 'dfu', ...args], { timeoutMs: 120_000 });

  it('get-devices shows the board in DFU mode: 0483:df11, its serial, the DfuSe protocol, a bootloader', async () => {
    const r = await fwupdtool('get-devices', '--json');
    expect(r.exitCode).toBe(0);
    const devices = (JSON.parse(r.stdout) as { Devices: FwupdDevice[] }).Devices.filter((d) => d.Plugin === 'dfu');
    expect(devices).toHaveLength(1);
    expect(devices[0]).toMatchObject({
      Name: 'DFU in FS Mode', InstanceIds: ['USB\\VID_0483&PID_DF11'], Serial: '200364500000', Protocols: ['com.st.dfuse'],
      Vendor: 'STMicroelectronics', Version: '2.0',
    });
    expect(devices[0]!.Flags).toEqual(expect.arrayContaining(['updatable', 'is-bootloader']));
  });

  it('reads the DfuSe layout: "Internal Flash", 16 sectors of 128 KiB from 0x08000000, readable, writable, erasable', async () => {
    const r = await fwupdtool('get-devices', '-vv');
    expect(r.exitCode).toBe(0);
    expect(r.all).toContain('FuDfuTargetStm:');
    expect(r.all).toContain('LogicalId:        @Internal Flash   /0x08000000/16*128Kg');
    const sectors = [...r.all.matchAll(/Idx[0-9a-f]{2}: +Zone:0, Sec#:0, Addr:(0x[0-9a-f]{8}), Size:0x20000, Caps:0x7 \[readable,writable,erasable\]/g)].map((m) => Number(m[1]));
    expect(sectors).toEqual(Array.from({ length: 16 }, (_, i) => 0x0800_0000 + i * 0x2_0000));
  });

  it('firmware-dump fails as the model predicts for the real ROM: fwupd falls back to 64-byte blocks, the ROM places them 1024 apart', async () => {
    // The H7 ROM's configuration has both alternate settings, then the DFU functional descriptor
    // (wTotalLength 0x24 in STM32CubeProgrammer's H743 log). fwupd finds no functional descriptor among the
    // interface's extra descriptors ("failed to parse interface data: no image idx 33 found") and
    // keeps its 64-byte default transfer size (fu_dfu_device_add_targets, fu-dfu-device.c). It then
    // reads with block numbers 2, 3, ... of 64 bytes each (fu_dfu_target_stm_upload_element), while
    // the ROM places block N at (N - 2) x 1024: the read runs past the end of flash and is STALLed.
    const list = await fwupdtool('get-devices', '--json');
    const device = (JSON.parse(list.stdout) as { Devices: FwupdDevice[] }).Devices.find((d) => d.Plugin === 'dfu')!;
    const r = await fwupdtool('firmware-dump', path.join(dir, 'dump.bin'), device.DeviceId, '-vv');
    expect(r.all).toContain('failed to parse interface data');
    expect(r.all).toContain('using DFU transfer size 0x0040 bytes');
    expect(r.exitCode).not.toBe(0);
    expect(r.all).toContain('cannot upload data: USB error: Pipe error');
  });
});
