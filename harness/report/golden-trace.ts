// Golden USB traces: a test's transfer trace reduced to what the bootloader and the host decide,
// so that a run can be compared line by line with a committed recording. What is kept and what
// is dropped (docs/ci.md, "Golden traces"):
//
//   dropped   timestamps (virtual on simulated rigs, wall-clock and jittery on hardware);
//             the bus address and port path (they change with every re-enumeration and bench):
//             devices become dev1, dev2, … in the order the test first meets them;
//             repeated GETSTATUS while the device stays in dfuDNBUSY: how often the host polls
//             depends on how long a real erase takes, so only the first busy answer is kept
//   kept      every request with its setup fields and result, attaches and detaches, the
//             decoded GETSTATUS answer (status, state, bwPollTimeout), the decoded DfuSe
//             command of DNLOAD wValue 0, and the leading data bytes of other transfers
import { diffArrays } from 'diff';
import {
  decodeDfuseCommand, decodeStatus, DfuRequest, dfuRequestNamer, DfuState, formatDfuseCommand, formatStatus,
} from '../dfu/protocol.js';
import { RequestKind } from '../usb/spec.js';
import type { TraceEntry } from '../usb/trace.js';

/** A test, as named in golden files: its spec file and its title (describe blocks, then the test). */
export interface TraceTestId {
  /** Path of the spec file, e.g. `specs/leave.spec.ts`; only its name is used for the folder. */
  specFile: string;
  title: readonly string[];
}

function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function isDfuClass(entry: TraceEntry): boolean {
  return entry.setup !== undefined && (entry.setup.bmRequestType & 0x60) === RequestKind.Class;
}

function isGetStatus(entry: TraceEntry): boolean {
  return entry.kind === 'control' && isDfuClass(entry) && entry.setup!.bRequest === DfuRequest.GetStatus;
}

/** The state a GETSTATUS answered, when it answered. */
function answeredState(entry: TraceEntry): DfuState | undefined {
  if (!isGetStatus(entry) || entry.result !== 'ok' || !entry.data) return undefined;
  return decodeStatus(entry.data)?.state;
}

function detail(entry: TraceEntry): string {
  const s = entry.setup!;
  const data = entry.data && entry.data.length > 0 ? entry.data : undefined;
  if (!data) return '';
  if (isDfuClass(entry) && s.bRequest === DfuRequest.GetStatus) {
    const status = decodeStatus(data);
    if (status) return `  ${formatStatus(status)} poll=${status.pollTimeoutMs}ms${status.iString !== 0 ? ` iString=${status.iString}` : ''}`;
  }
  if (isDfuClass(entry) && s.bRequest === DfuRequest.Dnload && s.wValue === 0) {
    return `  ${formatDfuseCommand(decodeDfuseCommand(data.slice(0, s.wLength)))}`;
  }
  return `  [${hexBytes(data)}${(entry.length ?? data.length) > data.length ? ' …' : ''}]`;
}

/**
 * The protocol-relevant lines of a test's USB trace (see the top of this file for the rules):
 * the same test on the same bootloader gives the same lines, whatever the bench or the timing.
 */
export function normaliseTrace(entries: readonly TraceEntry[]): string[] {
  const devices = new Map<string, string>();
  const deviceName = (label: string): string => {
    let name = devices.get(label);
    if (name === undefined) {
      name = `dev${devices.size + 1}`;
      devices.set(label, name);
    }
    return name;
  };
  const lines: string[] = [];
  let previous: TraceEntry | undefined;
  for (const entry of entries) {
    const busyAgain = answeredState(entry) === DfuState.DfuDnbusy && previous !== undefined
      && previous.device === entry.device && answeredState(previous) === DfuState.DfuDnbusy;
    previous = entry;
    if (busyAgain) continue;
    const device = deviceName(entry.device);
    if (entry.kind !== 'control' || !entry.setup) {
      lines.push(`${device}  ${entry.kind.toUpperCase()}  ${entry.result}`);
      continue;
    }
    const s = entry.setup;
    const direction = s.bmRequestType & 0x80 ? 'IN ' : 'OUT';
    const name = dfuRequestNamer(s) ?? `req 0x${s.bRequest.toString(16).padStart(2, '0')}`;
    const fields = `type=${s.bmRequestType.toString(16).padStart(2, '0')} value=${s.wValue} index=${s.wIndex} len=${s.wLength}`;
    lines.push(`${device}  ${direction} ${name.padEnd(13)} ${fields}${detail(entry)}  -> ${entry.result}`);
  }
  return lines;
}

/** The request a normalised line is about: "GETSTATUS", "DNLOAD(cmd)", "ATTACH". */
export function requestOfLine(line: string): string {
  const words = line.trim().split(/\s+/);
  return (words[1] === 'IN' || words[1] === 'OUT' ? words[2] : words[1]) ?? line;
}

/** One place where a run's trace differs from its golden. */
export interface TraceChange {
  /** 1-based line in the golden trace where the change starts (the line it is inserted before, for additions). */
  expectedLine: number;
  /** 1-based line in the actual trace where the change starts. */
  actualLine: number;
  /** The last line both traces share before the change, for orientation. */
  after: string | undefined;
  /** Golden lines that the run did not produce (removed or changed). */
  expected: string[];
  /** Lines the run produced instead (added or changed). */
  actual: string[];
  /** The requests the change concerns, in order, without repeats. */
  requests: string[];
}

/** Where two normalised traces differ; an empty list when they are the same. */
export function compareTraceLines(expected: readonly string[], actual: readonly string[]): TraceChange[] {
  const changes: TraceChange[] = [];
  let expectedLine = 1;
  let actualLine = 1;
  let after: string | undefined;
  let open: TraceChange | undefined;
  for (const part of diffArrays([...expected], [...actual])) {
    if (!part.added && !part.removed) {
      open = undefined;
      expectedLine += part.value.length;
      actualLine += part.value.length;
      after = part.value[part.value.length - 1];
      continue;
    }
    if (!open) {
      open = { expectedLine, actualLine, after, expected: [], actual: [], requests: [] };
      changes.push(open);
    }
    if (part.removed) {
      open.expected.push(...part.value);
      expectedLine += part.value.length;
    } else {
      open.actual.push(...part.value);
      actualLine += part.value.length;
    }
  }
  for (const change of changes) change.requests = [...new Set([...change.expected, ...change.actual].map(requestOfLine))];
  return changes;
}

const HEADER_PREFIX = '# ';

/** A golden file's text: a header naming the trace set and the test, then one line per transfer. */
export function serialiseTrace(set: string, test: TraceTestId, lines: readonly string[]): string {
  const header = [
    `${HEADER_PREFIX}dfu-hil USB trace, normalised (docs/ci.md, "Golden traces"): no timestamps, devices numbered, repeated dfuDNBUSY polls kept once`,
    `${HEADER_PREFIX}set: ${set}`,
    `${HEADER_PREFIX}test: ${test.specFile} > ${test.title.join(' > ')}`,
  ];
  return `${[...header, ...lines].join('\n')}\n`;
}

/** The parts of a golden file: the test named in its header (if any) and its trace lines. */
export function parseTraceFile(text: string): { test: string | undefined; lines: string[] } {
  const all = text.split('\n').filter((line) => line.length > 0);
  const test = all.find((line) => line.startsWith(`${HEADER_PREFIX}test: `))?.slice(`${HEADER_PREFIX}test: `.length);
  return { test, lines: all.filter((line) => !line.startsWith('#')) };
}
