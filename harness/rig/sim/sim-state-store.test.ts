import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { buildTestAppImage } from '../../image/synthetic-app.js';
import { SimulatedNucleoH745, type SimBoardState } from '../../sim/board/nucleo-h745.js';
import { bootloaderProfiles } from '../../sim/bootloader/profiles.js';
import { WordState } from '../../sim/flash/flash-bank.js';
import { DfuRequest, DfuState, DfuStatus, decodeStatus, dfuSetup } from '../../dfu-wire/dfu.js';
import { DfuseCommand, encodeDfuseCommand } from '../../dfu-wire/dfuse.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import type { UsbTransport } from '../../usb/transport.js';
import { SimStateError, SimStateStore, simStateRoot } from './sim-state-store.js';

function newBoard(): { clock: VirtualClock; board: SimulatedNucleoH745 } {
  const clock = new VirtualClock();
  return { clock, board: new SimulatedNucleoH745({ clock, profile: bootloaderProfiles['st-rom-v9.2']!, boot0: { kind: 'jumper', level: 0 } }) };
}

/** A board that has been through things a plain image load would not reproduce. */
function usedBoard(): SimulatedNucleoH745 {
  const { board } = newBoard();
  const app = buildTestAppImage({ name: 'used', version: '4.2.0' });
  for (const s of app.segments) board.loadImage(s.address, s.data);
  // A word written twice (sticky ECC error) and a word written in part (force-written), in bank 2.
  board.flash.program(0x0810_0000, new Uint8Array(32).fill(0x5a));
  board.flash.program(0x0810_0000, new Uint8Array(32).fill(0x0f));
  board.flash.program(0x0810_0040, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
  board.flash.program(0x0810_0080 + 4, Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0));
  // Bank 1 sector 0 write-protected and in force, sector 1 pending for the next reset.
  board.optionBytes.programWriteProtection(1, 0b01);
  board.powerOn();
  board.optionBytes.programWriteProtection(1, 0b11);
  return board;
}

let tmp: string;
beforeEach(async () => { tmp = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-state-')); });
afterEach(async () => { await rm(tmp, { recursive: true, force: true }); });

describe('SimulatedNucleoH745 snapshot and restore', () => {
  it('restores flash bytes, every ECC state and both option sets into a fresh board', () => {
    const used = usedBoard();
    const state = used.snapshot();
    expect(state.running).toBe('app');
    expect(used.flash.wordStateAt(0x0810_0000)).toBe(WordState.EccError);
    expect(used.flash.wordStateAt(0x0810_0040)).toBe(WordState.ForceWritten);
    expect(used.flash.wordStateAt(0x0810_0080)).toBe(WordState.ForceWritten);

    const { board } = newBoard();
    board.restore(state);
    const again = board.snapshot();
    expect(Buffer.from(again.flash).equals(Buffer.from(state.flash))).toBe(true);
    expect(Buffer.from(again.wordStates).equals(Buffer.from(state.wordStates))).toBe(true);
    expect(again.options).toEqual(state.options);
    expect(board.optionBytes.writeProtectedSectors(1)).toEqual([0]);
    // The protection came back with the state, and applies again afterwards.
    board.flash.eraseSector(1, 0);
    expect(board.flash.read(0x0800_0000, 4)).toEqual(state.flash.subarray(0, 4));
    expect(board.flash.eccErrorWords(0x0810_0000, 0x100)).toEqual([0x0810_0000]);
    expect(board.runningCode).toBe('app');
  });

  it('comes back in the bootloader when that is what ran, without the application starting', async () => {
    const { board } = newBoard();
    for (const s of buildTestAppImage({ name: 'a', version: '1.0.0' }).segments) board.loadImage(s.address, s.data);
    board.powerOn();
    const state: SimBoardState = { ...board.snapshot(), running: 'bootloader' };
    const restored = newBoard();
    let heard = '';
    restored.board.console.onData((bytes: Uint8Array) => { heard += Buffer.from(bytes).toString('latin1'); });
    restored.board.restore(state);
    expect(restored.board.runningCode).toBe('bootloader');
    await restored.clock.sleep(500);
    expect(heard).toBe('');
  });

  it('keeps the DFU session while the bootloader runs: a restored board answers with the error and pointer it had', async () => {
    const { clock, board } = newBoard();
    board.powerOn();
    board.mcu.jumpTo(0x1ff0_9800);
    const t = await openBootloader(clock, board);
    const command = async (address: number): Promise<void> => {
      await t.controlOut(dfuSetup(DfuRequest.Dnload, 'out', 0, 0, 5), encodeDfuseCommand(DfuseCommand.SetAddressPointer, address), 1000);
      await status(t);
      await status(t);
    };
    await command(0x0810_0000);
    await command(0x9000_0000);
    const state = board.snapshot();
    expect(state.dfu).toMatchObject({ state: DfuState.DfuError, status: DfuStatus.ErrTarget, addressPointer: 0x0810_0000 });

    const restored = newBoard();
    restored.board.restore(state);
    const again = await openBootloader(restored.clock, restored.board);
    expect(await status(again)).toMatchObject({ state: DfuState.DfuError, status: DfuStatus.ErrTarget });
    await again.controlOut(dfuSetup(DfuRequest.ClrStatus, 'out', 0, 0, 0), new Uint8Array(), 1000);
    expect(restored.board.snapshot().dfu).toMatchObject({ state: DfuState.DfuIdle, addressPointer: 0x0810_0000 });
  });

  it('keeps no DFU session once the board runs the application again', () => {
    const { board } = newBoard();
    for (const s of buildTestAppImage({ name: 'a', version: '1.0.0' }).segments) board.loadImage(s.address, s.data);
    board.powerOn();
    expect(board.snapshot().dfu).toBeUndefined();
  });

  it('stays unpowered when the state was', () => {
    const { board } = newBoard();
    const state = board.snapshot();
    // Fields, not the whole state: a matcher would render 2 MiB of flash.
    expect([state.powered, state.running]).toEqual([false, 'none']);
    const other = newBoard().board;
    other.restore(state);
    expect(other.isPowered).toBe(false);
  });
});

async function openBootloader(clock: VirtualClock, board: SimulatedNucleoH745): Promise<UsbTransport> {
  const bus = new InProcessUsbBus({ clock });
  bus.addConnector(board.usb);
  return bus.open(await bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 1000));
}

async function status(t: UsbTransport): Promise<{ state: number; status: number }> {
  const report = decodeStatus(await t.controlIn(dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6), 5000))!;
  return { state: report.state, status: report.status };
}

describe('SimStateStore', () => {
  it('has nothing saved at first, then round-trips a board through state.json and flash.bin', async () => {
    const store = new SimStateStore(path.join(tmp, '.dfu-hil'), 'sim-h745');
    expect(await store.load()).toBeUndefined();
    const state = usedBoard().snapshot();
    await store.save(state);
    const json = JSON.parse(await readFile(path.join(store.dir, 'state.json'), 'utf8')) as { format: number; wordStates: Array<[number, number]>; options: { current: Record<string, string> } };
    expect(json.format).toBe(1);
    expect(json.options.current.wpsn1).toBe('0x000000fe');
    // Run-length states: a handful of runs, not 65536 entries.
    expect(json.wordStates.length).toBeLessThan(20);
    expect((await readFile(path.join(store.dir, 'flash.bin'))).length).toBe(2 * 1024 * 1024);
    expect(await readFile(path.join(tmp, '.dfu-hil', '.gitignore'), 'utf8')).toMatch(/^\*$/m);

    const loaded = await store.load();
    expect(loaded === undefined).toBe(false);
    expect(Buffer.from(loaded!.flash).equals(Buffer.from(state.flash))).toBe(true);
    expect(Buffer.from(loaded!.wordStates).equals(Buffer.from(state.wordStates))).toBe(true);
    expect(loaded!.options).toEqual(state.options);
    expect([loaded!.powered, loaded!.running]).toEqual([true, 'app']);

    expect(await store.reset()).toBe(true);
    expect(await store.load()).toBeUndefined();
    expect(await store.reset()).toBe(false);
  });

  it('round-trips the DFU session, pending DNLOAD included, and refuses a malformed one', async () => {
    const store = new SimStateStore(tmp, 'sim-h745');
    const board = newBoard().board.snapshot();
    const dfu = {
      state: DfuState.DfuDnloadSync, status: DfuStatus.Ok, addressPointer: 0x0812_0000, jumpTarget: 0x0812_0000, altSetting: 0,
      writesPoisoned: true, pending: { wValue: 3, data: Uint8Array.of(1, 2, 250), target: 'flash' as const },
    };
    await store.save({ ...board, running: 'bootloader', dfu });
    const json = JSON.parse(await readFile(path.join(store.dir, 'state.json'), 'utf8')) as { dfu: Record<string, unknown> };
    expect(json.dfu).toMatchObject({ state: 3, addressPointer: '0x08120000', pending: { wValue: 3, data: '0102fa', target: 'flash' } });
    expect((await store.load())!.dfu).toEqual(dfu);
    json.dfu.state = 42;
    await writeFile(path.join(store.dir, 'state.json'), JSON.stringify(json));
    await expect(store.load()).rejects.toThrow(/dfu: the DFU session needs state \(0\.\.10\)/);
  });

  it('refuses a flash file of the wrong size and names it', async () => {
    const store = new SimStateStore(tmp, 'r');
    await store.save(newBoard().board.snapshot());
    await writeFile(path.join(store.dir, 'flash.bin'), new Uint8Array(100));
    const error = await store.load().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(SimStateError);
    expect((error as SimStateError).message).toBe(`${path.join(store.dir, 'flash.bin')}: holds 100 bytes; state.json says 2097152`);
    expect((error as SimStateError).hint).toContain('dfu-hil sim reset');
  });

  it('refuses rig names that would escape its directory', () => {
    expect(() => new SimStateStore(tmp, '../x')).toThrow(SimStateError);
  });

  it('puts state next to rigs.yaml unless DFU_HIL_STATE_DIR says otherwise', () => {
    expect(simStateRoot({ projectDir: '/repo', cwd: '/work', env: {} })).toBe(path.join('/repo', '.dfu-hil'));
    expect(simStateRoot({ projectDir: '/repo', cwd: '/work', env: { DFU_HIL_STATE_DIR: 'st' } })).toBe(path.join('/work', 'st'));
  });
});
