import { DfuHilError, hex32 } from '../errors.js';

/** How a probe resets the target: NRST (a pin reset) or SYSRESETREQ (a software reset). */
export type ProbeResetKind = 'hardware' | 'system';

/** One probe command as recorded for the test report. */
export interface ProbeLogEntry {
  t: number;
  command: string;
  result: 'ok' | 'failed';
  detail?: string;
  /** The tool's exit code, for probes driven through a command-line tool. */
  exitCode?: number;
  /** What the tool printed (stdout and stderr interleaved), for the report. */
  output?: string;
}

/** Every command a probe ran, in order. */
export class ProbeLog {
  private readonly entries: ProbeLogEntry[] = [];

  record(entry: ProbeLogEntry): void {
    this.entries.push(entry);
  }

  /** A position to pass to {@link since}. */
  mark(): number {
    return this.entries.length;
  }

  since(index: number): ProbeLogEntry[] {
    return this.entries.slice(index);
  }

  /** One line per command, for reports. */
  format(entries: ProbeLogEntry[] = this.entries): string {
    return entries.map((e) => `${e.t.toFixed(3).padStart(12)} ms  ${e.result === 'ok' ? 'ok    ' : 'FAILED'}  ${e.command}${e.detail ? `  (${e.detail})` : ''}`).join('\n');
  }
}

/** A probe command failed. */
export class ProbeError extends DfuHilError {
  constructor(message: string, options: { hint?: string; cause?: unknown } = {}) {
    super('probe-failed', message, { hint: options.hint ?? 'Check the probe\'s USB cable and that no other tool (st-util, OpenOCD, CubeProgrammer) holds it.', cause: options.cause, failureClass: 'infrastructure' });
  }
}

/** A debug probe on the board's SWD port: what the rig needs for entry, GPIO reads and recovery. */
export interface DebugProbe {
  readonly log: ProbeLog;
  readMemory(address: number, length: number): Promise<Uint8Array>;
  writeMemory(address: number, bytes: Uint8Array): Promise<void>;
  reset(kind: ProbeResetKind): Promise<void>;
  /** Erases both flash banks over SWD (recovery when nothing bootable is left). */
  massErase(): Promise<void>;
  /** Programs flash over SWD; the sectors must be erased. */
  programFlash(address: number, bytes: Uint8Array): Promise<void>;
  /** Reads several ranges in one tool run where the tool allows it (each tool start costs ~0.5 s). */
  readRanges?(ranges: readonly ProbeRange[]): Promise<Uint8Array[]>;
}

/** A range of target memory. */
export interface ProbeRange {
  address: number;
  length: number;
}

/** Reads one little-endian 32-bit register through `probe`. */
export async function readRegister(probe: DebugProbe, address: number): Promise<number> {
  const bytes = await probe.readMemory(address, 4);
  return new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
}

/** Formats a memory command for the log. */
export function describeRange(verb: string, address: number, length: number): string {
  return `${verb} ${hex32(address)} +${length}`;
}
