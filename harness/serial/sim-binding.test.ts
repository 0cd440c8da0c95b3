import { SerialPortStream } from '@serialport/stream';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import { ConsoleUart } from '../sim/uart/console-uart.js';
import { createSimSerialBinding } from './sim-binding.js';

function openPort(binding: ReturnType<typeof createSimSerialBinding>, path = 'sim:rig-a'): Promise<SerialPortStream> {
  return new Promise((resolve, reject) => {
    const port = new SerialPortStream({ binding, path, baudRate: 115200 }, (err) => (err ? reject(err) : resolve(port)));
  });
}

/** Reads from `port` until `predicate` holds for everything received so far. */
function readUntil(port: SerialPortStream, predicate: (text: string) => boolean): Promise<string> {
  return new Promise((resolve) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('latin1');
      if (predicate(seen)) { port.off('data', onData); resolve(seen); }
    };
    port.on('data', onData);
  });
}

describe('createSimSerialBinding', () => {
  it('lets an unchanged SerialPortStream talk to a simulated UART both ways', async () => {
    const clock = new VirtualClock();
    const uart = new ConsoleUart(clock);
    const received: Buffer[] = [];
    uart.onReceive((b) => {
      received.push(Buffer.from(b));
      if (Buffer.concat(received).toString().endsWith('\n')) uart.transmit('VERSION t 1\r\nOK\r\n');
    });
    const binding = createSimSerialBinding(uart.host, { path: 'sim:rig-a', manufacturer: 'STMicroelectronics' });
    const port = await openPort(binding);
    const reply = readUntil(port, (t) => t.includes('OK\r\n'));
    port.write('version\n');
    expect(await reply).toBe('VERSION t 1\r\nOK\r\n');
    expect(Buffer.concat(received).toString()).toBe('version\n');
    await new Promise<void>((r) => port.close(() => r()));
  });

  it('lists its one port and refuses other paths and a second open', async () => {
    const uart = new ConsoleUart(new VirtualClock());
    const binding = createSimSerialBinding(uart.host, { path: 'sim:rig-a', serialNumber: '0671FF' });
    expect(await binding.list()).toEqual([expect.objectContaining({ path: 'sim:rig-a', serialNumber: '0671FF' })]);
    await expect(binding.open({ path: 'sim:other', baudRate: 115200 })).rejects.toThrow(/no simulated port at "sim:other"/);
    const first = await binding.open({ path: 'sim:rig-a', baudRate: 115200 });
    await expect(binding.open({ path: 'sim:rig-a', baudRate: 115200 })).rejects.toThrow(/already open/);
    await first.close();
    const again = await binding.open({ path: 'sim:rig-a', baudRate: 115200 });
    expect(again.isOpen).toBe(true);
    await again.close();
  });

  it('cancels a pending read on close, with canceled set as the stream expects', async () => {
    const uart = new ConsoleUart(new VirtualClock());
    const port = await createSimSerialBinding(uart.host).open({ path: 'sim:x', baudRate: 115200 });
    const read = port.read(Buffer.alloc(16), 0, 16);
    await port.close();
    await expect(read).rejects.toMatchObject({ canceled: true });
  });

  it('keeps bytes that arrive before a read and splits them across small reads', async () => {
    const clock = new VirtualClock();
    const uart = new ConsoleUart(clock);
    const port = await createSimSerialBinding(uart.host).open({ path: 'sim:x', baudRate: 115200 });
    uart.transmit('abcdef');
    await uart.transmitted();
    const buf = Buffer.alloc(4);
    expect((await port.read(buf, 0, 4)).bytesRead).toBe(4);
    expect(buf.toString()).toBe('abcd');
    expect((await port.read(buf, 0, 4)).bytesRead).toBe(2);
    expect(buf.subarray(0, 2).toString()).toBe('ef');
    await port.close();
  });

  it('refuses writes at a baud rate the console does not run at', async () => {
    const uart = new ConsoleUart(new VirtualClock());
    const port = await createSimSerialBinding(uart.host).open({ path: 'sim:x', baudRate: 9600 });
    await expect(port.write(Buffer.from('x'))).rejects.toThrow(/9600 baud/);
    await port.close();
  });

  it('gives two boards independent ports under the same path', async () => {
    const clock = new VirtualClock();
    const a = new ConsoleUart(clock);
    const b = new ConsoleUart(clock);
    const pa = await createSimSerialBinding(a.host, { path: 'sim:rig' }).open({ path: 'sim:rig', baudRate: 115200 });
    const pb = await createSimSerialBinding(b.host, { path: 'sim:rig' }).open({ path: 'sim:rig', baudRate: 115200 });
    a.transmit('A');
    b.transmit('B');
    const bufA = Buffer.alloc(1);
    const bufB = Buffer.alloc(1);
    await Promise.all([pa.read(bufA, 0, 1), pb.read(bufB, 0, 1)]);
    expect([bufA.toString(), bufB.toString()]).toEqual(['A', 'B']);
    await pa.close();
    await pb.close();
  });
});
