import { describe, expect, it } from 'vitest';
import { formatCommand, formatDeviceLine, formatRegister, parseDeviceLine } from './console-protocol.js';

describe('console protocol', () => {
  it('parses READY and VERSION', () => {
    expect(parseDeviceLine('READY dfu-hil-testapp 1.0.0')).toEqual({ kind: 'ready', name: 'dfu-hil-testapp', version: '1.0.0' });
    expect(parseDeviceLine('VERSION unknown 0.0.0\r')).toEqual({ kind: 'version', name: 'unknown', version: '0.0.0' });
  });

  it('parses the BOOT line of the protocol example', () => {
    expect(parseDeviceLine('BOOT cause=pin entry=reset rsr=0x00640000 cm4=running ecc=0')).toEqual({
      kind: 'boot', cause: 'pin', entry: 'reset', rsr: 0x00640000, cm4: 'running', ecc: 0,
    });
  });

  it('parses PRE and GPIO lines into register values', () => {
    const line = parseDeviceLine('PRE A MODER=0xABFFFFFF OTYPER=0x00000000 OSPEEDR=0x0C000000 PUPDR=0x64000000 ODR=0x00000000 AFRL=0x00000000 AFRH=0x00000000');
    expect(line).toEqual({
      kind: 'pre', port: 'A',
      registers: { MODER: 0xabffffff, OTYPER: 0, OSPEEDR: 0x0c000000, PUPDR: 0x64000000, ODR: 0, AFRL: 0, AFRH: 0 },
    });
    expect(formatDeviceLine(line)).toBe('PRE A MODER=0xABFFFFFF OTYPER=0x00000000 OSPEEDR=0x0C000000 PUPDR=0x64000000 ODR=0x00000000 AFRL=0x00000000 AFRH=0x00000000');
  });

  it('parses OK and ERR', () => {
    expect(parseDeviceLine('OK')).toEqual({ kind: 'ok' });
    expect(parseDeviceLine('ERR bad pin PZ3')).toEqual({ kind: 'err', reason: 'bad pin PZ3' });
    expect(parseDeviceLine('ERR')).toEqual({ kind: 'err', reason: '' });
  });

  it.each([
    'READY only-a-name',
    'BOOT cause=brownout entry=reset rsr=0x00000000 cm4=running ecc=0',
    'BOOT cause=pin entry=reset rsr=0x640000 cm4=running ecc=0',
    'GPIO L MODER=0xFFFFFFFF OTYPER=0x00000000 OSPEEDR=0x00000000 PUPDR=0x00000000 ODR=0x00000000 AFRL=0x00000000 AFRH=0x00000000',
    'GPIO A MODER=0xFFFFFFFF OTYPER=0x00000000',
    'OKAY',
    '\u0000\u0013',
  ])('treats %j as noise', (text) => {
    expect(parseDeviceLine(text)).toEqual({ kind: 'noise', text });
  });

  it('formats commands and refuses malformed ones', () => {
    expect(formatCommand({ verb: 'pin', pin: 'PE1', level: 0 })).toBe('pin PE1 0');
    expect(formatCommand({ verb: 'dfu-rc', delayMs: 40 })).toBe('dfu rc 40');
    expect(formatCommand({ verb: 'dfu-jump' })).toBe('dfu jump');
    expect(formatCommand({ verb: 'reset' })).toBe('reset');
    expect(() => formatCommand({ verb: 'pin', pin: 'PB16', level: 1 })).toThrow('"PB16" is not a pin name');
    expect(() => formatCommand({ verb: 'dfu-rc', delayMs: -1 })).toThrow('whole number of ms');
    expect(formatRegister(0x640000)).toBe('0x00640000');
  });
});
