import { describe, expect, it } from 'vitest';
import { DfuDescriptorError, DfuError, DfuRangeError, DfuStateError, DfuVerifyError, OptionBytesFormatError, OptionBytesRefusedError, RdpLevel2RefusedError } from './errors.js';
import { DfuseClient, type DfuProgress, type DfuseOpenOptions } from './dfuse-client.js';
import { ST_ROM_H745_V9_1, ST_ROM_H745_V9_2, type BootloaderProfile } from '../sim/bootloader/profiles.js';
import { describeDfuTransfers, DfuRequest, DfuState, DfuStatus } from './protocol.js';
import { plugSimulatedDfuseDevice, type SimulatedDfuseOptions } from './testing/simulated-dfuse.js';

const KiB = 1024;

async function session(device: SimulatedDfuseOptions = {}, options: Omit<DfuseOpenOptions, 'clock'> = {}) {
  const setup = await plugSimulatedDfuseDevice(device);
  const client = await DfuseClient.open(setup.bus, setup.info, { clock: setup.clock, ...options });
  let mark = client.transport.trace.mark();
  const transfers = (): string[] => describeDfuTransfers(client.transport.trace.since(mark));
  const resetTrace = (): void => { mark = client.transport.trace.mark(); };
  const commands = (): string[] => transfers().filter((t) => /^(ERASE|MASS_ERASE|SET_ADDRESS|READ_UNPROTECT|DNLOAD#)/.test(t));
  return { ...setup, client, transfers, resetTrace, commands, flash: setup.chip.flash };
}

/** The ROM profile with other USB descriptor values (layouts, functional descriptor). */
function profileWith(usb: Partial<BootloaderProfile['usb']>, base: BootloaderProfile = ST_ROM_H745_V9_2): BootloaderProfile {
  return { ...base, usb: { ...base.usb, ...usb } };
}

function withLayouts(...names: string[]): BootloaderProfile {
  return profileWith({ altSettings: names.map((name, i) => ({ name, iInterface: 6 + i, target: /option/i.test(name) ? 'option-bytes' as const : 'flash' as const })) });
}

function withTransferSize(wTransferSize: number): BootloaderProfile {
  return profileWith({ functional: { ...ST_ROM_H745_V9_2.usb.functional, wTransferSize } });
}

function pattern(length: number, seed = 0): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 7 + seed) & 0xff);
}

describe('DfuseClient.open', () => {
  it('selects alt 0, parses its layout and takes wTransferSize from the functional descriptor', async () => {
    const { client } = await session();
    expect(client.alternateSetting).toBe(0);
    expect(client.layout.name).toBe('Internal Flash');
    expect(client.layout.end).toBe(0x08200000);
    expect(client.transferSize).toBe(1024);
    expect(client.functional?.bcdDFUVersion).toBe(0x011a);
    expect([...client.layouts().values()].map((l) => l.name)).toEqual(['Internal Flash', 'Option Bytes']);
  });

  it('selects an alt setting by its memory name', async () => {
    const { client, bootloader } = await session({}, { altSetting: 'Option Bytes' });
    expect(client.alternateSetting).toBe(1);
    expect(bootloader.altSetting).toBe(1);
    expect(client.layout.start).toBe(0x5200201c);
  });

  it('switches alt settings, with the layout following', async () => {
    const { client, bootloader } = await session();
    const layout = await client.selectAlt('option bytes');
    expect(layout.start).toBe(0x5200201c);
    expect(client.alternateSetting).toBe(1);
    expect(bootloader.altSetting).toBe(1);
    expect((await client.upload(0x5200201c, 128))[1]).toBe(0xaa);
  });

  it('refuses an unknown alt setting, listing the ones there are', async () => {
    await expect(session({}, { altSetting: 'SRAM' })).rejects.toThrow('no alternate setting "SRAM" on the DFU interface (it has 0 "@Internal Flash   /0x08000000/16*128Kg", 1 "@Option Bytes   /0x5200201C/01*128 e")');
  });

  it('rejects wTransferSize 0 with a typed error', async () => {
    const error = await session({ profile: withTransferSize(0) }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuDescriptorError);
    expect((error as DfuDescriptorError).message).toBe('the DFU functional descriptor gives wTransferSize 0');
    expect((error as DfuDescriptorError).hint).toMatch(/pass transferSize/);
  });

  it('clamps wTransferSize above 4096 to 4096, and takes an explicit override as given', async () => {
    expect((await session({ profile: withTransferSize(8192) })).client.transferSize).toBe(4096);
    expect((await session({ profile: withTransferSize(0) }, { transferSize: 2048 })).client.transferSize).toBe(2048);
    await expect(session({}, { transferSize: 0 })).rejects.toBeInstanceOf(DfuDescriptorError);
  });

  it('brings a device left in dfuDNLOAD-IDLE or dfuERROR by an aborted run back to dfuIDLE', async () => {
    const left = (state: DfuState, status = DfuStatus.Ok): SimulatedDfuseOptions => ({
      resume: { state, status, addressPointer: 0x0800_0000, jumpTarget: 0x0800_0000, altSetting: 0, writesPoisoned: false },
    });
    const stale = await session(left(DfuState.DfuDnloadIdle));
    expect(stale.bootloader.state).toBe(DfuState.DfuIdle);
    const error = await session(left(DfuState.DfuError, DfuStatus.ErrProg));
    expect(error.bootloader.state).toBe(DfuState.DfuIdle);
    expect(describeDfuTransfers(error.client.transport.trace.list())).toEqual(['bus attach', 'GETSTATUS errPROG/dfuERROR ok', 'CLRSTATUS ok', 'GETSTATUS OK/dfuIDLE ok']);
  });
});

describe('DfuSe commands', () => {
  it('reads the command list with Get (UPLOAD wValue=0) and returns to dfuIDLE', async () => {
    const { client, bootloader, transfers } = await session();
    expect(await client.getCommands()).toEqual([0x00, 0x21, 0x41, 0x92]);
    expect(bootloader.state).toBe(DfuState.DfuIdle);
    expect(transfers()).toEqual(['GETSTATUS OK/dfuIDLE ok', 'UPLOAD(get) ok', 'ABORT ok']);
  });

  it('sets the address pointer: DNLOAD 0x21+address, GETSTATUS dfuDNBUSY, GETSTATUS dfuDNLOAD-IDLE', async () => {
    const { client, bootloader, transfers } = await session();
    await client.setAddress(0x08100000);
    expect(bootloader.addressPointer).toBe(0x08100000);
    expect(transfers()).toEqual(['SET_ADDRESS 0x08100000 ok', 'GETSTATUS OK/dfuDNBUSY ok', 'GETSTATUS OK/dfuDNLOAD-IDLE ok']);
  });

  it('erases a sector, waiting the reported bwPollTimeout', async () => {
    const { client, flash, clock, faults } = await session();
    faults.lyingPollTimeout({ reportMs: 1000, busyMs: 900, on: 'sector-erase' });
    flash.program(0x08020000, pattern(64));
    const start = clock.now();
    expect(await client.eraseSector(0x08020010)).toBeUndefined();
    expect(Array.from(flash.read(0x08020000, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
    // DNLOAD, GETSTATUS dfuDNBUSY, the 1000 ms wait, GETSTATUS: the three transfers' 0.1 ms of
    // full-speed wire time stays in the carry.
    expect(clock.now() - start).toBe(1000);
  });

  it('mass-erases with 0x41 alone', async () => {
    const { client, flash, transfers } = await session();
    flash.program(0x081ffff0, pattern(16));
    await client.massErase();
    expect(flash.read(0x081ffff0, 16).every((b) => b === 0xff)).toBe(true);
    expect(transfers()[0]).toBe('MASS_ERASE ok');
  });

  it('reports an erase outside the memory as errTARGET naming the address, from the second GETSTATUS', async () => {
    const { client, transfers } = await session();
    await expect(client.eraseSector(0x08200000)).rejects.toThrow(new DfuError({ request: 'ERASE', address: 0x08200000 }, { status: DfuStatus.ErrTarget, state: DfuState.DfuError, pollTimeoutMs: 0, iString: 0 }).message);
    expect(transfers().slice(0, 3)).toEqual(['ERASE 0x08200000 ok', 'GETSTATUS OK/dfuDNBUSY ok', 'GETSTATUS errTARGET/dfuERROR ok']);
    // The error was cleared, so the session is still usable and the same error comes back.
    await expect(client.eraseSector(0x08200000)).rejects.toThrow('errTARGET in dfuERROR after ERASE 0x08200000');
    await client.eraseSector(0x08000000);
  });

  it('refuses a command whose first GETSTATUS is not dfuDNBUSY', async () => {
    const { client, faults } = await session();
    faults.skipBusyState();
    await expect(client.setAddress(0x08000000)).rejects.toThrow('expected dfuDNBUSY (a DfuSe command runs on the first GETSTATUS) after SET_ADDRESS 0x08000000, the device reported dfuDNLOAD-IDLE (OK)');
  });

  it('refuses Read Unprotect without allowOptionBytes, and treats the reset after it as expected', async () => {
    const strict = await session();
    await expect(strict.client.readUnprotect({ allowOptionBytes: true })).rejects.toBeInstanceOf(OptionBytesRefusedError);
    expect(strict.transfers().filter((t) => t.startsWith('READ_UNPROTECT'))).toEqual([]);
    const { client, chip, transfers } = await session({}, { allowOptionBytes: true });
    await expect(client.readUnprotect()).rejects.toBeInstanceOf(OptionBytesRefusedError);
    expect(transfers().filter((t) => t.startsWith('READ_UNPROTECT'))).toEqual([]);
    expect(await client.readUnprotect({ allowOptionBytes: true })).toEqual({ outcome: 'will-reset' });
    expect(transfers().filter((t) => t.startsWith('READ_UNPROTECT'))).toEqual(['READ_UNPROTECT ok']);
    await client.transport.close();
    // An unprotected chip loses only its RAM (AN3156 §5.4), then resets.
    await chip.clock.sleep(100);
    expect(chip.eventsOf('reset')).toHaveLength(1);
  });
});

describe('DfuseClient.download', () => {
  it('erases exactly the sectors the image touches, each once, in address order', async () => {
    const { client, transfers } = await session();
    const report = await client.download([
      { address: 0x08120000, data: pattern(100) },
      { address: 0x0801fff0, data: pattern(32) }, // straddles sectors 0 and 1
      { address: 0x08020100, data: pattern(64) }, // sector 1 again
    ]);
    expect(report.erasedSectors).toEqual([0x08000000, 0x08020000, 0x08120000]);
    expect(transfers().filter((l) => l.startsWith('ERASE'))).toEqual(['ERASE 0x08000000 ok', 'ERASE 0x08020000 ok', 'ERASE 0x08120000 ok']);
  });

  it('splits into wTransferSize blocks after one SET_ADDRESS, numbered 2, 3, 4 as the device places them', async () => {
    const { client, flash, transfers, resetTrace } = await session({}, { transferSize: 1024 });
    const data = pattern(2500);
    resetTrace();
    const report = await client.download([{ address: 0x08000000, data }], { erase: 'none' });
    expect(report).toMatchObject({ outcome: 'written', bytesWritten: 2504, erasedSectors: [] });
    // Block N lands at (N − 2) × wTransferSize + pointer (AN3156 §4.1), the short last one included.
    expect(transfers().filter((t) => !t.startsWith('GETSTATUS'))).toEqual([
      'SET_ADDRESS 0x08000000 ok', 'DNLOAD#2 1024 ok', 'DNLOAD#3 1024 ok', 'DNLOAD#4 456 ok',
    ]);
    // The tail is padded to the 8-byte write alignment with erased bytes.
    expect(Array.from(flash.read(0x080009c2, 8))).toEqual([...data.subarray(2498), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    expect(flash.read(0x08000000, 2500)).toEqual(data);
  });

  it('sets the pointer once per segment, and again before the block number would pass its limit', async () => {
    const { client, flash, transfers, resetTrace } = await session({ profile: withTransferSize(16) }, { maxBlockNumber: 5 });
    resetTrace();
    await client.download([{ address: 0x08000000, data: pattern(96) }, { address: 0x08000100, data: pattern(16, 3) }], { erase: 'none' });
    expect(transfers().filter((t) => !t.startsWith('GETSTATUS'))).toEqual([
      'SET_ADDRESS 0x08000000 ok', 'DNLOAD#2 16 ok', 'DNLOAD#3 16 ok', 'DNLOAD#4 16 ok', 'DNLOAD#5 16 ok',
      'SET_ADDRESS 0x08000040 ok', 'DNLOAD#2 16 ok', 'DNLOAD#3 16 ok',
      'SET_ADDRESS 0x08000100 ok', 'DNLOAD#2 16 ok',
    ]);
    expect(flash.read(0x08000000, 96)).toEqual(pattern(96));
    expect(flash.read(0x08000100, 16)).toEqual(pattern(16, 3));
  });

  it('sets the pointer before every block, each sent as block 2, with writeAddressing per-block', async () => {
    const { client, flash, transfers, resetTrace } = await session({}, { writeAddressing: 'per-block' });
    resetTrace();
    await client.download([{ address: 0x08000000, data: pattern(2500) }], { erase: 'none' });
    expect(transfers().filter((t) => !t.startsWith('GETSTATUS'))).toEqual([
      'SET_ADDRESS 0x08000000 ok', 'DNLOAD#2 1024 ok',
      'SET_ADDRESS 0x08000400 ok', 'DNLOAD#2 1024 ok',
      'SET_ADDRESS 0x08000800 ok', 'DNLOAD#2 456 ok',
    ]);
    expect(flash.read(0x08000000, 2500)).toEqual(pattern(2500));
  });

  it('with a block size other than the descriptor\'s wTransferSize, sets the pointer for every block', async () => {
    const { client, flash, transfers, resetTrace } = await session({}, { transferSize: 512 });
    resetTrace();
    await client.download([{ address: 0x08000000, data: pattern(1100) }], { erase: 'none' });
    // The device would put a block 3 of 512 bytes at 1 × 1024, not at 512.
    expect(transfers().filter((t) => !t.startsWith('GETSTATUS'))).toEqual([
      'SET_ADDRESS 0x08000000 ok', 'DNLOAD#2 512 ok', 'SET_ADDRESS 0x08000200 ok', 'DNLOAD#2 512 ok', 'SET_ADDRESS 0x08000400 ok', 'DNLOAD#2 80 ok',
    ]);
    expect(flash.read(0x08000000, 1100)).toEqual(pattern(1100));
  });

  it('sleeps nothing after a bwPollTimeout of 0: a SET_ADDRESS costs only its wire time', async () => {
    const { client, clock, transfers } = await session();
    const start = clock.now();
    for (let i = 0; i < 20; i++) await client.setAddress(0x08000000 + i * 1024);
    expect(transfers().filter((t) => t.startsWith('GETSTATUS'))).toContain('GETSTATUS OK/dfuDNBUSY ok');
    // 20 × (a 5-byte DNLOAD and two GETSTATUS): 1.9 ms of full-speed wire time; a 1 ms floor would add 20.
    expect(clock.now() - start).toBeLessThan(3);
  });

  it('polls each block to dfuDNLOAD-IDLE, accepting a device that skips dfuDNBUSY', async () => {
    const { client, flash, transfers, resetTrace, faults } = await session();
    resetTrace();
    // An STM32U5-style bootloader: a data block's first GETSTATUS already says dfuDNLOAD-IDLE.
    const skip = faults.skipBusyState({ on: 'data' });
    await client.download([{ address: 0x08000000, data: pattern(16) }], { erase: 'none' });
    expect(skip.fired).toBe(true);
    expect(transfers().slice(-2)).toEqual(['DNLOAD#2 16 ok', 'GETSTATUS OK/dfuDNLOAD-IDLE ok']);
    expect(flash.read(0x08000000, 16)).toEqual(pattern(16));
  });

  it('reports progress for erase and download, ending at the totals', async () => {
    const events: DfuProgress[] = [];
    const { client } = await session();
    await client.download([{ address: 0x08000000, data: pattern(3 * KiB) }], { onProgress: (p) => events.push(p), verify: true });
    const byPhase = (phase: string) => events.filter((e) => e.phase === phase).map((e) => `${e.bytesDone}/${e.bytesTotal}`);
    expect(byPhase('erase')).toEqual(['0/131072', '131072/131072']);
    expect(byPhase('download')).toEqual(['0/3072', '1024/3072', '2048/3072', '3072/3072']);
    expect(byPhase('verify')).toEqual(['3072/3072']);
  });

  it('verifies by read-back when asked', async () => {
    const { client } = await session();
    const report = await client.download([{ address: 0x08040000, data: pattern(5000) }], { verify: true });
    expect(report.verified).toBe(true);
  });

  it('throws DfuVerifyError at the first differing byte', async () => {
    // A write-protected sector: ST's bootloader acknowledges the write and reports no error (AN3156 §4.1).
    const { client } = await session({ chip: { optionBytes: { initial: { wpsn1: 0xfd } } } });
    const error = await client.download([{ address: 0x0801ffe0, data: pattern(64, 1) }], { verify: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuVerifyError);
    expect((error as DfuVerifyError).message).toBe('verify failed: at 0x08020000 expected 0xE1, read 0xFF');
  });

  it('refuses out-of-layout, overlapping and misaligned segments before sending anything', async () => {
    const { client, transfers } = await session({ profile: withLayouts('@Internal Flash   /0x08000000/8*128Kg') });
    await expect(client.download([{ address: 0x080ffff0, data: pattern(32) }])).rejects.toMatchObject({
      name: 'DfuRangeError', problem: 'outside-layout', address: 0x08100000,
      message: '32-byte segment from 0x080FFFF0 leaves the layout "Internal Flash" (0x08000000..0x080FFFFF) at 0x08100000',
    });
    await expect(client.download([{ address: 0x08000000, data: pattern(32) }, { address: 0x08000010, data: pattern(8) }])).rejects.toMatchObject({ problem: 'overlap' });
    await expect(client.download([{ address: 0x08000004, data: pattern(8) }])).rejects.toMatchObject({ problem: 'misaligned', address: 0x08000004 });
    await expect(client.download([])).rejects.toMatchObject({ problem: 'empty' });
    expect(transfers()).toEqual([]);
  });

  it('refuses read-only and non-erasable memory', async () => {
    const { client, transfers } = await session({ profile: withLayouts('@Mixed /0x08000000/1*1Ka,1*1Ke,1*1Kg') });
    await expect(client.download([{ address: 0x08000000, data: pattern(8) }])).rejects.toMatchObject({ problem: 'not-writable' });
    await expect(client.download([{ address: 0x08000400, data: pattern(8) }])).rejects.toMatchObject({ problem: 'not-erasable' });
    await expect(client.download([{ address: 0x08000800, data: pattern(8) }])).resolves.toMatchObject({ erasedSectors: [0x08000800] });
    expect(transfers().filter((t) => t.startsWith('ERASE'))).toEqual(['ERASE 0x08000800 ok']);
  });

  it('takes a FirmwareImage-shaped object as well as a list of segments', async () => {
    const { client, flash } = await session();
    await client.download({ segments: [{ address: 0x08100000, data: pattern(24) }] });
    expect(flash.read(0x08100000, 24)).toEqual(pattern(24));
  });

  it('mass-erases instead of sector erases when asked', async () => {
    const { client, commands } = await session();
    await client.download([{ address: 0x08100000, data: pattern(8) }], { erase: 'mass' });
    expect(commands().slice(0, 1)).toEqual(['MASS_ERASE ok']);
  });
});

describe('the STM32H7 bank-2 erase that stays dfuDNBUSY', () => {
  it('recovers with CLRSTATUS (errUNKNOWN/dfuERROR) then CLRSTATUS (dfuIDLE), and carries on', async () => {
    // ROM V9.1: a bank-2 sector erase stays dfuDNBUSY (AN2606 Table 136).
    const { client, transfers, resetTrace } = await session({ profile: ST_ROM_H745_V9_1 }, { eraseStuckMs: 5000 });
    resetTrace();
    const data = pattern(2 * KiB);
    const report = await client.download([{ address: 0x080ffc00, data }], { verify: true });
    expect(report.recoveries).toEqual([{ address: 0x08100000, afterFirstClear: 'errUNKNOWN/dfuERROR', elapsedMs: 5000 }]);
    expect(report.erasedSectors).toEqual([0x080e0000, 0x08100000]);
    expect(report.verified).toBe(true);
    const t = transfers();
    const i = t.indexOf('CLRSTATUS ok');
    expect(t.slice(i - 1, i + 5)).toEqual([
      'GETSTATUS OK/dfuDNBUSY ok', 'CLRSTATUS ok', 'GETSTATUS errUNKNOWN/dfuERROR ok', 'CLRSTATUS ok', 'GETSTATUS OK/dfuIDLE ok', 'SET_ADDRESS 0x080FFC00 ok',
    ]);
  });

  it('can detect the stuck erase by a number of polls instead of time', async () => {
    const { client, clock } = await session({ profile: ST_ROM_H745_V9_1 }, { eraseStuckPolls: 3 });
    const start = clock.now();
    const recovery = await client.eraseSector(0x08100000);
    expect(recovery?.afterFirstClear).toBe('errUNKNOWN/dfuERROR');
    // Three dfuDNBUSY answers 1000 ms apart, then four recovery transfers (their wire time, under
    // 0.3 ms in all, stays in the carry).
    expect(clock.now() - start).toBe(2000);
  });

  it('does not mistake a long but finishing erase for the bug', async () => {
    const { client, faults } = await session({}, { eraseStuckMs: 10_000 });
    faults.lyingPollTimeout({ reportMs: 0, busyMs: 4000, on: 'sector-erase' });
    const report = await client.download([{ address: 0x08100000, data: pattern(8) }]);
    expect(report.recoveries).toEqual([]);
  });
});

describe('DfuseClient.upload', () => {
  it('sets the pointer, ABORTs to dfuIDLE, then UPLOADs blocks 2, 3, ... with a short last block', async () => {
    const { client, bootloader, flash, transfers } = await session();
    flash.program(0x08000000, pattern(2048 + 100));
    expect(await client.upload(0x08000000, 2048 + 100)).toEqual(pattern(2048 + 100));
    expect(transfers().filter((t) => !t.startsWith('GETSTATUS'))).toEqual([
      // The device places block 4 at 2 x wTransferSize whatever its wLength (usbd_dfu.c): no new pointer.
      'SET_ADDRESS 0x08000000 ok', 'ABORT ok', 'UPLOAD#2 1024 ok', 'UPLOAD#3 1024 ok', 'UPLOAD#4 100 ok', 'ABORT ok',
    ]);
    expect(bootloader.state).toBe(DfuState.DfuIdle);
  });

  it('with a block size other than the descriptor\'s wTransferSize, sets the pointer for every block', async () => {
    const { client, flash, transfers } = await session({}, { transferSize: 256 });
    flash.program(0x08000000, pattern(600));
    expect(await client.upload(0x08000000, 600)).toEqual(pattern(600));
    expect(transfers().filter((t) => t.startsWith('UPLOAD') || t.startsWith('SET_ADDRESS'))).toEqual([
      'SET_ADDRESS 0x08000000 ok', 'UPLOAD#2 256 ok', 'SET_ADDRESS 0x08000100 ok', 'UPLOAD#2 256 ok', 'SET_ADDRESS 0x08000200 ok', 'UPLOAD#2 88 ok',
    ]);
  });

  it('re-sets the pointer before the block number wraps', async () => {
    const { client, flash, transfers } = await session({ profile: withTransferSize(16) }, { maxBlockNumber: 5 });
    flash.program(0x08000000, pattern(160));
    expect(await client.upload(0x08000000, 160)).toEqual(pattern(160));
    const lines = transfers().filter((t) => t.startsWith('UPLOAD') || t.startsWith('SET_ADDRESS'));
    expect(lines).toEqual([
      'SET_ADDRESS 0x08000000 ok', 'UPLOAD#2 16 ok', 'UPLOAD#3 16 ok', 'UPLOAD#4 16 ok', 'UPLOAD#5 16 ok',
      'SET_ADDRESS 0x08000040 ok', 'UPLOAD#2 16 ok', 'UPLOAD#3 16 ok', 'UPLOAD#4 16 ok', 'UPLOAD#5 16 ok',
      'SET_ADDRESS 0x08000080 ok', 'UPLOAD#2 16 ok', 'UPLOAD#3 16 ok',
    ]);
  });

  it('refuses a read outside the layout', async () => {
    const { client } = await session();
    await expect(client.upload(0x081fff00, 0x200)).rejects.toBeInstanceOf(DfuRangeError);
  });

  it('reports a short frame as a state error with the device state', async () => {
    const { client, faults } = await session();
    faults.shortUpload({ nth: 2 }, 10);
    const error = await client.upload(0x08000000, 4096).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuStateError);
    // A short frame ends the upload: the device is back in dfuIDLE (DFU 1.1 §6.2).
    expect((error as DfuStateError).message).toBe('expected 1024 bytes after UPLOAD#3 0x08000400, the device reported dfuIDLE (OK)');
  });
});

describe('DfuseClient.verify', () => {
  it('reports ok, or the first differing address with both bytes', async () => {
    const { client, flash } = await session();
    flash.program(0x08000000, pattern(64));
    expect(await client.verify([{ address: 0x08000000, data: pattern(64) }])).toEqual({ ok: true, bytesCompared: 64 });
    const expected = pattern(64);
    expected[40] = 0x5a;
    expect(await client.verify([{ address: 0x08000000, data: expected }])).toEqual({ ok: false, address: 0x08000028, expected: 0x5a, actual: pattern(64)[40] });
    expect(await client.verify([])).toEqual({ ok: true, bytesCompared: 0 });
  });
});

describe('DfuseClient.leave', () => {
  const cleanLeave = { ...ST_ROM_H745_V9_2, leave: { ...ST_ROM_H745_V9_2.leave, statusStage: 'completes' as const } };

  it('on the H7 ROM: the device is gone before the GETSTATUS completes, which counts as a leave', async () => {
    const { client, chip, bus, info, transfers } = await session();
    expect(await client.leave(0x08000000, { waitForDetachMs: 100 })).toEqual({ outcome: 'disconnected', goneAfter: 'GETSTATUS', detached: true });
    expect(chip.eventsOf('jump')).toEqual([[expect.any(Number), 'jump', 0x08000000]]);
    expect(transfers().slice(-3)).toEqual(['LEAVE ok', 'bus detach', 'GETSTATUS no-device']);
    expect(bus.isPresent(info)).toBe(false);
  });

  it('sets the pointer, sends a zero-length DNLOAD with wValue=2 and sees dfuMANIFEST on a clean-leave device', async () => {
    const { client, chip, bus, info, transfers } = await session({ profile: cleanLeave });
    expect(await client.leave(0x08000000, { waitForDetachMs: 100 })).toEqual({ outcome: 'manifest', detached: true });
    expect(chip.eventsOf('jump')).toEqual([[expect.any(Number), 'jump', 0x08000000]]);
    expect(transfers().slice(-3)).toEqual(['LEAVE ok', 'GETSTATUS OK/dfuMANIFEST ok', 'bus detach']);
    const leaveEntry = client.transport.trace.list().find((e) => e.setup?.bRequest === 1 && e.setup.wLength === 0);
    expect(leaveEntry?.setup?.wValue).toBe(2);
    expect(bus.isPresent(info)).toBe(false);
  });

  it('counts a device gone right after the DNLOAD (the leave race) as disconnected', async () => {
    const { client, faults } = await session({ profile: cleanLeave });
    const race = faults.leaveRace();
    expect(await client.leave()).toEqual({ outcome: 'disconnected', goneAfter: 'GETSTATUS' });
    expect(race.fired).toBe(true);
  });

  it('counts a STALL right after the DNLOAD as disconnected, without retrying it', async () => {
    const { client, transfers, faults } = await session({ profile: cleanLeave });
    faults.stallAt({ request: DfuRequest.GetStatus });
    expect(await client.leave()).toEqual({ outcome: 'disconnected', goneAfter: 'GETSTATUS' });
    expect(transfers().filter((t) => t.startsWith('GETSTATUS'))).toEqual(['GETSTATUS stall']);
  });

  it('reports a device that answers dfuMANIFEST but never leaves as not detached', async () => {
    const { client, faults } = await session();
    faults.leaveNeverHappens();
    expect(await client.leave(0x08100000, { waitForDetachMs: 500 })).toEqual({ outcome: 'manifest', detached: false });
  });

  it('fails with a state error when the device does not start manifestation', async () => {
    const { client, faults } = await session();
    // The zero-length DNLOAD is ACKed and dropped: the device stays in dfuIDLE.
    faults.ignoreAt({ request: DfuRequest.Dnload });
    await expect(client.leave()).rejects.toThrow('expected dfuMANIFEST after LEAVE, the device reported dfuIDLE (OK)');
  });
});

describe('option-byte safety', () => {
  const obBlock = (rdp = 0xaa): Uint8Array => { const b = new Uint8Array(128); b[1] = rdp; b[0] = 0xf0; return b; };

  it('refuses an option-byte write without allowOptionBytes, before sending anything', async () => {
    const { client, transfers, chip } = await session({}, { altSetting: 1 });
    const before = chip.optionBytes.readBlock();
    const error = await client.download([{ address: 0x5200201c, data: obBlock() }]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptionBytesRefusedError);
    expect((error as Error).message).toBe('refusing to write the option bytes ("Option Bytes") at 0x5200201C without allowOptionBytes');
    expect(transfers()).toEqual([]);
    expect(chip.optionBytes.readBlock()).toEqual(before);
  });

  it('refuses RDP level 2 (0xCC) even with allowOptionBytes, in OPTSR_CUR or OPTSR_PRG', async () => {
    const { client, transfers } = await session({}, { altSetting: 'Option Bytes' });
    await expect(client.download([{ address: 0x5200201c, data: obBlock(0xcc) }], { allowOptionBytes: true })).rejects.toBeInstanceOf(RdpLevel2RefusedError);
    const prg = obBlock();
    prg[5] = 0xcc;
    await expect(client.download([{ address: 0x5200201c, data: prg }], { allowOptionBytes: true })).rejects.toThrow('refusing to write RDP = 0xCC (readout protection level 2) at 0x52002021');
    expect(transfers()).toEqual([]);
  });

  it('refuses RDP level 2 from any alt setting, even inside a larger segment', async () => {
    const { client } = await session();
    const data = new Uint8Array(64);
    data[0x1d] = 0xcc;
    await expect(client.download([{ address: 0x52002000, data }], { allowOptionBytes: true })).rejects.toBeInstanceOf(RdpLevel2RefusedError);
  });

  it('refuses partial option-byte blocks', async () => {
    const { client } = await session({}, { altSetting: 1, allowOptionBytes: true });
    await expect(client.download([{ address: 0x52002020, data: new Uint8Array(8) }], { allowOptionBytes: true })).rejects.toBeInstanceOf(OptionBytesFormatError);
  });

  it('writes the whole block when allowed, without erasing, and expects the reset after it', async () => {
    const { client, chip, commands, clock } = await session({}, { altSetting: 1, allowOptionBytes: true });
    const block = await client.upload(0x5200201c, 128);
    const view = new DataView(block.buffer, block.byteOffset);
    view.setUint32(0x28, 0x1ff0_1ff0, true); // BOOT7_PRG: boot the ROM from BOOT0 = 0 as well
    const report = await client.download([{ address: 0x5200201c, data: block }], { allowOptionBytes: true });
    expect(report).toMatchObject({ outcome: 'will-reset', bytesWritten: 128, erasedSectors: [] });
    expect(commands().filter((c) => !c.startsWith('SET_ADDRESS'))).toEqual(['DNLOAD#2 128 ok']);
    await clock.sleep(200);
    expect(chip.eventsOf('reset')).toHaveLength(1);
    expect(chip.optionBytes.bootCm7Add0()).toBe(0x1ff0);
  });
});

describe('a full download survives the field quirks', () => {
  it('STALLs on every early GETSTATUS (retried, bounded)', async () => {
    const { client, flash, transfers, resetTrace, faults } = await session();
    faults.stallFirstGetStatusAfterCommand({ stalls: 2, times: 100 });
    resetTrace();
    const report = await client.download([{ address: 0x08000000, data: pattern(2 * KiB) }], { verify: true });
    expect(report.verified).toBe(true);
    // 1 erase + 1 SET_ADDRESS + 2 blocks + 1 SET_ADDRESS for the read-back: 5 DNLOADs, two stalls each.
    expect(transfers().filter((t) => t === 'GETSTATUS stall')).toHaveLength(2 * 5);
    expect(flash.read(0x08000000, 2 * KiB)).toEqual(pattern(2 * KiB));
  });

  it('fails with the stall once a device stalls more often than the retry budget', async () => {
    const { client, faults } = await session({}, { statusStallRetries: 3 });
    faults.stallFirstGetStatusAfterCommand({ stalls: 4, times: 100 });
    await expect(client.download([{ address: 0x08000000, data: pattern(8) }])).rejects.toMatchObject({ name: 'UsbError', failure: 'stall' });
  });

  it('an erase reporting bwPollTimeout 0xFFFFFF costs the ceiling, not 4.6 hours', async () => {
    const { client, clock, faults } = await session({}, { pollCeilingMs: 2000 });
    faults.lyingPollTimeout({ reportMs: 0xffffff, on: 'sector-erase' });
    const start = clock.now();
    await client.eraseSector(0x08000000);
    expect(clock.now() - start).toBe(2000);
  });
});
