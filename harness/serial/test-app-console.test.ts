import type { BindingInterface, BindingPortInterface, OpenOptions, PortInfo, PortStatus } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../clock/virtual-clock.js';
import { formatDeviceLine, GPIO_PORTS, GPIO_REGISTERS, type GpioRegisters } from './console-protocol.js';
import { ConsoleError, openTestAppConsole, type TestAppConsole } from './test-app-console.js';

/**
 * A scripted device behind a serialport binding: each line the host sends is handed to
 * `onLine`, which answers through `say` (now) or `sayAt` (after virtual time).
 */
class ScriptedDevice {
  readonly received: string[] = [];
  onLine: (line: string) => void = () => undefined;
  port: ScriptedPort | undefined;

  constructor(readonly clock: VirtualClock) {}

  /** Sends raw text to the host, one byte per character (as a UART does; \u00ff is the byte 0xFF). */
  raw(text: string): void {
    this.port!.feed(Buffer.from(text, 'latin1'));
  }

  say(...lines: string[]): void {
    this.raw(lines.map((l) => `${l}\r\n`).join(''));
  }

  sayAt(ms: number, ...lines: string[]): void {
    this.clock.setTimer(ms, () => this.say(...lines));
  }

  binding(): BindingInterface {
    return {
      list: async (): Promise<PortInfo[]> => [],
      open: async (options: OpenOptions): Promise<BindingPortInterface> => {
        this.port = new ScriptedPort(options, (line) => { this.received.push(line); this.onLine(line); });
        return this.port;
      },
    };
  }
}

class ScriptedPort implements BindingPortInterface {
  readonly openOptions: Required<OpenOptions>;
  isOpen = true;
  private inbox: Buffer[] = [];
  private reader: (() => void) | undefined;
  private partial = '';

  constructor(options: OpenOptions, private readonly hostLine: (line: string) => void) {
    this.openOptions = {
      dataBits: 8, lock: true, stopBits: 1, parity: 'none', rtscts: false, xon: false, xoff: false, xany: false, hupcl: true, ...options,
    } as Required<OpenOptions>;
  }

  feed(data: Buffer): void {
    this.inbox.push(data);
    this.reader?.();
  }

  async read(buffer: Buffer, offset: number, length: number): Promise<{ buffer: Buffer; bytesRead: number }> {
    while (this.inbox.length === 0) {
      if (!this.isOpen) throw Object.assign(new Error('port closed'), { canceled: true });
      await new Promise<void>((resolve) => { this.reader = resolve; });
      this.reader = undefined;
    }
    const chunk = this.inbox.shift()!;
    const n = Math.min(length, chunk.length);
    chunk.copy(buffer, offset, 0, n);
    if (n < chunk.length) this.inbox.unshift(chunk.subarray(n));
    return { buffer, bytesRead: n };
  }

  async write(buffer: Buffer): Promise<void> {
    this.partial += buffer.toString('utf8');
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl).replace(/\r$/, '');
      this.partial = this.partial.slice(nl + 1);
      this.hostLine(line);
    }
  }

  async close(): Promise<void> { this.isOpen = false; this.reader?.(); }
  async update(): Promise<void> {}
  async set(): Promise<void> {}
  async get(): Promise<PortStatus> { return { cts: false, dsr: false, dcd: false }; }
  async getBaudRate(): Promise<{ baudRate: number }> { return { baudRate: this.openOptions.baudRate }; }
  async flush(): Promise<void> {}
  async drain(): Promise<void> {}
}

function resetRegisters(port: string): GpioRegisters {
  const regs = { MODER: 0xffffffff, OTYPER: 0, OSPEEDR: 0, PUPDR: 0, ODR: 0, AFRL: 0, AFRH: 0 };
  if (port === 'A') return { ...regs, MODER: 0xabffffff, OSPEEDR: 0x0c000000, PUPDR: 0x64000000 };
  if (port === 'B') return { ...regs, MODER: 0xfffffebf, OSPEEDR: 0x000000c0, PUPDR: 0x00000100 };
  return regs;
}

async function setup(): Promise<{ clock: VirtualClock; device: ScriptedDevice; console: TestAppConsole }> {
  // Extra idle turns let serialport's stream plumbing deliver a reply before virtual time jumps.
  const clock = new VirtualClock({ idleTurns: 20 });
  const device = new ScriptedDevice(clock);
  const console = await openTestAppConsole({ path: '/dev/ttyTEST0', binding: device.binding(), clock, commandTimeoutMs: 2000 });
  return { clock, device, console };
}

describe('TestAppConsole over a serialport stream', () => {
  it('waits for READY and answers version, with timestamps in the log', async () => {
    const { clock, device, console } = await setup();
    device.onLine = (line) => {
      if (line === 'version') device.sayAt(3, 'VERSION dfu-hil-testapp 1.0.0', 'OK');
    };
    device.sayAt(54, 'READY dfu-hil-testapp 1.0.0');
    const banner = await console.waitForReady(1000);
    expect(banner).toEqual({ name: 'dfu-hil-testapp', version: '1.0.0', t: 54 });
    expect(await console.version()).toEqual({ name: 'dfu-hil-testapp', version: '1.0.0' });
    expect(clock.now()).toBe(57);
    expect(device.received).toEqual(['version']);
    expect(console.log.list().map((e) => [e.t, e.direction, e.text])).toEqual([
      [54, 'rx', 'READY dfu-hil-testapp 1.0.0'],
      [54, 'tx', 'version'],
      [57, 'rx', 'VERSION dfu-hil-testapp 1.0.0'],
      [57, 'rx', 'OK'],
    ]);
    expect(console.log.format().split('\n')[1]).toBe('      54.000 ms  -> version');
    await console.close();
  });

  it('parses boot into cause, entry, RSR, CM4 state and the PRE registers', async () => {
    const { device, console } = await setup();
    device.onLine = (line) => {
      if (line !== 'boot') return;
      device.say('BOOT cause=none entry=jump rsr=0x00000000 cm4=lockup ecc=2');
      for (const port of GPIO_PORTS) device.say(formatDeviceLine({ kind: 'pre', port, registers: resetRegisters(port) }));
      device.say('OK');
    };
    const report = await console.boot();
    expect(report).toMatchObject({ cause: 'none', entry: 'jump', rsr: 0, cm4: 'lockup', ecc: 2 });
    expect(report.pre.A).toEqual({ MODER: 0xabffffff, OTYPER: 0, OSPEEDR: 0x0c000000, PUPDR: 0x64000000, ODR: 0, AFRL: 0, AFRH: 0 });
    expect(report.pre.B?.MODER).toBe(0xfffffebf);
    expect(Object.keys(report.pre)).toEqual([...GPIO_PORTS]);
    await console.close();
  });

  it('reads GPIO snapshots split across chunks, ignoring and logging noise', async () => {
    const { device, console } = await setup();
    device.onLine = (line) => {
      if (line !== 'gpio') return;
      const text = GPIO_PORTS.map((port) => formatDeviceLine({ kind: 'gpio', port, registers: { ...resetRegisters(port), ODR: port === 'B' ? 1 : 0 } }) + '\r\n').join('');
      const withNoise = `\u0000\u00ff garbage\r\n${text}OK\r\n`;
      // Bytes arrive in odd-sized pieces, as from a UART.
      for (let i = 0; i < withNoise.length; i += 37) device.raw(withNoise.slice(i, i + 37));
    };
    const snapshot = await console.gpio();
    expect(snapshot.B?.ODR).toBe(1);
    expect(snapshot.K?.MODER).toBe(0xffffffff);
    const noise = console.log.list().filter((e) => e.noise);
    expect(noise.map((e) => e.text)).toEqual(['\\x00\\xFF garbage']);
    await console.close();
  });

  it('takes a READY banner behind a 0x00 or 0xFF from a UART waking up, and logs the noise', async () => {
    const { device, console, clock } = await setup();
    const first = console.waitForReady(1_000, { after: console.mark() });
    device.raw('\u0000READY dfu-hil-testapp 1.0.0\r\n');
    expect(await first).toMatchObject({ name: 'dfu-hil-testapp', version: '1.0.0' });
    const mark = console.mark();
    const second = console.waitForReady(1_000, { after: mark });
    clock.setTimer(5, () => device.raw('\u00ff\u00ffREADY dfu-hil-testapp 1.1.0\r\n'));
    expect(await second).toMatchObject({ version: '1.1.0' });
    expect(console.log.list().filter((e) => e.noise).map((e) => e.text)).toEqual(['\\x00READY dfu-hil-testapp 1.0.0', '\\xFF\\xFFREADY dfu-hil-testapp 1.1.0']);
    await console.close();
  });

  it('resynchronises on the protocol line behind garbage that came without a line end', async () => {
    const { device, console } = await setup();
    device.onLine = (line) => {
      if (line === 'version') device.raw('#@!x\u0007VERSION app 2.0.0\r\n~~~~OK\r\n');
    };
    expect(await console.version()).toEqual({ name: 'app', version: '2.0.0' });
    const ready = console.waitForReady(1_000, { after: console.mark() });
    device.raw('garbage without a line end READY app 2.0.0\r\n');
    expect(await ready).toMatchObject({ name: 'app' });
    // A line that is noise through and through is logged and ignored; nothing else happens.
    const after = console.waitForReady(1_000, { after: console.mark() });
    device.raw('\u0000\u00ff\u0000\r\nno protocol here\r\nREADY app 2.0.1\r\n');
    expect(await after).toMatchObject({ version: '2.0.1' });
    const noise = console.log.list().filter((e) => e.noise).map((e) => e.text);
    expect(noise).toEqual(['#@!x\\x07VERSION app 2.0.0', '~~~~OK', 'garbage without a line end READY app 2.0.0', '\\x00\\xFF\\x00', 'no protocol here']);
    await console.close();
  });

  it('lets garbage without a line end through as noise once it passes 4096 bytes, and takes the READY after it', async () => {
    const { device, console, clock } = await setup();
    const ready = console.waitForReady(1_000, { after: console.mark() });
    // A UART stuck at one level: bytes, never a line end. The parser does not hold them all.
    for (let i = 0; i < 5; i++) device.raw('\u00ff'.repeat(1000));
    await clock.sleep(1);
    expect(console.log.list().filter((e) => e.noise).map((e) => e.text)).toEqual(['\\xFF'.repeat(5000)]);
    device.raw('READY app 3.0.0\r\n');
    expect(await ready).toMatchObject({ name: 'app', version: '3.0.0' });
    // The banner came as a clean line of its own, not behind the garbage.
    expect(console.log.list().filter((e) => e.direction === 'rx').map((e) => e.noise ?? false)).toEqual([true, false]);
    await console.close();
  });

  it('logs what is left without a line end when the port closes as noise, never as a line', async () => {
    const { device, console } = await setup();
    const ready = console.waitForReady(1_000, { after: console.mark() });
    device.raw('READY app 4.0.0\r\nREADY app 4.0');
    expect(await ready).toMatchObject({ version: '4.0.0' });
    await console.close();
    const received = console.log.list().filter((e) => e.direction === 'rx');
    expect(received.map((e) => [e.text, e.noise ?? false])).toEqual([['READY app 4.0.0', false], ['READY app 4.0', true]]);
    expect(console.ready).toMatchObject({ version: '4.0.0' });
  });

  it('sends pin and dfu commands in the protocol form', async () => {
    const { device, console } = await setup();
    device.onLine = () => device.say('OK');
    await console.pin('PB0', 1);
    await console.dfuRc();
    await console.dfuRc(25);
    await console.dfuJump();
    await console.dfuDirect();
    expect(device.received).toEqual(['pin PB0 1', 'dfu rc', 'dfu rc 25', 'dfu jump', 'dfu direct']);
    await expect(console.pin('PZ9', 0)).rejects.toMatchObject({ code: 'console-usage' });
    expect(device.received).toHaveLength(5);
    await console.close();
  });

  it('sends a line of another protocol without waiting for OK, logs it, and sees what comes back in the log', async () => {
    const { clock, device, console } = await setup();
    const seen: string[] = [];
    const unwatch = console.log.watch((e) => seen.push(`${e.direction} ${e.text}`));
    device.onLine = (line) => { if (line === 'update') device.sayAt(2, 'entering the bootloader'); };
    await console.sendLine('update');
    expect(device.received).toEqual(['update']);
    await clock.sleep(5);
    expect(seen).toEqual(['tx update', 'rx entering the bootloader']);
    unwatch();
    await expect(console.sendLine('a\nb')).rejects.toMatchObject({ code: 'console-usage' });
    expect(seen).toHaveLength(2);
    await console.close();
  });

  it('turns ERR into a device error naming the command and reason', async () => {
    const { device, console } = await setup();
    device.onLine = () => device.say('ERR unknown pin');
    const error = await console.pin('PK15', 1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConsoleError);
    expect((error as ConsoleError).failure).toBe('device-error');
    expect((error as ConsoleError).message).toBe('the test application answered "ERR unknown pin" to "pin PK15 1" on /dev/ttyTEST0');
    await console.close();
  });

  it('times out in virtual time, naming the command and the last lines seen', async () => {
    const { clock, device, console } = await setup();
    device.say('READY dfu-hil-testapp 1.0.0');
    await console.waitForReady(100);
    device.onLine = () => device.sayAt(10, 'half an answer');
    const error = await console.command('version', 500).catch((e: unknown) => e) as ConsoleError;
    expect(error.failure).toBe('timeout');
    expect(error.message).toBe('no answer to "version" on /dev/ttyTEST0 within 500 ms; last lines seen: "half an answer"');
    expect(error.lastLines).toEqual(['READY dfu-hil-testapp 1.0.0', 'half an answer']);
    expect(clock.now()).toBe(500);
    expect(console.log.list().at(-1)).toMatchObject({ t: 500, direction: 'event', text: 'no answer to "version" within 500 ms' });
    await console.close();
  });

  it('reports a READY in the middle of a command as a target reset, then keeps working', async () => {
    const { device, console } = await setup();
    device.onLine = (line) => {
      if (line === 'gpio') device.sayAt(5, 'GPIO A MODER=0xABFFFFFF OTYPER=0x00000000 OSPEEDR=0x0C000000 PUPDR=0x64000000 ODR=0x00000000 AFRL=0x00000000 AFRH=0x00000000', 'READY dfu-hil-testapp 1.0.1');
      if (line === 'version') device.say('VERSION dfu-hil-testapp 1.0.1', 'OK');
    };
    const error = await console.gpio().catch((e: unknown) => e) as ConsoleError;
    expect(error.failure).toBe('target-reset');
    expect(error.message).toContain('READY dfu-hil-testapp 1.0.1');
    expect(error.command).toBe('gpio');
    // The port stayed open across the reboot.
    expect(await console.version()).toEqual({ name: 'dfu-hil-testapp', version: '1.0.1' });
    await console.close();
  });

  it('reset() resolves with the banner of the boot that follows, not an older one', async () => {
    const { clock, device, console } = await setup();
    device.say('READY dfu-hil-testapp 1.0.0');
    await console.waitForReady(100);
    device.onLine = (line) => {
      if (line === 'reset') { device.say('OK'); device.sayAt(60, 'READY dfu-hil-testapp 2.0.0'); }
    };
    const start = clock.now();
    const banner = await console.reset(1000);
    expect(banner).toMatchObject({ version: '2.0.0' });
    expect(banner.t - start).toBe(60);
    await console.close();
  });

  it('rejects a waitForReady when no READY comes in time', async () => {
    const { clock, console } = await setup();
    const mark = console.mark();
    await expect(console.waitForReady(750, { after: mark })).rejects.toThrow('no READY banner on /dev/ttyTEST0 within 750 ms; nothing received at all');
    expect(clock.now()).toBe(750);
    await console.close();
  });

  it('queues commands so that each waits for the previous answer', async () => {
    const { device, console } = await setup();
    device.onLine = () => device.sayAt(10, 'OK');
    await Promise.all([console.pin('PB0', 1), console.pin('PB0', 0)]);
    expect(console.log.list().map((e) => [e.t, e.direction, e.text])).toEqual([
      [0, 'tx', 'pin PB0 1'],
      [10, 'rx', 'OK'],
      [10, 'tx', 'pin PB0 0'],
      [20, 'rx', 'OK'],
    ]);
    await console.close();
  });

  it('fails pending work when the port closes', async () => {
    const { device, console } = await setup();
    device.onLine = () => undefined;
    const pending = console.command('version', 10_000).catch((e: unknown) => e);
    await console.close();
    expect(await pending).toMatchObject({ failure: 'port-closed' });
    await expect(console.version()).rejects.toMatchObject({ failure: 'port-closed' });
  });

  it('exposes the GPIO register names in protocol order', () => {
    expect(GPIO_REGISTERS).toEqual(['MODER', 'OTYPER', 'OSPEEDR', 'PUPDR', 'ODR', 'AFRL', 'AFRH']);
  });
});
