// The host's client for the test application's console: one command at a time, every line
// logged with a timestamp, noise ignored, and a target that reboots mid-command reported as
// such rather than as a timeout. The port stays open across target resets (the ST-LINK's
// virtual COM port does not go away when the STM32 resets).
import type { Duplex, TransformCallback } from 'node:stream';
import type { BindingInterface } from '@serialport/bindings-interface' with { 'resolution-mode': 'require' };
import { ReadlineParser } from '@serialport/parser-readline';
import type { Clock, TimerHandle } from '../clock/clock.js';
import { DfuHilError } from '../errors.js';
import { ConsoleLog } from './console-log.js';
import {
  collectSnapshot, formatCommand, type BootLine, type ConsoleCommand, type DeviceLine, type GpioSnapshot,
  parseDeviceLine,
} from './console-protocol.js';

/** What went wrong on the console. */
export type ConsoleFailure = 'device-error' | 'timeout' | 'target-reset' | 'port-closed' | 'open-failed' | 'protocol' | 'usage';

const HINTS: Record<ConsoleFailure, string> = {
  'device-error': 'The test application refused the command; see its reason. Check the command and the firmware version (`version`).',
  timeout: 'Check that the test application is running (not the bootloader or a crashed image), and that the rig\'s console path and baud rate are right. The console log in the test report shows every line seen.',
  'target-reset': 'The board rebooted while a command was waiting for its answer: look for a watchdog, a hard fault or a brown-out, and at the BOOT line\'s cause after this.',
  'port-closed': 'The serial port went away. Check the ST-LINK USB cable and hub; re-plugging may give it a new /dev name, so use /dev/serial/by-id/... paths in rigs.yaml.',
  'open-failed': 'Check the console path in rigs.yaml (`ls -l /dev/serial/by-id/`), that you are in the "dialout" group, and that no other program (a terminal, another test run) holds the port.',
  protocol: 'The device\'s answer does not follow docs/console-protocol.md. Check that the firmware and the harness are from the same version.',
  usage: 'This is a mistake in the calling code: see docs/console-protocol.md for the commands and their arguments.',
};

/** A console failure: a device ERR, a timeout, a reboot mid-command, a lost port. */
export class ConsoleError extends DfuHilError {
  readonly failure: ConsoleFailure;
  /** The command being run, if any. */
  readonly command: string | undefined;
  /** The last device lines seen, oldest first. */
  readonly lastLines: readonly string[];

  constructor(failure: ConsoleFailure, message: string, options: { command?: string; lastLines?: string[]; cause?: unknown } = {}) {
    // A port that cannot be opened or went away is the bench's failure; the rest is the board's.
    super(`console-${failure}`, message, {
      hint: HINTS[failure], cause: options.cause,
      failureClass: failure === 'open-failed' || failure === 'port-closed' ? 'infrastructure' : 'test',
    });
    this.failure = failure;
    this.command = options.command;
    this.lastLines = options.lastLines ?? [];
  }
}

/** The READY banner the application prints after every boot. */
export interface ReadyBanner {
  name: string;
  version: string;
  /** Clock time it arrived. */
  t: number;
}

/** The answer to `boot`: how the application was entered, and GPIO before any init. */
export interface BootReport extends BootLine {
  pre: GpioSnapshot;
}

/** A serial stream: `SerialPortStream` with an injected binding, or `serialport`'s `SerialPort`. */
export type ConsoleStream = Duplex & { close?(callback?: (error: Error | null) => void): void };

/** Options for {@link TestAppConsole}. */
export interface TestAppConsoleOptions {
  clock: Clock;
  /** Shared with the test report; a new one if not given. */
  log?: ConsoleLog;
  /** Default deadline for one command's answer. */
  commandTimeoutMs?: number;
  /** Names the port in messages, e.g. its path. */
  name?: string;
}

interface PendingCommand {
  text: string;
  lines: DeviceLine[];
  sentAt: number;
  settle(result: { lines: DeviceLine[] } | { error: ConsoleError }): void;
}

interface ReadyWaiter {
  after: number;
  resolve(banner: ReadyBanner): void;
  reject(error: ConsoleError): void;
}

/** Longest line kept before the buffer is flushed as noise (garbage without line ends). */
const MAX_LINE = 4096;
const LAST_LINES = 5;

/**
 * serialport's line parser with a bound: the parser keeps a line until its end arrives, however
 * long, so garbage without line ends (a UART glitching) is let through as one line once it passes
 * MAX_LINE. What is left unterminated when the port closes is not a line: it goes to
 * 'unterminated' instead. latin1 keeps every byte as one character, so noise (0x00, 0xFF) is
 * seen as it came.
 */
class ConsoleLineParser extends ReadlineParser {
  constructor() {
    super({ delimiter: '\n', encoding: 'latin1' });
  }

  override _transform(chunk: Buffer, encoding: BufferEncoding, callback: TransformCallback): void {
    super._transform(chunk, encoding, (error) => {
      if (!error && this.buffer.length > MAX_LINE) {
        const garbage = this.buffer;
        this.buffer = Buffer.alloc(0);
        this.push(garbage);
      }
      callback(error);
    });
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.buffer;
    this.buffer = Buffer.alloc(0);
    if (rest.length > 0) this.emit('unterminated', rest.toString('latin1'));
    callback();
  }
}

/**
 * What the rig, the fixtures and the specs use of the test application's console: one port's
 * {@link TestAppConsole}, or a rig's view that follows the port when it is reopened.
 */
export interface AppConsole {
  readonly log: ConsoleLog;
  readonly name: string;
  /** The last READY banner seen, if any. */
  readonly ready: ReadyBanner | undefined;
  /** A log position; pass it as `after` to {@link waitForReady} to wait for a boot that follows it. */
  mark(): number;
  /** Resolves with a READY banner that arrived after `after` (default: after the last command sent). */
  waitForReady(timeoutMs: number, options?: { after?: number }): Promise<ReadyBanner>;
  /** Sends one command and resolves with its data lines once `OK` arrives. */
  command(text: string, timeoutMs?: number): Promise<DeviceLine[]>;
  /**
   * Sends one line of another protocol (a team's own firmware) and resolves once it is written,
   * waiting for no answer: what the application does with it is for the caller to see.
   */
  sendLine(text: string): Promise<void>;
  /** `version`: the application's name and version. */
  version(): Promise<{ name: string; version: string }>;
  /** `boot`: reset cause, entry, RSR, CM4 state, ECC count and the GPIO registers before init. */
  boot(): Promise<BootReport>;
  /** `gpio`: the GPIO registers of ports A..K now. */
  gpio(): Promise<GpioSnapshot>;
  /** `pin <Pxn> <0|1>`: drives a pin as a push-pull output. */
  pin(pin: string, level: 0 | 1): Promise<void>;
  /** `dfu jump`: magic word, software reset, early jump to the bootloader. */
  dfuJump(): Promise<void>;
  /** `dfu direct`: de-initialisation and a jump to the bootloader without a reset. */
  dfuDirect(): Promise<void>;
  /** `dfu rc [delay_ms]`: charges the BOOT0 RC circuit, waits `delayMs`, then a software reset. */
  dfuRc(delayMs?: number): Promise<void>;
  /** `reset`: a software reset; resolves with the READY banner of the new boot. */
  reset(readyTimeoutMs?: number): Promise<ReadyBanner>;
  /** Closes the port. */
  close(): Promise<void>;
}

/** The test application's console, over any serial stream. */
export class TestAppConsole implements AppConsole {
  readonly log: ConsoleLog;
  readonly name: string;
  private readonly clock: Clock;
  private readonly commandTimeoutMs: number;
  private readonly lines = new ConsoleLineParser();
  private pending: PendingCommand | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly readyWaiters = new Set<ReadyWaiter>();
  private lastReady: (ReadyBanner & { index: number }) | undefined;
  private lastTxIndex = 0;
  private closedBy: ConsoleError | undefined;
  private readonly onLine = (line: string): void => {
    // The console protocol ends lines with \r\n; a bare \n is taken too.
    const text = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (text.length > 0) this.handleLine(text);
  };
  private readonly onUnterminated = (text: string): void => {
    this.log.record({ t: this.clock.now(), direction: 'rx', text: escapeNoise(text), noise: true });
  };
  private readonly onClose = (): void => this.lose(new ConsoleError('port-closed', `console ${this.name} closed`));
  private readonly onError = (error: Error): void => {
    this.event(`port error: ${error.message}`);
    this.lose(new ConsoleError('port-closed', `console ${this.name} failed: ${error.message}`, { cause: error }));
  };

  constructor(private readonly stream: ConsoleStream, options: TestAppConsoleOptions) {
    this.clock = options.clock;
    this.log = options.log ?? new ConsoleLog();
    this.commandTimeoutMs = options.commandTimeoutMs ?? 2_000;
    this.name = options.name ?? 'console';
    this.lines.on('data', this.onLine);
    this.lines.on('unterminated', this.onUnterminated);
    stream.pipe(this.lines);
    stream.on('close', this.onClose);
    stream.on('error', this.onError);
  }

  /** A log position; pass it as `after` to {@link waitForReady} to wait for a boot that follows it. */
  mark(): number {
    return this.log.mark();
  }

  /** The last READY banner seen, if any. */
  get ready(): ReadyBanner | undefined {
    if (!this.lastReady) return undefined;
    const { name, version, t } = this.lastReady;
    return { name, version, t };
  }

  /**
   * Resolves with a READY banner that arrived after `after` (default: after the last command
   * sent), including one that has already arrived.
   */
  waitForReady(timeoutMs: number, options: { after?: number } = {}): Promise<ReadyBanner> {
    const after = options.after ?? this.lastTxIndex;
    if (this.lastReady && this.lastReady.index >= after) return Promise.resolve(this.ready!);
    if (this.closedBy) return Promise.reject(this.closedBy);
    return new Promise<ReadyBanner>((resolve, reject) => {
      const waiter: ReadyWaiter = {
        after,
        resolve: (banner) => { timer.cancel(); this.readyWaiters.delete(waiter); resolve(banner); },
        reject: (error) => { timer.cancel(); this.readyWaiters.delete(waiter); reject(error); },
      };
      this.readyWaiters.add(waiter);
      const timer: TimerHandle = this.clock.setTimer(timeoutMs, () => {
        this.event(`no READY within ${timeoutMs} ms`);
        waiter.reject(new ConsoleError('timeout', `no READY banner on ${this.name} within ${timeoutMs} ms; ${this.describeLast(after)}`, { lastLines: this.log.lastReceived(LAST_LINES) }));
      });
    });
  }

  /**
   * Sends one command and resolves with its data lines once `OK` arrives. Commands queue: the
   * next is sent only when the previous one has its answer.
   */
  command(text: string, timeoutMs = this.commandTimeoutMs): Promise<DeviceLine[]> {
    const run = this.queue.then(() => this.send(text, timeoutMs));
    this.queue = run.catch(() => undefined);
    return run;
  }

  sendLine(text: string): Promise<void> {
    const run = this.queue.then(() => this.write(text));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** `version`: the application's name and version. */
  async version(): Promise<{ name: string; version: string }> {
    const lines = await this.command('version');
    const line = lines.find((l) => l.kind === 'version');
    if (!line) throw this.protocolError('version', 'no VERSION line before OK');
    return { name: line.name, version: line.version };
  }

  /** `boot`: reset cause, entry, RSR, CM4 state, ECC count and the GPIO registers before init. */
  async boot(): Promise<BootReport> {
    const lines = await this.command('boot');
    const boot = lines.find((l) => l.kind === 'boot');
    if (!boot) throw this.protocolError('boot', 'no BOOT line before OK');
    const { snapshot, missing } = collectSnapshot(lines, 'pre');
    if (missing.length > 0) throw this.protocolError('boot', `no PRE line for port${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    const { kind: _kind, ...fields } = boot;
    return { ...fields, pre: snapshot };
  }

  /** `gpio`: the GPIO registers of ports A..K now. */
  async gpio(): Promise<GpioSnapshot> {
    const lines = await this.command('gpio');
    const { snapshot, missing } = collectSnapshot(lines, 'gpio');
    if (missing.length > 0) throw this.protocolError('gpio', `no GPIO line for port${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
    return snapshot;
  }

  /** `pin <Pxn> <0|1>`: drives a pin as a push-pull output. */
  async pin(pin: string, level: 0 | 1): Promise<void> {
    await this.typed({ verb: 'pin', pin, level });
  }

  /** `dfu jump`: magic word, software reset, early jump to the bootloader. The console goes quiet. */
  async dfuJump(): Promise<void> {
    await this.typed({ verb: 'dfu-jump' });
  }

  /** `dfu direct`: de-initialisation and a jump to the bootloader without a reset. */
  async dfuDirect(): Promise<void> {
    await this.typed({ verb: 'dfu-direct' });
  }

  /** `dfu rc [delay_ms]`: charges the BOOT0 RC circuit, waits `delayMs`, then a software reset. */
  async dfuRc(delayMs?: number): Promise<void> {
    await this.typed(delayMs === undefined ? { verb: 'dfu-rc' } : { verb: 'dfu-rc', delayMs });
  }

  /** `reset`: a software reset; resolves with the READY banner of the new boot. */
  async reset(readyTimeoutMs = 5_000): Promise<ReadyBanner> {
    await this.command('reset');
    return this.waitForReady(readyTimeoutMs);
  }

  /** Fails anything waiting, stops listening and closes the port. */
  async close(): Promise<void> {
    this.lose(new ConsoleError('port-closed', `console ${this.name} was closed by the harness`));
    this.stream.unpipe(this.lines);
    this.lines.off('data', this.onLine);
    this.lines.end();
    this.stream.off('close', this.onClose);
    this.stream.off('error', this.onError);
    // Late errors from a port being torn down must not crash the process.
    this.stream.on('error', () => undefined);
    const close = this.stream.close?.bind(this.stream);
    if (close) {
      await new Promise<void>((resolve) => close(() => resolve()));
    } else {
      this.stream.destroy();
    }
  }

  private async typed(command: ConsoleCommand): Promise<DeviceLine[]> {
    let text: string;
    try {
      text = formatCommand(command);
    } catch (error) {
      throw new ConsoleError('usage', (error as Error).message, { cause: error });
    }
    return this.command(text);
  }

  private write(text: string): Promise<void> {
    if (/[\r\n]/.test(text)) return Promise.reject(new ConsoleError('usage', `a console line is one line; got ${JSON.stringify(text)}`));
    if (this.closedBy) return Promise.reject(this.closedBy);
    this.lastTxIndex = this.log.mark();
    this.log.record({ t: this.clock.now(), direction: 'tx', text });
    return new Promise<void>((resolve, reject) => {
      this.stream.write(`${text}\n`, (error) => {
        if (error) reject(new ConsoleError('port-closed', `cannot write "${text}" to ${this.name}: ${error.message}`, { command: text, cause: error }));
        else resolve();
      });
    });
  }

  private send(text: string, timeoutMs: number): Promise<DeviceLine[]> {
    if (/[\r\n]/.test(text)) return Promise.reject(new ConsoleError('usage', `a console command is one line; got ${JSON.stringify(text)}`));
    if (this.closedBy) return Promise.reject(this.closedBy);
    return new Promise<DeviceLine[]>((resolve, reject) => {
      const pending: PendingCommand = {
        text,
        lines: [],
        sentAt: this.clock.now(),
        settle: (result) => {
          if (this.pending !== pending) return;
          this.pending = undefined;
          timer.cancel();
          if ('error' in result) reject(result.error); else resolve(result.lines);
        },
      };
      this.pending = pending;
      this.lastTxIndex = this.log.mark();
      this.log.record({ t: this.clock.now(), direction: 'tx', text });
      const index = this.lastTxIndex;
      const timer: TimerHandle = this.clock.setTimer(timeoutMs, () => {
        this.event(`no answer to "${text}" within ${timeoutMs} ms`);
        pending.settle({
          error: new ConsoleError('timeout', `no answer to "${text}" on ${this.name} within ${timeoutMs} ms; ${this.describeLast(index)}`, {
            command: text, lastLines: this.log.lastReceived(LAST_LINES),
          }),
        });
      });
      this.stream.write(`${text}\n`, (error) => {
        if (error) pending.settle({ error: new ConsoleError('port-closed', `cannot write "${text}" to ${this.name}: ${error.message}`, { command: text, cause: error }) });
      });
    });
  }

  /**
   * One received line, after line noise is dealt with: non-printable bytes (a UART glitching at
   * power-up or reset sends 0x00 and 0xFF) are dropped, and garbage that arrived without a line
   * end of its own is cut off where a protocol line starts (READY, OK, …), so the line behind
   * it still counts. What was dropped is logged as noise.
   */
  private handleLine(raw: string): void {
    const { line: text, noise } = resynchronise(raw);
    if (noise !== '') this.log.record({ t: this.clock.now(), direction: 'rx', text: noise, noise: true });
    if (text === '') return;
    const line = parseDeviceLine(text);
    const index = this.log.mark();
    const t = this.clock.now();
    this.log.record({ t, direction: 'rx', text, ...(line.kind === 'noise' ? { noise: true } : {}) });
    switch (line.kind) {
      case 'noise':
        return;
      case 'ready': {
        this.lastReady = { name: line.name, version: line.version, t, index };
        const pending = this.pending;
        if (pending) {
          this.event(`target rebooted during "${pending.text}"`);
          pending.settle({
            error: new ConsoleError('target-reset', `the target rebooted (READY ${line.name} ${line.version}) while "${pending.text}" on ${this.name} waited for its answer`, {
              command: pending.text, lastLines: this.log.lastReceived(LAST_LINES),
            }),
          });
        }
        for (const waiter of [...this.readyWaiters]) if (index >= waiter.after) waiter.resolve(this.ready!);
        return;
      }
      case 'ok':
        this.pending?.settle({ lines: this.pending.lines });
        return;
      case 'err': {
        const pending = this.pending;
        pending?.settle({
          error: new ConsoleError('device-error', `the test application answered "${text}" to "${pending.text}" on ${this.name}`, {
            command: pending.text, lastLines: this.log.lastReceived(LAST_LINES),
          }),
        });
        return;
      }
      default:
        this.pending?.lines.push(line);
    }
  }

  private lose(error: ConsoleError): void {
    if (this.closedBy) return;
    this.closedBy = error;
    this.event(error.message);
    this.pending?.settle({ error });
    for (const waiter of [...this.readyWaiters]) waiter.reject(error);
  }

  private event(text: string): void {
    this.log.record({ t: this.clock.now(), direction: 'event', text });
  }

  private describeLast(after: number): string {
    const seen = this.log.since(after).filter((e) => e.direction === 'rx').slice(-LAST_LINES).map((e) => JSON.stringify(e.text));
    if (seen.length > 0) return `last lines seen: ${seen.join(', ')}`;
    const before = this.log.lastReceived(LAST_LINES).map((l) => JSON.stringify(l));
    return before.length > 0 ? `nothing received since; before that: ${before.join(', ')}` : 'nothing received at all';
  }

  private protocolError(command: string, problem: string): ConsoleError {
    return new ConsoleError('protocol', `bad answer to "${command}" on ${this.name}: ${problem}`, { command, lastLines: this.log.lastReceived(LAST_LINES) });
  }
}

/** Where a protocol line may start inside a line with garbage in front of it. */
const LINE_STARTS = /READY |VERSION |BOOT |PRE |GPIO |OK$|ERR(?: |$)/g;

/** "\x00\xFF" for bytes a log cannot show. */
function escapeNoise(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
}

/**
 * Splits a received line into the protocol line it carries (or '' when it carries none) and,
 * when it had noise in it, the line as received, escaped for the log. Printable garbage with
 * no protocol line in it is returned as the line, to be logged as the noise it parses as.
 */
export function resynchronise(raw: string): { line: string; noise: string } {
  const printable = raw.replace(/[^\x20-\x7e]/g, '');
  const dropped = printable.length !== raw.length;
  if (printable === '') return { line: '', noise: escapeNoise(raw) };
  if (parseDeviceLine(printable).kind !== 'noise') return { line: printable, noise: dropped ? escapeNoise(raw) : '' };
  for (const match of printable.matchAll(LINE_STARTS)) {
    const candidate = printable.slice(match.index);
    if (parseDeviceLine(candidate).kind !== 'noise') return { line: candidate, noise: escapeNoise(raw) };
  }
  return { line: dropped ? '' : printable, noise: dropped ? escapeNoise(raw) : '' };
}

/** Where and how to open a console port. */
export interface OpenConsoleOptions extends TestAppConsoleOptions {
  path: string;
  baudRate?: number;
  /** A serialport binding (the simulated board's, or a test double); the OS port when absent. */
  binding?: BindingInterface;
}

/** Opens a serial port (through `binding`, or the real one) and wraps it in a {@link TestAppConsole}. */
export async function openTestAppConsole(options: OpenConsoleOptions): Promise<TestAppConsole> {
  const { path, baudRate = 115_200, binding } = options;
  let stream: ConsoleStream;
  if (binding) {
    const { SerialPortStream } = await import('@serialport/stream');
    stream = new SerialPortStream({ binding, path, baudRate, autoOpen: false });
  } else {
    const { SerialPort } = await import('serialport');
    stream = new SerialPort({ path, baudRate, autoOpen: false });
  }
  const port = stream as ConsoleStream & { open(cb: (error: Error | null) => void): void };
  await new Promise<void>((resolve, reject) => {
    port.open((error) => {
      if (error) reject(new ConsoleError('open-failed', `cannot open console ${path} at ${baudRate} baud: ${error.message}`, { cause: error }));
      else resolve();
    });
  });
  return new TestAppConsole(stream, { ...options, name: options.name ?? path });
}
