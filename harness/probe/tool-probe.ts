// What the three command-line probe drivers share: run the tool through the injected runner,
// judge success from its output as well as its exit code (st-flash, OpenOCD and
// STM32_Programmer_CLI all have paths that print an error and still exit 0), keep every command
// and what it printed in the ProbeLog, and give temporary files a home.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { systemClock, type Clock } from '../clock/clock.js';
import { DfuHilError } from '../errors.js';
import { formatCommandLine, ToolMissingError, type CommandResult, type CommandRunner } from './command-runner.js';
import { ProbeError, ProbeLog, type DebugProbe, type ProbeRange, type ProbeResetKind } from './probe.js';

/** Options every command-line probe takes. */
export interface ToolProbeOptions {
  runner: CommandRunner;
  clock?: Clock;
  /** The probe's (ST-LINK's) serial number, so that the right one of several is used. */
  serial?: string;
  /** Deadline of one tool run (a mass erase of both banks takes tens of seconds). */
  timeoutMs?: number;
  /** The executable's name or path, when it is not the usual one on PATH. */
  executable?: string;
  /** Shared with the rig's trace; a new one if absent. */
  log?: ProbeLog;
  /** Where temporary image and read-back files go; default the OS temp directory. */
  tempDir?: string;
}

/** A line a tool prints when something went wrong, and what to do about it. */
export interface FailurePattern {
  pattern: RegExp;
  hint?: string;
}

/** The tool cannot do this at all: says which tool can. */
export class ProbeUnsupportedError extends DfuHilError {
  constructor(readonly tool: string, readonly operation: string, reason: string, hint: string) {
    super('probe-unsupported', `${tool} cannot ${operation}: ${reason}`, { hint });
  }
}

/** Output kept per log entry; a 2 MB read-back printed as hex would swamp the report. */
const MAX_LOGGED_OUTPUT = 16_384;

function clip(text: string): string {
  return text.length <= MAX_LOGGED_OUTPUT ? text : `${text.slice(0, MAX_LOGGED_OUTPUT)}\n… (${text.length - MAX_LOGGED_OUTPUT} more characters)`;
}

/** Strips ANSI colour sequences (STM32_Programmer_CLI colours its output even into a pipe). */
export function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');
}

/** Base of the st-flash, OpenOCD and STM32_Programmer_CLI drivers. */
export abstract class ToolProbe implements DebugProbe {
  readonly log: ProbeLog;
  protected readonly runner: CommandRunner;
  protected readonly clock: Clock;
  protected readonly serial: string | undefined;
  protected readonly timeoutMs: number;
  protected readonly executable: string;
  private readonly tempRoot: string;

  /** The tool's name as installed, e.g. `st-flash`; also the key of its install hint. */
  abstract readonly tool: string;

  protected constructor(defaultExecutable: string, options: ToolProbeOptions) {
    this.runner = options.runner;
    this.clock = options.clock ?? systemClock;
    this.serial = options.serial;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.executable = options.executable ?? defaultExecutable;
    this.log = options.log ?? new ProbeLog();
    this.tempRoot = options.tempDir ?? os.tmpdir();
  }

  abstract readMemory(address: number, length: number): Promise<Uint8Array>;
  abstract writeMemory(address: number, bytes: Uint8Array): Promise<void>;
  abstract reset(kind: ProbeResetKind): Promise<void>;
  abstract massErase(): Promise<void>;
  abstract programFlash(address: number, bytes: Uint8Array): Promise<void>;

  /** Lines that mean failure whatever the exit code, most specific first. */
  protected abstract failurePatterns(): readonly FailurePattern[];

  /**
   * Runs the tool once. Fails when it is missing, times out, exits non-zero, prints one of its
   * failure lines, or when `check` (looking for the line a success prints) returns a reason.
   */
  protected async exec(
    action: string,
    args: readonly string[],
    check?: (result: CommandResult, output: string) => string | undefined,
  ): Promise<CommandResult> {
    const t = this.clock.now();
    const commandLine = formatCommandLine(this.executable, args);
    const result = await this.runner.run(this.executable, args, { timeoutMs: this.timeoutMs });
    const output = stripAnsi(result.all || `${result.stdout}${result.stderr}`);
    const base = { t, command: `${action}: ${commandLine}`, output: clip(output), ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}) };

    if (result.notFound) {
      const error = new ToolMissingError(this.tool, `the rig's debug probe is driven with ${this.tool}`);
      this.log.record({ ...base, result: 'failed', detail: error.message });
      throw error;
    }
    let problem: string | undefined;
    let hint: string | undefined;
    if (result.timedOut) {
      problem = `did not finish within ${this.timeoutMs} ms`;
      hint = 'The probe or the target hung. Unplug and replug the ST-LINK, or raise timeouts.probeMs in rigs.yaml for long erases.';
    } else {
      const failure = this.findFailure(output);
      if (failure) {
        problem = result.exitCode === 0 ? `exited 0 but printed "${failure.line}"` : `failed (exit ${String(result.exitCode)}): "${failure.line}"`;
        hint = failure.hint;
      } else if (result.exitCode !== 0) {
        problem = `exited with code ${String(result.exitCode)}${lastLine(output) ? `; last line: "${lastLine(output)}"` : ''}`;
      } else {
        const reason = check?.(result, output);
        if (reason !== undefined) problem = `exited 0 but ${reason}`;
      }
    }
    if (problem !== undefined) {
      this.log.record({ ...base, result: 'failed', detail: problem });
      throw new ProbeError(`${this.tool} ${action} ${problem} (command: ${commandLine})`, hint ? { hint } : {});
    }
    this.log.record({ ...base, result: 'ok' });
    return result;
  }

  /** Runs `work` with a fresh temporary directory, removed afterwards. */
  protected async withTempDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(path.join(this.tempRoot, 'dfu-hil-probe-'));
    try {
      return await work(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private findFailure(output: string): { line: string; hint: string | undefined } | undefined {
    const lines = output.split(/\r?\n/);
    for (const { pattern, hint } of this.failurePatterns()) {
      const line = lines.find((l) => pattern.test(l));
      if (line !== undefined) return { line: line.trim(), hint };
    }
    return undefined;
  }
}

function lastLine(output: string): string | undefined {
  return output.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0).at(-1);
}

/** `0x08000000`, the form every tool accepts. */
export function hexAddress(value: number): string {
  return `0x${(value >>> 0).toString(16).padStart(8, '0')}`;
}

/** Widens [address, address+length) to whole 32-bit words, as the tools read. */
export function wordAligned(address: number, length: number): { start: number; length: number; skip: number } {
  const start = address - (address % 4);
  const end = Math.ceil((address + length) / 4) * 4;
  return { start, length: end - start, skip: address - start };
}

/** A requested range and the word-aligned span a 32-bit read must cover for it. */
export interface AlignedRange extends ProbeRange {
  span: { start: number; length: number; skip: number };
}

/** Each range widened to whole 32-bit words, as the tools read them. */
export function alignRanges(ranges: readonly ProbeRange[]): AlignedRange[] {
  return ranges.map((r) => ({ ...r, span: wordAligned(r.address, r.length) }));
}

/** Cuts the requested bytes out of the words a tool printed; a missing word is a typed error naming the tool. */
export function bytesFromWords(ranges: readonly AlignedRange[], words: ReadonlyMap<number, number>, tool: string): Uint8Array[] {
  return ranges.map(({ address, length, span }) => {
    const bytes = new Uint8Array(span.length);
    const view = new DataView(bytes.buffer);
    for (let off = 0; off < span.length; off += 4) {
      const word = words.get((span.start + off) >>> 0);
      if (word === undefined) throw new ProbeError(`${tool} printed no value for ${hexAddress(span.start + off)} (reading ${hexAddress(address)} +${length})`);
      view.setUint32(off, word, true);
    }
    return bytes.slice(span.skip, span.skip + length);
  });
}

/** The values a tool writes: 32-bit words when address and length allow, else bytes. */
export function writeValues(address: number, bytes: Uint8Array): { width: 32 | 8; values: string[] } {
  if (address % 4 === 0 && bytes.length % 4 === 0) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    const values: string[] = [];
    for (let off = 0; off < bytes.length; off += 4) values.push(hexAddress(view.getUint32(off, true)));
    return { width: 32, values };
  }
  return { width: 8, values: Array.from(bytes, (b) => `0x${b.toString(16).padStart(2, '0')}`) };
}
