import type { SetupPacket } from './spec.js';

/** One recorded control transfer or bus event. */
export interface TraceEntry {
  /** Clock time in ms when the transfer completed. */
  t: number;
  /** portPath#address of the device, so re-enumerations show. */
  device: string;
  kind: 'control' | 'attach' | 'detach' | 'reset';
  setup?: SetupPacket;
  /** Leading bytes of the data stage (see {@link TransferTraceOptions.dataBytes}). */
  data?: Uint8Array;
  /** Full length of the data stage. */
  length?: number;
  /** 'ok', or the failure ('stall', 'no-device', 'timeout', ...). */
  result: string;
}

/** One descriptor read a host made to learn a device, with the bytes the device answered. */
export interface EnumerationRead {
  setup: SetupPacket;
  data: Uint8Array;
}

/** Options for {@link TransferTrace}. */
export interface TransferTraceOptions {
  /** Entries kept; older ones are dropped and counted. */
  capacity?: number;
  /** Data bytes kept per entry. */
  dataBytes?: number;
  /** Devices whose enumeration reads are kept (the most recent ones). */
  enumeratedDevices?: number;
}

/** Names a request for display, e.g. DFU's bRequest 1 as "DNLOAD". */
export type RequestNamer = (setup: SetupPacket) => string | undefined;

const KINDS: readonly TraceEntry['kind'][] = ['control', 'attach', 'detach', 'reset'];
const HAS_SETUP = 1;
const HAS_DATA = 2;
const HAS_LENGTH = 4;
const FIRST_SLOTS = 1024;

/** Strings seen often (device labels, results), stored once and referred to by number. */
class StringTable {
  private readonly index = new Map<string, number>();
  private readonly values: string[] = [];

  id(value: string): number {
    let id = this.index.get(value);
    if (id === undefined) {
      id = this.values.length;
      this.values.push(value);
      this.index.set(value, id);
    }
    return id;
  }

  value(id: number): string {
    return this.values[id]!;
  }
}

/** One typed array per field: a few dozen bytes an entry, and no allocation per transfer. */
interface Columns {
  t: Float64Array;
  flags: Uint8Array;
  kind: Uint8Array;
  device: Uint32Array;
  result: Uint32Array;
  setup: Uint16Array;
  length: Uint32Array;
  dataLength: Uint8Array;
  data: Uint8Array;
}

function allocate(slots: number, dataBytes: number): Columns {
  return {
    t: new Float64Array(slots), flags: new Uint8Array(slots), kind: new Uint8Array(slots),
    device: new Uint32Array(slots), result: new Uint32Array(slots), setup: new Uint16Array(slots * 5),
    length: new Uint32Array(slots), dataLength: new Uint8Array(slots), data: new Uint8Array(slots * dataBytes),
  };
}

/**
 * Every transfer a transport makes, in order, bounded in memory. Attached to the test report
 * of the test that caused it, and compared against golden traces in regression runs.
 *
 * A ring buffer over typed arrays: recording copies a few numbers and at most `dataBytes`
 * bytes into place, so a full trace costs the same per transfer as an empty one, and 200,000
 * entries take about 12 MB (grown as needed) instead of an object and a buffer each.
 */
export class TransferTrace {
  private readonly capacity: number;
  private readonly dataBytes: number;
  private readonly enumeratedDevices: number;
  private columns: Columns;
  private slots: number;
  /** Slot of the oldest entry kept. */
  private head = 0;
  private count = 0;
  private droppedCount = 0;
  private readonly strings = new StringTable();
  private readonly enumerations = new Map<string, EnumerationRead[]>();

  constructor(options: TransferTraceOptions = {}) {
    this.capacity = Math.max(1, options.capacity ?? 200_000);
    this.dataBytes = Math.min(255, Math.max(0, options.dataBytes ?? 16));
    this.enumeratedDevices = options.enumeratedDevices ?? 32;
    this.slots = Math.min(this.capacity, FIRST_SLOTS);
    this.columns = allocate(this.slots, this.dataBytes);
  }

  /**
   * Keeps the descriptor reads a host made to learn `device` (its trace label), whole. They are
   * not entries: the transfers a test caused leave enumeration out. A capture file needs them,
   * so that a protocol analyser knows what the device is.
   */
  recordEnumeration(device: string, reads: readonly EnumerationRead[]): void {
    this.enumerations.delete(device);
    this.enumerations.set(device, reads.map((r) => ({ setup: { ...r.setup }, data: r.data.slice() })));
    for (const oldest of this.enumerations.keys()) {
      if (this.enumerations.size <= this.enumeratedDevices) break;
      this.enumerations.delete(oldest);
    }
  }

  /** The descriptor reads recorded for `device`, if it is among the devices kept. */
  enumerationOf(device: string): readonly EnumerationRead[] | undefined {
    return this.enumerations.get(device);
  }

  /** Records one entry; data is copied and clipped. */
  record(entry: TraceEntry): void {
    if (this.count === this.slots && this.slots < this.capacity) this.grow();
    let slot: number;
    if (this.count < this.slots) {
      slot = (this.head + this.count) % this.slots;
      this.count += 1;
    } else {
      slot = this.head;
      this.head = (this.head + 1) % this.slots;
      this.droppedCount += 1;
    }
    const c = this.columns;
    c.t[slot] = entry.t;
    c.kind[slot] = KINDS.indexOf(entry.kind);
    c.device[slot] = this.strings.id(entry.device);
    c.result[slot] = this.strings.id(entry.result);
    let flags = 0;
    if (entry.setup) {
      flags |= HAS_SETUP;
      const s = entry.setup;
      const at = slot * 5;
      c.setup[at] = s.bmRequestType;
      c.setup[at + 1] = s.bRequest;
      c.setup[at + 2] = s.wValue;
      c.setup[at + 3] = s.wIndex;
      c.setup[at + 4] = s.wLength;
    }
    const length = entry.length ?? entry.data?.length;
    if (length !== undefined) {
      flags |= HAS_LENGTH;
      c.length[slot] = length;
    }
    if (entry.data) {
      flags |= HAS_DATA;
      const kept = entry.data.subarray(0, this.dataBytes);
      c.data.set(kept, slot * this.dataBytes);
      c.dataLength[slot] = kept.length;
    }
    c.flags[slot] = flags;
  }

  /** A copy of the entries kept. */
  list(): TraceEntry[] {
    return this.range(0, this.count);
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** Entries recorded since `mark()` returned `index`. */
  since(index: number): TraceEntry[] {
    return this.range(Math.max(0, index - this.droppedCount), this.count);
  }

  /** A position to pass to {@link since} later. */
  mark(): number {
    return this.droppedCount + this.count;
  }

  clear(): void {
    this.droppedCount += this.count;
    this.head = 0;
    this.count = 0;
  }

  /** One line per entry, for reports and golden files. */
  format(namer?: RequestNamer, entries: TraceEntry[] = this.list()): string {
    return entries.map((e) => formatEntry(e, namer)).join('\n');
  }

  private range(from: number, to: number): TraceEntry[] {
    const out: TraceEntry[] = [];
    for (let i = from; i < to; i++) out.push(this.entryAt((this.head + i) % this.slots));
    return out;
  }

  private entryAt(slot: number): TraceEntry {
    const c = this.columns;
    const flags = c.flags[slot]!;
    const entry: TraceEntry = {
      t: c.t[slot]!, device: this.strings.value(c.device[slot]!), kind: KINDS[c.kind[slot]!]!, result: this.strings.value(c.result[slot]!),
    };
    if (flags & HAS_SETUP) {
      const [bmRequestType, bRequest, wValue, wIndex, wLength] = c.setup.subarray(slot * 5, slot * 5 + 5);
      entry.setup = { bmRequestType: bmRequestType!, bRequest: bRequest!, wValue: wValue!, wIndex: wIndex!, wLength: wLength! };
    }
    if (flags & HAS_DATA) entry.data = c.data.slice(slot * this.dataBytes, slot * this.dataBytes + c.dataLength[slot]!);
    if (flags & HAS_LENGTH) entry.length = c.length[slot]!;
    return entry;
  }

  /** Doubles the slots (up to the capacity), oldest entry first. */
  private grow(): void {
    const slots = Math.min(this.capacity, this.slots * 2);
    const next = allocate(slots, this.dataBytes);
    const old = this.columns;
    // The entries sit in two runs: head..end of the old slots, then 0..head. Copy each column
    // run by run, in order, so the oldest lands in slot 0.
    const first = Math.min(this.count, this.slots - this.head);
    const runs: Array<[from: number, to: number, at: number]> = [[this.head, this.head + first, 0], [0, this.count - first, first]];
    for (const [from, to, at] of runs) {
      if (to <= from) continue;
      next.t.set(old.t.subarray(from, to), at);
      next.flags.set(old.flags.subarray(from, to), at);
      next.kind.set(old.kind.subarray(from, to), at);
      next.device.set(old.device.subarray(from, to), at);
      next.result.set(old.result.subarray(from, to), at);
      next.length.set(old.length.subarray(from, to), at);
      next.dataLength.set(old.dataLength.subarray(from, to), at);
      next.setup.set(old.setup.subarray(from * 5, to * 5), at * 5);
      next.data.set(old.data.subarray(from * this.dataBytes, to * this.dataBytes), at * this.dataBytes);
    }
    this.columns = next;
    this.slots = slots;
    this.head = 0;
  }
}

function hexBytes(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(' ');
}

function formatEntry(e: TraceEntry, namer?: RequestNamer): string {
  const time = `${e.t.toFixed(3).padStart(12)} ms`;
  if (e.kind !== 'control' || !e.setup) return `${time}  ${e.device}  ${e.kind.toUpperCase()}  ${e.result}`;
  const s = e.setup;
  const dir = s.bmRequestType & 0x80 ? 'IN ' : 'OUT';
  const name = namer?.(s) ?? `req 0x${s.bRequest.toString(16).padStart(2, '0')}`;
  const fields = `type=${s.bmRequestType.toString(16).padStart(2, '0')} value=${s.wValue} index=${s.wIndex} len=${s.wLength}`;
  const data = e.data && e.data.length > 0 ? `  [${hexBytes(e.data)}${(e.length ?? 0) > e.data.length ? ' …' : ''}]` : '';
  return `${time}  ${e.device}  ${dir} ${name.padEnd(10)} ${fields}${data}  -> ${e.result}`;
}
