import { describe, expect, it } from 'vitest';
import { formatSize, parseAddress, parseLength } from './memory-arguments.js';

describe('addresses and lengths as typed at a bench', () => {
  it('reads hex, decimal and K/M byte counts', () => {
    expect(parseAddress('0x08020000')).toBe(0x08020000);
    expect(parseAddress('0X5200201c')).toBe(0x5200201c);
    expect(parseAddress('134348800')).toBe(0x08020000);
    expect(parseLength('4096')).toBe(4096);
    expect(parseLength('0x400')).toBe(1024);
    expect(parseLength('128K')).toBe(128 * 1024);
    expect(parseLength('2m')).toBe(2 * 1024 * 1024);
    expect(parseLength('0x4K')).toBe(4096);
  });

  it('refuses what is not one, with a hint', () => {
    for (const text of ['08000000h', '0x', '0x1_0000', '128K', '0x100000000', '-1', '']) {
      expect(() => parseAddress(text), text).toThrow(expect.objectContaining({ code: 'cli-usage', message: `"${text}" is not an address`, hint: expect.stringMatching(/^Give a 32-bit address in hex/) }));
    }
    for (const text of ['0', '1.5K', 'K', '12KB', '-4', '5G']) {
      expect(() => parseLength(text), text).toThrow(expect.objectContaining({ code: 'cli-usage', message: `"${text}" is not a length` }));
    }
  });

  it('names sizes the way a layout string does', () => {
    expect(formatSize(2 * 1024 * 1024)).toBe('2 MiB');
    expect(formatSize(256 * 1024)).toBe('256 KiB');
    expect(formatSize(1000)).toBe('1000 bytes');
    expect(formatSize(1)).toBe('1 byte');
  });
});
