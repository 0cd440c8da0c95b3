import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { ConsoleUart } from './console-uart.js';

const text = (chunks: Uint8Array[]): string => Buffer.concat(chunks).toString('latin1');

describe('ConsoleUart', () => {
  it('takes 10 bit times per byte at 115200 8N1 (about 86.8 µs)', () => {
    const uart = new ConsoleUart(new VirtualClock());
    expect(uart.byteTimeMs).toBeCloseTo(0.0868056, 6);
  });

  it('delivers target bytes to the host when the last stop bit has left, in order', async () => {
    const clock = new VirtualClock();
    const uart = new ConsoleUart(clock);
    const got: Array<[string, number]> = [];
    uart.host.onData((b) => got.push([Buffer.from(b).toString('latin1'), clock.now()]));
    const end1 = uart.transmit('READY a 1\r\n');
    const end2 = uart.transmit('x'.repeat(100));
    expect(end1).toBeCloseTo(11 * uart.byteTimeMs, 9);
    expect(end2).toBeCloseTo(111 * uart.byteTimeMs, 9);
    await uart.transmitted();
    expect(got).toEqual([['READY a 1\r\n', 1], ['x'.repeat(100), 10]]);
  });

  it('carries host bytes to the target receiver with the same timing', async () => {
    const clock = new VirtualClock();
    const uart = new ConsoleUart(clock);
    const got: Uint8Array[] = [];
    uart.onReceive((b) => got.push(b));
    uart.host.write(Buffer.from('version\n'));
    await uart.host.drain();
    expect(text(got)).toBe('version\n');
    expect(clock.now()).toBe(1);
  });

  it('drops queued target bytes when the transmitter is reset', async () => {
    const clock = new VirtualClock();
    const uart = new ConsoleUart(clock);
    const got: Uint8Array[] = [];
    uart.host.onData((b) => got.push(b));
    uart.transmit('lost line\r\n');
    uart.resetTransmitter();
    uart.transmit('after\r\n');
    await uart.transmitted();
    expect(text(got)).toBe('after\r\n');
  });

  it('injects noise on the host direction at a chosen moment', async () => {
    const clock = new VirtualClock();
    const uart = new ConsoleUart(clock);
    const got: Array<[string, number]> = [];
    uart.host.onData((b) => got.push([Buffer.from(b).toString('latin1'), clock.now()]));
    uart.injectNoise(Uint8Array.of(0x00, 0xff, 0xfe), 50);
    await uart.transmitted();
    expect(got).toEqual([['\x00\xff\xfe', 51]]);
  });
});
