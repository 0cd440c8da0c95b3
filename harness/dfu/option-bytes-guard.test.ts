import { describe, expect, it } from 'vitest';
import { OptionBytesFormatError, OptionBytesRefusedError, RdpLevel2RefusedError } from './errors.js';
import { MemoryLayout } from './layout.js';
import { checkOptionBytesWrite, isOptionBytesTarget, refuseRdpLevel2 } from './option-bytes-guard.js';

const ob = MemoryLayout.parse('@Option Bytes   /0x5200201C/01*128 e');
const flash = MemoryLayout.parse('@Internal Flash   /0x08000000/16*128Kg');

describe('option-byte guard', () => {
  it('recognises the option-byte alt by name and the FLASH registers by address', () => {
    expect(isOptionBytesTarget(ob, 0x5200201c, 128)).toBe(true);
    expect(isOptionBytesTarget(flash, 0x08000000, 1024)).toBe(false);
    expect(isOptionBytesTarget(flash, 0x52001ff0, 0x20)).toBe(true);
    expect(isOptionBytesTarget(flash, 0x52003000, 4)).toBe(false);
  });

  it('finds RDP in byte 1 of OPTSR_CUR and of OPTSR_PRG and refuses 0xCC there only', () => {
    const block = new Uint8Array(128);
    block[0] = 0xcc; // OPTSR bits 7:0, not RDP
    block[2] = 0xcc;
    expect(() => refuseRdpLevel2({ address: 0x5200201c, data: block })).not.toThrow();
    block[1] = 0xcc;
    expect(() => refuseRdpLevel2({ address: 0x5200201c, data: block })).toThrow(RdpLevel2RefusedError);
    expect(() => refuseRdpLevel2({ address: 0x52002021, data: Uint8Array.of(0xcc) })).toThrow('at 0x52002021');
    expect(() => refuseRdpLevel2({ address: 0x52002022, data: Uint8Array.of(0xcc) })).not.toThrow();
  });

  it('refuses RDP level 2 before checking permission, and permission before format', () => {
    const rdp2 = new Uint8Array(8);
    rdp2[1] = 0xcc;
    expect(() => checkOptionBytesWrite(ob, { address: 0x5200201c, data: rdp2 }, true)).toThrow(RdpLevel2RefusedError);
    expect(() => checkOptionBytesWrite(ob, { address: 0x5200201c, data: new Uint8Array(8) }, false)).toThrow(OptionBytesRefusedError);
    expect(() => checkOptionBytesWrite(ob, { address: 0x5200201c, data: new Uint8Array(8) }, true)).toThrow(
      'option-byte write of 8 bytes at 0x5200201C; the bootloader takes exactly 128 bytes at 0x5200201C');
    expect(() => checkOptionBytesWrite(ob, { address: 0x5200201c, data: new Uint8Array(128) }, true)).not.toThrow();
  });

  it('gives every refusal a hint', () => {
    expect(new RdpLevel2RefusedError(0x5200201d).hint).toMatch(/irreversible/);
    expect(new OptionBytesRefusedError('write x').hint).toMatch(/allowOptionBytes: true/);
    expect(new OptionBytesFormatError(0, 8, 0x5200201c, 128).hint).toMatch(/whole block/);
  });
});
