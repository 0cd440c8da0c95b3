import { describe, expect, it } from 'vitest';
import { createUserMemories } from '../flash/user-memories.js';
import { OptionRegisterOffset } from './option-register-map.js';
import { OptionBlockError, OptionBytesFrozenError, SimOptionBytes } from './sim-option-bytes.js';

const word = (block: Uint8Array, offset: number): number => new DataView(block.buffer, block.byteOffset).getUint32(offset, true);
const setWord = (block: Uint8Array, offset: number, value: number): void => new DataView(block.buffer, block.byteOffset).setUint32(offset, value >>> 0, true);

describe('SimOptionBytes', () => {
  it('exposes the 128-byte block at 0x5200201C with factory values', () => {
    const ob = new SimOptionBytes();
    expect([ob.base, ob.blockSize]).toEqual([0x5200_201c, 128]);
    const block = ob.readBlock();
    expect(block.length).toBe(128);
    expect((word(block, OptionRegisterOffset.OPTSR_CUR) >>> 8) & 0xff).toBe(0xaa);
    expect(word(block, OptionRegisterOffset.BOOT7_CUR)).toBe(0x1ff0_0800);
    expect(word(block, OptionRegisterOffset.BOOT4_CUR)).toBe(0x1000_0810);
    expect(word(block, OptionRegisterOffset.WPSN_CUR1)).toBe(0xff);
    expect(ob.rdpLevel()).toBe(0);
    expect([ob.bootCm7Add0(), ob.bootCm7Add1(), ob.bootCm4Add0(), ob.bootCm4Add1()]).toEqual([0x0800, 0x1ff0, 0x0810, 0x1000]);
    expect([ob.bcm7(), ob.bcm4(), ob.iwdg1Software(), ob.swapBank()]).toEqual([true, true, true, false]);
    expect(ob.writeProtectedSectors(1)).toEqual([]);
  });

  it('decodes RDP 0xAA/0xCC/other, BOOT addresses, BCM bits and WPSN from register values', () => {
    expect(new SimOptionBytes({ initial: { optsr: 0x1bc6_55f0 } }).rdpLevel()).toBe(1);
    expect(new SimOptionBytes({ initial: { optsr: 0x1bc6_00f0 } }).rdpLevel()).toBe(1);
    const l2 = new SimOptionBytes({ initial: { optsr: 0x1bc6_ccf0 } });
    expect(l2.rdpLevel()).toBe(2);
    expect(l2.systemMemoryBootDisabled).toBe(true);
    const ob = new SimOptionBytes({ initial: { optsr: 0x1b06_aaf0, boot7: 0x1ff0_1ff0, wpsn2: 0b0111_1110 } });
    expect([ob.bcm7(), ob.bcm4()]).toEqual([false, false]);
    expect(ob.bootCm7Add0()).toBe(0x1ff0);
    expect(ob.writeProtectedSectors(2)).toEqual([0, 7]);
    expect(ob.isSectorWriteProtected(2, 7)).toBe(true);
    expect(ob.isSectorWriteProtected(1, 7)).toBe(false);
  });

  it('programs from the *_PRG words of a block; the values take effect at the next reset', () => {
    const ob = new SimOptionBytes();
    const block = ob.readBlock();
    setWord(block, OptionRegisterOffset.BOOT7_PRG, 0x1ff0_1ff0);
    setWord(block, OptionRegisterOffset.WPSN_PRG1, 0xfc);
    setWord(block, OptionRegisterOffset.OPTSR_PRG, word(block, OptionRegisterOffset.OPTSR_PRG) & ~(1 << 22));
    setWord(block, OptionRegisterOffset.OPTSR_CUR, 0); // read-only: ignored
    expect(ob.programBlock(block).durationMs).toBe(100);
    expect(ob.bootCm7Add0()).toBe(0x0800);
    expect(word(ob.readBlock(), OptionRegisterOffset.BOOT7_PRG)).toBe(0x1ff0_1ff0);
    ob.loadAtReset();
    expect(ob.bootCm7Add0()).toBe(0x1ff0);
    expect(ob.writeProtectedSectors(1)).toEqual([0, 1]);
    expect(ob.bcm4()).toBe(false);
    expect(ob.rdpLevel()).toBe(0);
    expect(word(ob.readBlock(), OptionRegisterOffset.BOOT7_CUR)).toBe(0x1ff0_1ff0);
  });

  it('shows both banks in the 308-byte window from 0x5200201C, and programs bank 2 from it', () => {
    const ob = new SimOptionBytes({ initial: { wpsn2: 0x7f } });
    const window = ob.readWindow();
    expect(window.length).toBe(308);
    expect(window.subarray(0, 128)).toEqual(ob.readBlock());
    expect(word(window, OptionRegisterOffset.WPSN_CUR2)).toBe(0x7f);
    setWord(window, OptionRegisterOffset.WPSN_PRG2, 0x3f);
    ob.programBlock(window);
    ob.loadAtReset();
    expect(ob.writeProtectedSectors(2)).toEqual([6, 7]);
  });

  it('refuses a block of the wrong size', () => {
    expect(() => new SimOptionBytes().programBlock(new Uint8Array(64))).toThrow(OptionBlockError);
  });

  it('regresses to level 0: flash erased whatever its protection, factory options from the next reset', () => {
    const { flash, optionBytes } = createUserMemories({ optionBytes: { initial: { optsr: 0x1bc6_55f0, wpsn1: 0x00 } } });
    optionBytes.programWriteProtection(1, 0);
    optionBytes.loadAtReset();
    flash.program(0x0800_0000, new Uint8Array(32));
    optionBytes.programWriteProtection(1, 0xff);
    optionBytes.loadAtReset();
    expect(optionBytes.rdpLevel()).toBe(1);
    const busy = optionBytes.regressToLevel0();
    expect(busy.durationMs).toBe(8800 + 100);
    expect(Array.from(flash.read(0x0800_0000, 2))).toEqual([0xff, 0xff]);
    expect(optionBytes.programmedRdpLevel()).toBe(0);
    optionBytes.loadAtReset();
    expect(optionBytes.rdpLevel()).toBe(0);
    expect(optionBytes.writeProtectedSectors(1)).toEqual([]);
  });

  it('erases the flash when a program takes RDP from level 1 to 0', () => {
    const { flash, optionBytes } = createUserMemories({ optionBytes: { initial: { optsr: 0x1bc6_55f0 } } });
    flash.program(0x0810_0000, new Uint8Array(32));
    optionBytes.program({ optsr: 0x1bc6_aaf0 });
    expect(flash.read(0x0810_0000, 1)[0]).toBe(0xff);
  });

  it('latches RDP level 2 at reset: options frozen except SWAP_BANK, regression refused', () => {
    const ob = new SimOptionBytes();
    ob.program({ optsr: 0x1bc6_ccf0 });
    expect(ob.systemMemoryBootDisabled).toBe(false);
    ob.loadAtReset();
    expect(ob.rdpLevel()).toBe(2);
    expect(ob.systemMemoryBootDisabled).toBe(true);
    ob.program({ optsr: 0x9bc6_aaf0, boot7: 0 });
    ob.loadAtReset();
    expect(ob.rdpLevel()).toBe(2);
    expect(ob.swapBank()).toBe(true);
    expect(ob.bootCm7Add0()).toBe(0x0800);
    expect(() => ob.regressToLevel0()).toThrow(OptionBytesFrozenError);
  });
});
