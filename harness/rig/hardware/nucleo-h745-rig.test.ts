// The hardware rig tested at its seams: an in-process USB bus with a scripted DfuSe device for
// the ROM, a scripted test application behind the serialport binding for the console, and an
// in-process command runner answering as openocd / st-flash / uhubctl do.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { PassThrough } from 'node:stream';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { startSimulatedBootloader } from '../../dfu/testing/simulated-dfuse.js';
import type { CommandResult, CommandRunner } from '../../probe/command-runner.js';
import { ProbeError } from '../../probe/probe.js';
import { formatDeviceLine, GPIO_PORTS, type GpioRegisters } from '../../serial/console-protocol.js';
import { createSimSerialBinding } from '../../serial/sim-binding.js';
import { ConsoleError, openTestAppConsole } from '../../serial/test-app-console.js';
import type { UartLink } from '../../serial/uart-link.js';
import { UsbSocket } from '../../usb/gadget.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import { TransferTrace } from '../../usb/trace.js';
import type { RigConfig } from '../config/load-rigs.js';
import { rigsFileSchema } from '../config/schema.js';
import { acquireRigLease, RigLockBusyError, RigLockLostError } from '../lock/rig-lock.js';
import { AmbiguousDeviceError } from '../bootloader-locator.js';
import { DFU_ENTRY_MAGIC_ADDRESS } from '../entry-methods.js';
import { syntheticReferenceImages } from '../reference-images.js';
import { classifyFailure, RigCapabilityMissing } from '../rig-errors.js';
import { UsbError } from '../../usb/errors.js';
import { createNucleoH745Rig, type NucleoH745RigOptions } from './nucleo-h745-rig.js';

const DFU_SERIAL = '200364500000';
const CONSOLE = '/dev/serial/by-id/usb-STMicroelectronics_STLINK-V3_002B00183232511939353236-if02';

function rigConfig(rig: Record<string, unknown> = {}): RigConfig {
  const file = rigsFileSchema.parse({
    rigs: {
      'bench-t': {
        kind: 'nucleo-h745',
        usb: { serial: DFU_SERIAL, portPath: '1-4' },
        console: { path: CONSOLE },
        entry: { 'console-jump': null, 'console-direct': null },
        timeouts: { enumerationMs: 2_000, readyMs: 2_000, consoleMs: 500, powerCycleMs: 1_000 },
        ...rig,
      },
    },
  });
  return { ...file.rigs['bench-t']!, name: 'bench-t' };
}

/** GPIO registers the fake application and the fake probe both report, per port index. */
function gpioOf(i: number): GpioRegisters {
  return { MODER: 0xabff0000 + i, OTYPER: i, OSPEEDR: 0x0c000000, PUPDR: 0x64000000, ODR: 0x100 + i, AFRL: 0x77 * i, AFRH: 0xa00 + i };
}

/** The test application on the board, speaking the console protocol over a UART link. */
class ScriptedApp implements UartLink {
  readonly received: string[] = [];
  onDfuJump: () => void = () => undefined;
  private readonly listeners = new Set<(bytes: Uint8Array) => void>();
  private buffer = '';

  constructor(private readonly clock: VirtualClock) {}

  write(bytes: Uint8Array): void {
    this.buffer += Buffer.from(bytes).toString('utf8');
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      this.received.push(line);
      this.handle(line);
    }
  }

  onData(listener: (bytes: Uint8Array) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Prints `lines` after a UART's worth of delay. */
  say(...lines: string[]): void {
    this.clock.setTimer(2, () => {
      for (const l of lines) for (const listener of [...this.listeners]) listener(Buffer.from(`${l}\r\n`));
    });
  }

  boot(): void {
    this.say('READY dfu-hil-test-app 1.0.0');
  }

  private handle(line: string): void {
    switch (line) {
      case 'version': this.say('VERSION dfu-hil-test-app 1.0.0', 'OK'); return;
      case 'gpio':
        this.say(...GPIO_PORTS.map((port, i) => formatDeviceLine({ kind: 'gpio', port, registers: gpioOf(i) })), 'OK');
        return;
      case 'dfu jump':
        this.say('OK');
        this.clock.setTimer(20, () => this.onDfuJump());
        return;
      case 'reset':
        this.say('OK');
        this.clock.setTimer(10, () => this.boot());
        return;
      default: this.say(`ERR unknown command ${line}`);
    }
  }
}

/** Answers like the tools; `on` hooks let a test make the board react (enter DFU, lose power). */
class ScriptedRunner implements CommandRunner {
  readonly calls: { file: string; args: readonly string[] }[] = [];
  constructor(private readonly answer: (file: string, args: readonly string[]) => Partial<CommandResult>) {}

  async run(file: string, args: readonly string[]): Promise<CommandResult> {
    this.calls.push({ file, args });
    const a = this.answer(file, args);
    const all = a.all ?? `${a.stdout ?? ''}${a.stderr ?? ''}`;
    return { command: [file, ...args].join(' '), exitCode: 0, stdout: '', stderr: '', timedOut: false, notFound: false, ...a, all };
  }
}

/** uhubctl's answer to a power request on hub 1-1 port 2. */
function uhubctlAnswer(args: readonly string[]): Partial<CommandResult> {
  const action = args[args.indexOf('-a') + 1];
  const hub = 'hub 1-1 [2109:2817 VIA Labs, Inc. USB2.0 Hub, USB 2.10, 4 ports, ppps]';
  const on = '  Port 2: 0503 power highspeed enable connect [0483:374e STMicroelectronics STLINK-V3]';
  return { stdout: [`Current status for ${hub}`, on, 'Sent power off request', `New status for ${hub}`, '  Port 2: 0000 off',
    ...(action === 'cycle' ? ['Sent power on request', `New status for ${hub}`, on] : [])].join('\n') };
}

/** openocd's answer: mdw served from gpioOf, everything else silent. */
function openocdAnswer(args: readonly string[], onAircr: () => void): Partial<CommandResult> {
  const script = args.at(-1)!;
  const lines: string[] = ['Open On-Chip Debugger 0.12.0'];
  for (const command of script.split(/;\s*/)) {
    const [verb, addr, count] = command.split(/\s+/);
    if (verb === 'mdw') {
      const start = Number(addr);
      const port = (start - 0x58020000) / 0x400;
      const regs = gpioOf(port);
      const words = [regs.MODER, regs.OTYPER, regs.OSPEEDR, regs.PUPDR, 0, regs.ODR, 0, 0, regs.AFRL, regs.AFRH].slice(0, Number(count));
      lines.push(`0x${start.toString(16)}: ${words.map((w) => (w >>> 0).toString(16).padStart(8, '0')).join(' ')} `);
    }
    if (verb === 'mww' && addr === '0xe000ed0c') onAircr();
  }
  return { stdout: lines.join('\n') };
}

describe('NucleoH745Rig', () => {
  let clock: VirtualClock;
  let bus: InProcessUsbBus;
  let userUsb: UsbSocket;
  let app: ScriptedApp;
  let lockDir: string;
  let opens: number;
  let failOpens: number;
  let warnings: string[];

  beforeEach(async () => {
    clock = new VirtualClock();
    bus = new InProcessUsbBus({ clock, trace: new TransferTrace() });
    userUsb = new UsbSocket('1-4');
    bus.addConnector(userUsb);
    app = new ScriptedApp(clock);
    app.onDfuJump = () => { startSimulatedBootloader(clock, userUsb, { serialNumber: DFU_SERIAL }); };
    lockDir = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-rig-locks-'));
    opens = 0;
    failOpens = 0;
    warnings = [];
  });

  afterEach(async () => {
    bus.dispose();
    await rm(lockDir, { recursive: true, force: true });
  });

  function options(extra: Partial<NucleoH745RigOptions> = {}): NucleoH745RigOptions {
    return {
      images: syntheticReferenceImages(),
      clock,
      bus,
      runner: new ScriptedRunner(() => ({ exitCode: 1, stderr: 'unexpected tool call' })),
      acquireLease: (rig) => acquireRigLease({ rig, dir: lockDir }),
      openConsole: async ({ path: p, clock: c, log, commandTimeoutMs }) => {
        opens++;
        if (failOpens > 0) {
          failOpens--;
          throw new ConsoleError('open-failed', `cannot open console ${p}: ENOENT`);
        }
        return openTestAppConsole({ path: p, binding: createSimSerialBinding(app, { path: p }), clock: c, log, commandTimeoutMs });
      },
      ...extra,
    };
  }

  const context = () => ({ env: {}, warn: (m: string) => warnings.push(m) });

  it('enters DFU through the console, flashes, leaves, and sees the application boot again', async () => {
    const rig = await createNucleoH745Rig(rigConfig(), context(), options());
    try {
      const report = await rig.enterDfu('console-jump');
      expect(report).toMatchObject({ method: 'console-jump', serialNumber: DFU_SERIAL, portPath: '1-4' });
      expect(app.received).toContain('dfu jump');
      expect(await rig.bootloaderPresent()).toBe(true);

      const image = { source: 'tiny.bin', segments: [{ address: 0x08000000, data: new Uint8Array(64).fill(0x5a) }] };
      const flashed = await rig.flash(image);
      expect(flashed).toMatchObject({ bytesWritten: 64, erasedSectors: [0x08000000], verified: true });

      userUsb.watch((gadget) => { if (!gadget) app.boot(); });
      // The H7 ROM is gone before the leave's GETSTATUS completes: a typed success all the same.
      expect(await rig.leave()).toEqual({ outcome: 'disconnected' });
      expect(await rig.waitForApp()).toMatchObject({ name: 'dfu-hil-test-app', version: '1.0.0' });
      expect(rig.trace.steps.map((s) => [s.action, s.outcome])).toEqual([
        ['enter DFU by console-jump', 'ok'], ['flash tiny.bin', 'ok'], ['leave DFU', 'ok'],
      ]);
      expect(rig.trace.usb.list().length).toBeGreaterThan(0);
    } finally {
      await rig.close();
    }
  });

  it('refuses to guess when two boards match the filter, listing both', async () => {
    const other = new UsbSocket('1-5');
    bus.addConnector(other);
    for (const socket of [userUsb, other]) startSimulatedBootloader(clock, socket, { serialNumber: DFU_SERIAL });
    await clock.sleep(100);
    const rig = await createNucleoH745Rig(rigConfig({ usb: { serial: DFU_SERIAL } }), context(), options());
    try {
      for (const attempt of [() => rig.openDfu(), () => rig.bootloaderPresent(), () => rig.flash({ source: 'x.bin', segments: [] })]) {
        const error = await attempt().catch((e: unknown) => e) as AmbiguousDeviceError;
        expect(error).toBeInstanceOf(AmbiguousDeviceError);
        expect(error.code).toBe('rig-ambiguous-device');
        expect(error.message).toMatch(/2 devices match 0483:df11 SN 200364500000: 0483:df11 SN 200364500000 @1-[45], 0483:df11 SN 200364500000 @1-[45]/);
        expect(error.hint).toMatch(/usb\.serial and usb\.portPath/);
      }
    } finally {
      await rig.close();
    }
  });

  it('never takes another board for its own: a different serial is named, not used', async () => {
    app.onDfuJump = () => { startSimulatedBootloader(clock, userUsb, { serialNumber: '3000AAAA0000' }); };
    const rig = await createNucleoH745Rig(rigConfig(), context(), options());
    try {
      const error = await rig.enterDfu('console-jump', { timeoutMs: 500 }).catch((e: unknown) => e) as UsbError;
      expect(error).toBeInstanceOf(UsbError);
      expect(classifyFailure(error)).toBe('test');
      expect(error.message).toMatch(/no device matching 0483:df11 SN 200364500000 @1-4 appeared within 500 ms; other DFU devices present: 0483:df11 SN 3000AAAA0000 @1-4/);
      expect(error.hint).toMatch(/Another board is in DFU mode/);
    } finally {
      await rig.close();
    }
  });

  it('enters through the probe (magic word, then SYSRESETREQ) and reads GPIO through it in one run', async () => {
    const runner = new ScriptedRunner((file, args) => openocdAnswer(args, () => app.onDfuJump()));
    const config = rigConfig({ probe: { tool: 'openocd', serial: 'STLINK1' }, entry: { 'console-jump': null, probe: null } });
    const rig = await createNucleoH745Rig(config, context(), options({ runner }));
    try {
      const snapshot = await rig.probeGpioSnapshot();
      expect(snapshot.A).toEqual(gpioOf(0));
      expect(snapshot.K).toEqual(gpioOf(10));
      expect(await rig.gpioSnapshot()).toEqual(snapshot);
      expect(runner.calls).toHaveLength(1);

      await rig.enterDfu('probe');
      const scripts = runner.calls.slice(1).map((c) => c.args.at(-1));
      expect(scripts).toEqual([
        `init; targets stm32h7x.cpu0; write_memory 0x${DFU_ENTRY_MAGIC_ADDRESS.toString(16)} 32 {0x30554644 0x1ff09800}; shutdown`,
        'init; targets stm32h7x.cpu0; mww 0xe000ed0c 0x05fa0004; shutdown',
      ]);
      expect(runner.calls[1]!.args.slice(0, 4)).toEqual(['-f', 'board/st_nucleo_h745zi.cfg', '-c', 'adapter serial STLINK1']);
      expect(rig.trace.probe!.since(0)).toHaveLength(3);
    } finally {
      await rig.close();
    }
  });

  it('does not offer the probe entry with st-flash, and says why', async () => {
    const config = rigConfig({ probe: { tool: 'st-flash' }, entry: { 'console-jump': null, probe: null } });
    const rig = await createNucleoH745Rig(config, context(), options());
    try {
      expect(rig.capabilities.entryMethods).toEqual(['console-jump']);
      expect(warnings.join('\n')).toMatch(/st-flash cannot/);
      await expect(rig.enterDfu('probe')).rejects.toBeInstanceOf(RigCapabilityMissing);
    } finally {
      await rig.close();
    }
  });

  it('power-cycles through uhubctl and gets the console back after the ST-LINK port vanished', async () => {
    const runner = new ScriptedRunner((file, args) => {
      if (file !== 'uhubctl') return { exitCode: 1 };
      failOpens = 2; // the VCP takes a moment to come back
      app.boot(); // the READY goes out while nobody listens
      return uhubctlAnswer(args);
    });
    const rig = await createNucleoH745Rig(rigConfig({ power: { uhubctl: { location: '1-1', port: 2 } } }), context(), options({ runner }));
    try {
      const held = rig.console;
      await rig.powerCycle();
      expect(runner.calls[0]).toEqual({ file: 'uhubctl', args: ['-l', '1-1', '-p', '2', '-a', 'cycle', '-d', '1'] });
      expect(opens).toBe(4);
      // A console taken before the power cycle talks to the reopened port, not to the dead one.
      expect(rig.console).toBe(held);
      expect(await held.version()).toEqual({ name: 'dfu-hil-test-app', version: '1.0.0' });
      // The banner was missed; `version` proves the application is up.
      expect(await rig.waitForApp(300)).toMatchObject({ name: 'dfu-hil-test-app', version: '1.0.0' });
      expect(rig.trace.console.list().some((e) => e.direction === 'event' && /reopened \(attempt 3/.test(e.text))).toBe(true);
    } finally {
      await rig.close();
    }
  });

  it('reopens the console when the port vanished between commands', async () => {
    const rig = await createNucleoH745Rig(rigConfig(), context(), options());
    try {
      await rig.console.close(); // what a vanished port looks like to TestAppConsole
      failOpens = 1;
      expect((await rig.gpioSnapshot()).C).toEqual(gpioOf(2));
      expect(opens).toBe(3);
    } finally {
      await rig.close();
    }
  });

  it('boot0-jumper entry power-cycles the board into the ROM', async () => {
    const runner = new ScriptedRunner((_file, args) => { app.onDfuJump(); return uhubctlAnswer(args); });
    const config = rigConfig({ entry: { 'boot0-jumper': { uhubctl: { location: '1-1', port: 2 } } } });
    const rig = await createNucleoH745Rig(config, context(), options({ runner }));
    try {
      expect(await rig.enterDfu('boot0-jumper')).toMatchObject({ method: 'boot0-jumper', serialNumber: DFU_SERIAL });
      expect(runner.calls.map((c) => c.file)).toEqual(['uhubctl']);
    } finally {
      await rig.close();
    }
  });

  it('recovers over SWD: mass erase, program the image and the CM4 image, NRST, READY', async () => {
    const runner = new ScriptedRunner((_file, args) => {
      const script = args.at(-1)!;
      if (script.includes('reset run')) app.boot();
      return { stdout: script.includes('program') ? '** Programming Finished **\n** Verified OK **' : 'shutdown command invoked' };
    });
    const config = rigConfig({ probe: { tool: 'openocd' } });
    const images = syntheticReferenceImages();
    const rig = await createNucleoH745Rig(config, context(), options({ runner, images }));
    try {
      await rig.recover();
      const scripts = runner.calls.map((c) => c.args.at(-1)!);
      expect(scripts[0]).toMatch(/flash erase_sector stm32h7x\.bank1\.cpu0 0 last; flash erase_sector stm32h7x\.bank2\.cpu0 0 last/);
      const programs = scripts.filter((s) => s.includes('program'));
      expect(programs).toHaveLength(images.appA.segments.length + images.cm4.segments.length);
      expect(scripts.at(-1)).toMatch(/reset run/);
    } finally {
      await rig.close();
    }
  });

  it('surfaces a probe failure with the tool output kept in the trace', async () => {
    const runner = new ScriptedRunner(() => ({ exitCode: 1, stderr: 'Open On-Chip Debugger 0.12.0\nError: open failed\n' }));
    const rig = await createNucleoH745Rig(rigConfig({ probe: { tool: 'openocd' } }), context(), options({ runner }));
    try {
      await expect(rig.reset()).rejects.toBeInstanceOf(ProbeError);
      expect(rig.trace.probe!.since(0)[0]!.output).toContain('Error: open failed');
      expect(rig.trace.steps.at(-1)).toMatchObject({ outcome: 'failed' });
    } finally {
      await rig.close();
    }
  });

  it('resets through the console when there is no probe', async () => {
    const rig = await createNucleoH745Rig(rigConfig(), context(), options());
    try {
      await rig.reset();
      expect(app.received).toEqual(['reset']);
      await expect(rig.waitForApp()).resolves.toMatchObject({ name: 'dfu-hil-test-app' });
      await expect(rig.powerCycle()).rejects.toBeInstanceOf(RigCapabilityMissing);
      await expect(rig.recover()).rejects.toBeInstanceOf(RigCapabilityMissing);
    } finally {
      await rig.close();
    }
  });

  it('holds the rig lease from before the console opens until close', async () => {
    const rig = await createNucleoH745Rig(rigConfig(), context(), options());
    await expect(createNucleoH745Rig(rigConfig(), context(), options())).rejects.toBeInstanceOf(RigLockBusyError);
    expect(opens).toBe(1); // the second rig never touched the console
    await rig.close();
    const again = await createNucleoH745Rig(rigConfig(), context(), options());
    await again.close();
  });

  it('stops touching the board once its lease is taken: steps, console and USB fail as infrastructure', async () => {
    const rig = await createNucleoH745Rig(rigConfig(), context(), options());
    try {
      await rig.enterDfu('console-jump');
      // Another run takes the rig over (this one stalled past its TTL, say).
      const holderFile = path.join(lockDir, 'bench-t.holder.json');
      const holder = JSON.parse(await readFile(holderFile, 'utf8')) as Record<string, unknown>;
      await writeFile(holderFile, JSON.stringify({ ...holder, leaseId: 'someone-else', pid: 4242, host: 'other-host' }));
      const usbMark = rig.trace.usb.mark();
      const sent = app.received.length;
      const error = await rig.flash({ source: 'tiny.bin', segments: [{ address: 0x08000000, data: new Uint8Array(64) }] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RigLockLostError);
      expect(classifyFailure(error)).toBe('infrastructure');
      expect((error as Error).message).toBe('lost the lease on rig "bench-t": taken over: held by ' + `${String(holder.user)}@other-host pid 4242, since ${String(holder.startedAt)}`);
      await expect(rig.console.version()).rejects.toBeInstanceOf(RigLockLostError);
      await expect(rig.bootloaderPresent()).rejects.toBeInstanceOf(RigLockLostError);
      expect(rig.trace.usb.since(usbMark)).toEqual([]);
      expect(app.received.length).toBe(sent);
    } finally {
      await rig.close();
    }
  });

  it('waits for a banner of its own firmware on a port of its own, and names that port and what came when it does not come', async () => {
    const streams = new Map<string, PassThrough>();
    const closed: string[] = [];
    const openSerialStream = (p: string): PassThrough & { close(cb?: (e: Error | null) => void): void } => {
      const stream = Object.assign(new PassThrough(), { close(cb?: (e: Error | null) => void) { closed.push(p); cb?.(null); } });
      streams.set(p, stream);
      return stream;
    };
    const config = rigConfig({ appReady: { banner: '^sensor (?<version>\\S+) ready$', port: '/dev/ttyUSB7', baud: 921600 } });
    const rig = await createNucleoH745Rig(config, context(), options({ openSerialStream }));
    try {
      const port = streams.get('/dev/ttyUSB7')!;
      await rig.reset();
      clock.setTimer(40, () => port.write('boot 1\r\nsensor 3.2.1 ready\r\n'));
      const up = await rig.waitForApp();
      expect(up).toMatchObject({ form: 'console-banner', version: '3.2.1', evidence: 'sensor 3.2.1 ready' });
      expect(up.afterMs).toBeGreaterThanOrEqual(40);
      // The test application's READY on the console is not this rig's banner.
      await rig.reset();
      const error = await rig.waitForApp(100).catch((e: unknown) => e) as Error;
      expect(error).toMatchObject({ code: 'app-not-ready', form: 'console-banner' });
      expect(error.message).toBe('no line matching /^sensor (?<version>\\S+) ready$/ on /dev/ttyUSB7 within 100 ms; nothing arrived (appReady: console-banner)');
    } finally {
      await rig.close();
    }
    expect(closed).toEqual(['/dev/ttyUSB7']);
  });

  it('gives the lease back when opening the console fails', async () => {
    failOpens = 1;
    await expect(createNucleoH745Rig(rigConfig(), context(), options())).rejects.toThrow(/ENOENT/);
    const rig = await createNucleoH745Rig(rigConfig(), context(), options());
    await rig.close();
  });

  it('refuses a rig identified only by placeholders', async () => {
    await expect(createNucleoH745Rig(rigConfig({ usb: { serial: 'REPLACE-WITH-DFU-SERIAL' } }), context(), options()))
      .rejects.toMatchObject({ code: 'rig-config' });
    expect(opens).toBe(0);
  });

  it('uses a lease its caller holds (the CLI leases before calling the factory), and leaves it held on close', async () => {
    const outer = await acquireRigLease({ rig: 'bench-t', dir: lockDir });
    try {
      let acquired = 0;
      const rig = await createNucleoH745Rig(rigConfig(), { ...context(), lease: outer }, options({ acquireLease: async (rig) => { acquired++; return acquireRigLease({ rig, dir: lockDir }); } }));
      await rig.close();
      expect(acquired).toBe(0);
      expect(outer.held).toBe(true);
      await expect(acquireRigLease({ rig: 'bench-t', dir: lockDir })).rejects.toBeInstanceOf(RigLockBusyError);
    } finally {
      await outer.release();
    }
  });
});
