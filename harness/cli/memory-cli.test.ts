// `dfu-hil read` and `dfu-hil erase` end to end on simulated rigs: the bytes a read writes are the
// bytes the board holds, whichever path it took; an erase leaves exactly the named sectors blank;
// and what is refused is refused before the board is touched.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { hex32 } from '../errors.js';
import { SimStateStore } from '../rig/sim/sim-state-store.js';
import type { SimBoardState } from '../sim/board/nucleo-h745.js';
import { ExitCode } from './exit-codes.js';
import { useCliProject } from './testing/cli-project.js';
import { patternBytes } from '../image/testing/pattern-bytes.js';

const RIGS = `
default: sim-a
rigs:
  sim-a:
    kind: sim
    usb: { serial: "200364500000" }
    probe: { tool: st-flash }
    entry:
      console-jump:
      probe:
  sim-noprobe:
    kind: sim
  sim-v91:
    kind: sim
    bootloader: { profile: st-rom-v9.1 }
`;

const FLASH_BASE = 0x08000000;
const SECTOR = 128 * 1024;

const project = useCliProject(RIGS);
const cli = (...argv: string[]) => project.run(argv);
const file = (name: string): string => path.join(project.dir, name);

/** The board's flash as the simulated rig saved it after the last command. */
async function savedBoard(rig = 'sim-a'): Promise<SimBoardState> {
  const state = await new SimStateStore(project.stateDir, rig).load();
  if (!state) throw new Error(`no saved board for ${rig}`);
  return state;
}

const flashAt = (state: SimBoardState, address: number, length: number): Uint8Array => state.flash.slice(address - FLASH_BASE, address - FLASH_BASE + length);

/** Changes the saved board's option bytes, in force and programmed: a board that was set up that way. */
async function setOptions(change: (optsr: number, wpsn1: number) => { optsr?: number; wpsn1?: number }, rig = 'sim-a'): Promise<void> {
  const store = new SimStateStore(project.stateDir, rig);
  const state = await savedBoard(rig);
  for (const regs of [state.options.current, state.options.programmed]) Object.assign(regs, change(regs.optsr, regs.wpsn1));
  await store.save(state);
}

const withRdp = (optsr: number, rdp: number): number => ((optsr & ~0xff00) | (rdp << 8)) >>> 0;

/** Flashes `data` at `address` and stays in DFU mode. */
async function flashBin(address: number, data: Uint8Array): Promise<void> {
  const bin = file(`at-${address.toString(16)}.bin`);
  await writeFile(bin, data);
  const { code, stderr } = await cli('flash', bin, '--address', `0x${address.toString(16)}`, '--stay');
  expect(code, stderr).toBe(0);
}

describe('dfu-hil read', () => {
  it('reads over DfuSe in DFU mode and through the probe otherwise, the same bytes the board holds', async () => {
    // Across the sector boundary at 0x08040000, so the read spans two sectors and many blocks.
    const written = patternBytes(0x2000, 7);
    await flashBin(0x0803f000, written);

    // Start and length on no block boundary: every block must land at (N - 2) x 1024 + pointer.
    const dfu = await cli('read', '0x0803F123', '5000', '-o', 'dfu.bin');
    expect(dfu.code, dfu.stderr).toBe(0);
    expect(dfu.stdout).toBe('sim-a: read 5000 bytes from 0x0803F123 (Internal Flash) over DfuSe, alt 0, into dfu.bin\n');
    expect(dfu.stderr).toContain('sim-a: reading 5000 bytes from 0x0803F123 (Internal Flash) over DfuSe\n');
    expect(dfu.stderr).toContain('read     100% (5000/5000 bytes)');
    expect(new Uint8Array(await readFile(file('dfu.bin')))).toEqual(written.slice(0x123, 0x123 + 5000));
    expect((await savedBoard()).running).toBe('bootloader');

    expect((await cli('leave')).code).toBe(0);
    const probe = await cli('--json', 'read', '0x0803F123', '5000', '-o', 'probe.bin');
    expect(probe.code, probe.stderr).toBe(0);
    const bytes = new Uint8Array(await readFile(file('probe.bin')));
    expect(bytes).toEqual(written.slice(0x123, 0x123 + 5000));
    expect(JSON.parse(probe.stdout)).toEqual({
      rig: 'sim-a', via: 'probe', alt: null, probe: 'st-flash', memory: 'Internal Flash', address: '0x0803F123', length: 5000,
      file: 'probe.bin', sha256: createHash('sha256').update(bytes).digest('hex'),
    });
    // The probe read left the application running.
    expect((await savedBoard()).running).toBe('app');
    const status = await cli('status');
    expect(status.stdout).toContain('running: application');
  });

  it('reads across the bank boundary and the option-byte block over DfuSe, as the board holds them', async () => {
    expect((await cli('enter')).code).toBe(0);
    const bank = await cli('--json', 'read', '0x080FFC00', '0x800', '-o', 'bank.bin');
    expect(bank.code, bank.stderr).toBe(0);
    expect(JSON.parse(bank.stdout)).toMatchObject({ via: 'dfu', alt: 0 });
    const board = await savedBoard();
    expect(new Uint8Array(await readFile(file('bank.bin')))).toEqual(flashAt(board, 0x080ffc00, 0x800));
    // Bank 2 holds the CM4 image: a read that ignored the block addressing would not find it here.
    expect(flashAt(board, 0x08100000, 0x400).some((b) => b !== 0xff)).toBe(true);

    const ob = await cli('--json', 'read', '0x5200201C', '128', '-o', 'ob.bin');
    expect(ob.code, ob.stderr).toBe(0);
    expect(JSON.parse(ob.stdout)).toMatchObject({ via: 'dfu', alt: 1, memory: 'Option Bytes' });
    const block = new Uint8Array(await readFile(file('ob.bin')));
    // FLASH_OPTSR_CUR as the board holds it: RDP level 0 (0xAA) in bits 15:8.
    expect(new DataView(block.buffer, block.byteOffset).getUint32(0, true)).toBe(board.options.current.optsr);
    expect(block[1]).toBe(0xaa);
  });

  it('refuses, before the board is touched, a range outside the memory, a file that exists, and bad numbers', async () => {
    const outside = await cli('read', '0x081FFF00', '0x200', '-o', 'x.bin');
    expect(outside.code).toBe(ExitCode.Usage);
    expect(outside.stderr).toBe('dfu-hil: error: 0x081FFF00..0x082000FF is outside the memory of rig sim-a (Internal Flash 0x08000000..0x081FFFFF, Option Bytes 0x5200201C..0x5200209B)\n'
      + 'hint: Give a range inside one memory (the flash, or the option-byte block); `dfu-hil status` shows the layouts the bootloader reports.\n');
    expect(existsSync(file('x.bin'))).toBe(false);

    await writeFile(file('kept.bin'), 'mine');
    const exists = await cli('read', '0x08000000', '16', '-o', 'kept.bin');
    expect(exists.code).toBe(ExitCode.Usage);
    expect(exists.stderr.split('\n')[0]).toBe(`dfu-hil: error: ${file('kept.bin')} already exists`);
    expect(await readFile(file('kept.bin'), 'utf8')).toBe('mine');

    expect((await cli('read', '08000000', '16', '-o', 'y.bin')).code).toBe(ExitCode.Usage);
    const zero = await cli('read', '0x08000000', '0', '-o', 'y.bin');
    expect(zero.stderr.split('\n')[0]).toBe('dfu-hil: error: "0" is not a length');
    expect((await cli('read', '0x08000000', '16', '-o', 'y.bin', '--via', 'jtag')).code).toBe(ExitCode.Usage);
    // None of these opened the board.
    expect(existsSync(path.join(project.stateDir, 'sim'))).toBe(false);
    // With --force the file is replaced, by the bytes read.
    expect((await cli('read', '0x08000000', '16', '-o', 'kept.bin', '--force')).code).toBe(0);
    expect(new Uint8Array(await readFile(file('kept.bin')))).toEqual(flashAt(await savedBoard(), FLASH_BASE, 16));
  });

  it('says what to do when no path reaches the board, and leaves no file behind', async () => {
    const noProbe = await cli('--rig', 'sim-noprobe', 'read', '0x08000000', '16', '-o', 'n.bin');
    expect(noProbe.code).toBe(ExitCode.Usage);
    expect(noProbe.stderr).toBe('dfu-hil: error: sim-noprobe is not in DFU mode, and the rig has no debug probe to read through while the application runs\n'
      + 'hint: Run `dfu-hil enter` first, then read again (or describe the rig\'s probe in rigs.yaml).\n');
    expect(existsSync(file('n.bin'))).toBe(false);
    const viaProbe = await cli('--rig', 'sim-noprobe', 'read', '0x08000000', '16', '-o', 'n.bin', '--via', 'probe');
    expect(viaProbe.code).toBe(ExitCode.NotAvailable);
    expect(viaProbe.stderr.split('\n')[0]).toBe('dfu-hil: error: rig "sim-noprobe" has no debug probe (add a probe: section to rigs.yaml)');
    const viaDfu = await cli('read', '0x08000000', '16', '-o', 'n.bin', '--via', 'dfu');
    expect(viaDfu.code).toBe(ExitCode.Usage);
    expect(viaDfu.stderr).toContain('hint: Run `dfu-hil enter` first, or read through the probe (--via probe).');
    expect(existsSync(file('n.bin'))).toBe(false);
  });

  it('names readout protection on both paths: errVENDOR over DfuSe, the RDP byte through the probe, and what to do', async () => {
    expect((await cli('status')).code).toBe(0);
    await setOptions((optsr) => ({ optsr: withRdp(optsr, 0x55) }));

    const probe = await cli('read', '0x08000000', '1K', '-o', 'p.bin');
    expect(probe.code).toBe(ExitCode.Failure);
    const [line, hint] = probe.stderr.trimEnd().split('\n').slice(-2);
    expect(line).toBe('dfu-hil: error: cannot read 0x08000000..0x080003FF through the probe: the flash is readout-protected (RDP 0x55 at 0x5200201D, level 1)');
    expect(hint).toMatch(/^hint: The board's flash is under readout protection \(RDP level 1\).*mass-erases the flash/);
    expect(existsSync(file('p.bin'))).toBe(false);

    expect((await cli('enter')).code).toBe(0);
    const dfu = await cli('--json', 'read', '0x08000000', '1K', '-o', 'd.bin');
    expect(dfu.code).toBe(ExitCode.Failure);
    expect(JSON.parse(dfu.stdout)).toMatchObject({
      ok: false,
      error: { code: 'readout-protected', message: 'cannot read 0x08000000..0x080003FF: the flash is readout-protected (errVENDOR in dfuERROR after UPLOAD 0x08000000)' },
    });
    expect(existsSync(file('d.bin'))).toBe(false);
    // The session was left usable: the bootloader is still there, out of dfuERROR.
    expect((await savedBoard()).dfu).toMatchObject({ state: 2 });
  });
});

describe('dfu-hil erase', () => {
  it('erases exactly the listed sectors and checks them blank; the sectors around keep their bytes', async () => {
    const before = await savedBoardAfter(() => cli('status'));
    const { code, stdout, stderr } = await cli('erase', '--sectors', '0x08020000,0x08060000');
    expect(code, stderr).toBe(0);
    expect(stderr).toContain('sim-a: entering DFU mode via console-jump\n');
    expect(stderr).toContain('erase    100% (262144/262144 bytes)');
    expect(stderr).toContain('verify   100% (262144/262144 bytes)');
    expect(stdout).toBe('sim-a: erased 2 sectors (0x08020000, 0x08060000; 256 KiB), blank-checked; staying in DFU mode\n');
    const after = await savedBoard();
    expect(after.running).toBe('bootloader');
    for (const sector of [0x08020000, 0x08060000]) expect(flashAt(after, sector, SECTOR).every((b) => b === 0xff)).toBe(true);
    for (const sector of [0x08000000, 0x08040000, 0x08080000, 0x08100000]) expect(flashAt(after, sector, SECTOR)).toEqual(flashAt(before, sector, SECTOR));
  });

  it('erases the sectors a range covers, and says so in JSON', async () => {
    await flashBin(0x08020000, patternBytes(2 * SECTOR, 3));
    const { code, stdout } = await cli('--json', 'erase', '0x08020000', '256K');
    expect(code).toBe(0);
    expect(JSON.parse(stdout)).toEqual({
      rig: 'sim-a', erase: 'sectors', erasedSectors: ['0x08020000', '0x08040000'], bytes: 2 * SECTOR, blankChecked: true, recoveries: [], entered: null,
    });
    expect(flashAt(await savedBoard(), 0x08020000, 2 * SECTOR).every((b) => b === 0xff)).toBe(true);
  });

  it('says a mass erase was a mass erase, and the whole flash is blank', async () => {
    const json = await cli('--json', 'erase', '--mass');
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({
      rig: 'sim-a', erase: 'mass', erasedSectors: [], bytes: 2 * 1024 * 1024, blankChecked: true, recoveries: [],
      entered: { method: 'console-jump', vidPid: '0483:df11', serialNumber: '200364500000', portPath: '1-1', enumeratedAfterMs: expect.any(Number) },
    });
    expect((await savedBoard()).flash.every((b) => b === 0xff)).toBe(true);
    const text = await cli('erase', '--mass', '--no-verify');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toBe('sim-a: mass-erased the whole flash (Internal Flash 0x08000000..0x081FFFFF, 2 MiB) (not blank-checked: --no-verify); staying in DFU mode\n');
    expect(text.stderr).not.toContain('verify ');
  });

  it('refuses anything but whole flash sectors before touching the board', async () => {
    const cases: Array<[string[], string]> = [
      [[], 'nothing to erase was named'],
      [['0x08020000', '128K', '--mass'], 'give one of: an address range, --sectors or --mass'],
      [['0x08020100', '128K'], 'range start 0x08020100 is not the start of a sector: it lies in the sector 0x08020000..0x0803FFFF'],
      [['0x08020000', '100K'], 'the range 0x08020000..0x08038FFF ends inside the sector 0x08020000..0x0803FFFF'],
      [['0x081E0000', '256K'], 'the range 0x081E0000..0x0821FFFF leaves the flash at 0x08200000 (Internal Flash 0x08000000..0x081FFFFF)'],
      [['--sectors', '0x08020000,0x08030000'], 'sector 0x08030000 is not the start of a sector: it lies in the sector 0x08020000..0x0803FFFF'],
      [['--sectors', '0x5200201C'], 'sector 0x5200201C is in the option bytes; dfu-hil erase erases only the flash'],
      [['--sectors', '0x20000000'], 'sector 0x20000000 is outside the flash (Internal Flash 0x08000000..0x081FFFFF)'],
      [['0x08020000'], 'an address (0x08020000) but no length'],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await cli('erase', ...args);
      expect(code, args.join(' ')).toBe(ExitCode.Usage);
      expect(stderr.split('\n')[0], args.join(' ')).toBe(`dfu-hil: error: ${message}`);
      expect(stderr.split('\n')[1]).toMatch(/^hint: /);
    }
    const { stderr } = await cli('erase', '0x08020000', '100K');
    expect(stderr).toContain('hint: Erase works on whole sectors; nothing is erased that you did not name. End the range at 0x08040000 (length 128 KiB).');
    expect(existsSync(path.join(project.stateDir, 'sim'))).toBe(false);
  });

  it('fails the blank check on a write-protected sector the ROM leaves as it was, naming the address', async () => {
    await flashBin(0x08020000, patternBytes(4096, 11));
    // WPSN bit 1 clear: sector 1 of bank 1 (0x08020000) is write-protected.
    await setOptions(() => ({ wpsn1: 0xfd }));
    const before = flashAt(await savedBoard(), 0x08020000, SECTOR);
    const { code, stderr } = await cli('erase', '--sectors', '0x08020000');
    expect(code).toBe(ExitCode.Failure);
    const firstDirty = before.findIndex((b) => b !== 0xff);
    expect(stderr).toContain(`dfu-hil: error: ${hex32(0x08020000 + firstDirty)} reads 0x${before[firstDirty]!.toString(16).toUpperCase().padStart(2, '0')} after the erase of the sector at 0x08020000: the flash was not erased\n`);
    expect(stderr).toMatch(/hint: The ST bootloader reports no error for a write-protected sector/);
    expect(flashAt(await savedBoard(), 0x08020000, SECTOR)).toEqual(before);
  });

  it('refuses a readout-protected flash with errVENDOR and what to do', async () => {
    expect((await cli('enter')).code).toBe(0);
    await setOptions((optsr) => ({ optsr: withRdp(optsr, 0x55) }));
    const { code, stderr } = await cli('erase', '--sectors', '0x08020000');
    expect(code).toBe(ExitCode.Failure);
    expect(stderr).toContain('dfu-hil: error: cannot erase the sector at 0x08020000: the flash is readout-protected (errVENDOR in dfuERROR after ERASE 0x08020000)\n');
    expect(stderr).toMatch(/\nhint: The board's flash is under readout protection/);
  });

  it('recovers the ROM V9.1 bank-2 erase that stays busy, says so, and still finds the sector blank', async () => {
    const { code, stdout, stderr } = await cli('--rig', 'sim-v91', 'erase', '--sectors', '0x08100000');
    expect(code, stderr).toBe(0);
    expect(stderr).toMatch(/dfu-hil: warning: the erase of 0x08100000 stayed dfuDNBUSY; recovered with CLRSTATUS twice \(errUNKNOWN\/dfuERROR in between\)/);
    expect(stdout).toBe('sim-v91: erased 1 sector (0x08100000; 128 KiB), blank-checked; staying in DFU mode\n');
    expect(flashAt(await savedBoard('sim-v91'), 0x08100000, SECTOR).every((b) => b === 0xff)).toBe(true);
  });
});

/** Runs `command` and returns the board it saved. */
async function savedBoardAfter(command: () => Promise<unknown>): Promise<SimBoardState> {
  await command();
  return savedBoard();
}
