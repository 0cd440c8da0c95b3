import { describe, expect, it } from 'vitest';
import { WordState } from './flash-bank.js';
import { FlashAddressError, FlashSectorError } from './flash-errors.js';
import { DEFAULT_FLASH_TIMING } from './flash-timing.js';
import { SimFlash } from './sim-flash.js';
import { createUserMemories } from './user-memories.js';

const pattern = (length: number, seed = 1): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 7 + seed) & 0xff);

describe('SimFlash', () => {
  it('has the STM32H745 geometry and starts erased, with no ECC errors', () => {
    const flash = new SimFlash();
    expect([flash.base, flash.size, flash.sectorSize, flash.sectorsPerBank]).toEqual([0x0800_0000, 0x20_0000, 0x2_0000, 8]);
    expect(Array.from(flash.read(0x081f_fffc, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(flash.eccErrorWords()).toEqual([]);
    expect(flash.locate(0x0810_0000)).toEqual({ bank: 2, sector: 0 });
    expect(flash.locate(0x080e_0000)).toEqual({ bank: 1, sector: 7 });
    expect(flash.sectorAddress(2, 3)).toBe(0x0816_0000);
  });

  it('keeps memory lean: the 2 MiB array plus one state byte per 32-byte word', () => {
    expect(new SimFlash().memoryFootprintBytes()).toBe(2 * 1024 * 1024 + 65536);
  });

  it('programs whole flash words and reports the word program time', () => {
    const flash = new SimFlash();
    const data = pattern(1024);
    const busy = flash.program(0x0800_0400, data);
    expect(flash.read(0x0800_0400, 1024)).toEqual(data);
    expect(flash.wordStateAt(0x0800_0400)).toBe(WordState.Programmed);
    // 32 words × 130 µs = 4.16 ms: whole virtual ms now, the 0.16 ms carried to the next program.
    expect(busy.durationMs).toBe(4);
  });

  it('carries fractions of a millisecond between programs, so 25 blocks cost 25 × 4.16 ms in all', () => {
    const flash = new SimFlash();
    let total = 0;
    for (let i = 0; i < 25; i++) total += flash.program(0x0800_0000 + i * 1024, pattern(1024)).durationMs;
    expect(total).toBe(104);
  });

  it('force-writes a word covered only in part: missing bytes read 0xFF', () => {
    const flash = new SimFlash();
    flash.program(0x0800_0008, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    expect(Array.from(flash.read(0x0800_0000, 16))).toEqual([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(flash.wordStateAt(0x0800_0000)).toBe(WordState.ForceWritten);
    expect(flash.eccErrorWords()).toEqual([]);
  });

  it('ANDs bits into a non-virgin word and marks a sticky ECC error', () => {
    const flash = new SimFlash();
    flash.program(0x0800_0000, new Uint8Array(32).fill(0xf0));
    flash.program(0x0800_0000, new Uint8Array(32).fill(0x3c));
    expect(flash.read(0x0800_0000, 1)[0]).toBe(0x30);
    expect(flash.eccErrorWords(0x0800_0000, 64)).toEqual([0x0800_0000]);
  });

  it('gives an ECC error when the rest of a force-written word is filled in later', () => {
    const flash = new SimFlash();
    flash.program(0x0810_0020, pattern(8));
    flash.program(0x0810_0028, pattern(24, 9));
    expect(flash.eccErrorWords(0x0810_0000, 0x100)).toEqual([0x0810_0020]);
  });

  it('erases a sector back to 0xFF, clears its ECC errors, and takes 1100 ms', () => {
    const flash = new SimFlash();
    flash.program(0x0802_0000, pattern(64));
    flash.program(0x0802_0000, pattern(32));
    flash.program(0x0804_0000, pattern(32));
    expect(flash.eccErrorWords()).toEqual([0x0802_0000]);
    expect(flash.eraseSector(1, 1).durationMs).toBe(1100);
    expect(flash.eccErrorWords()).toEqual([]);
    expect(Array.from(flash.read(0x0802_0000, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(flash.wordStateAt(0x0802_0000)).toBe(WordState.Virgin);
    expect(flash.read(0x0804_0000, 32)).toEqual(pattern(32));
  });

  it('uses the configured timing for erases', () => {
    const flash = new SimFlash({ timing: { sectorEraseMs: 2200, massEraseMs: 20_000, bankEraseMs: 9000 } });
    expect(flash.eraseSector(2, 7).durationMs).toBe(2200);
    expect(flash.eraseBank(2).durationMs).toBe(9000);
    expect(flash.massErase().durationMs).toBe(20_000);
    expect(DEFAULT_FLASH_TIMING.sectorEraseMs).toBe(1100);
  });

  it('leaves write-protected sectors unchanged by program, sector erase and mass erase', () => {
    const { flash, optionBytes } = createUserMemories({ optionBytes: { initial: { wpsn1: 0xfe } } });
    expect(flash.isWriteProtected(1, 0)).toBe(true);
    expect(flash.isWriteProtected(1, 1)).toBe(false);
    expect(flash.program(0x0800_0000, pattern(32)).durationMs).toBe(0);
    expect(Array.from(flash.read(0x0800_0000, 2))).toEqual([0xff, 0xff]);
    optionBytes.programWriteProtection(1, 0);
    optionBytes.loadAtReset();
    flash.program(0x0800_0000, pattern(32));
    flash.program(0x0810_0000, pattern(32));
    optionBytes.programWriteProtection(1, 0b1);
    optionBytes.loadAtReset();
    expect(flash.eraseSector(1, 0).durationMs).toBe(0);
    flash.massErase();
    expect(flash.read(0x0800_0000, 32)).toEqual(pattern(32));
    expect(Array.from(flash.read(0x0810_0000, 2))).toEqual([0xff, 0xff]);
  });

  it('reports every program and erase with its kind and range, the power-loss cuts included', () => {
    const flash = new SimFlash();
    const changes: unknown[] = [];
    const stop = flash.onChange((change) => changes.push(change));
    flash.program(0x0800_0000, pattern(64));
    flash.programUntilPowerLoss(0x0800_0100, pattern(64), 40);
    flash.eraseSector(2, 3);
    flash.eraseSectorUntilPowerLoss(1, 1, 0.5);
    flash.massErase();
    stop();
    flash.eraseSector(1, 0);
    expect(changes).toEqual([
      { kind: 'program', address: 0x0800_0000, length: 64 },
      { kind: 'program', address: 0x0800_0100, length: 40 },
      { kind: 'erase', address: 0x0816_0000, length: 0x20000 },
      { kind: 'erase', address: 0x0802_0000, length: 0x10000 },
      { kind: 'erase', address: 0x0800_0000, length: 0x100000 },
      { kind: 'erase', address: 0x0810_0000, length: 0x100000 },
    ]);
  });

  it('cuts programming after N bytes, leaving the interrupted word with an ECC error', () => {
    const flash = new SimFlash();
    const data = pattern(128);
    flash.programUntilPowerLoss(0x0800_0000, data, 40);
    expect(flash.read(0x0800_0000, 40)).toEqual(data.subarray(0, 40));
    expect(Array.from(flash.read(0x0800_0028, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
    expect(flash.wordStateAt(0x0800_0000)).toBe(WordState.Programmed);
    expect(flash.eccErrorWords(0x0800_0000, 128)).toEqual([0x0800_0020]);
    expect(flash.wordStateAt(0x0800_0040)).toBe(WordState.Virgin);
  });

  it('cuts a sector erase part-way: the first half erased, the second still programmed', () => {
    const flash = new SimFlash();
    flash.program(0x0810_0000, pattern(32));
    flash.program(0x0811_fff0 - 0x10, pattern(32));
    const busy = flash.eraseSectorUntilPowerLoss(2, 0, 0.5);
    expect(busy.durationMs).toBe(550);
    expect(Array.from(flash.read(0x0810_0000, 2))).toEqual([0xff, 0xff]);
    expect(flash.read(0x0811_ffe0, 32)).toEqual(pattern(32));
  });

  it('refuses addresses and sectors the chip does not have, with typed errors', () => {
    const flash = new SimFlash();
    expect(() => flash.program(0x081f_fff0, pattern(32))).toThrow(FlashAddressError);
    expect(() => flash.read(0x0700_0000, 4)).toThrow('read of 4 bytes at 0x07000000 is outside user flash');
    expect(() => flash.eraseSector(1, 8)).toThrow(FlashSectorError);
    expect(flash.contains(0x081f_ffff, 1)).toBe(true);
    expect(flash.contains(0x081f_ffff, 2)).toBe(false);
  });
});
