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

/**
 * Every transfer a transport makes, in order, bounded in memory. Attached to the test report
 * of the test that caused it, and compared against golden traces in regression runs.
 */
export class TransferTrace {
  private readonly capacity: number;
  private readonly dataBytes: number;
  private readonly enumeratedDevices: number;
  private entries: TraceEntry[] = [];
  private droppedCount = 0;
  private readonly enumerations = new Map<string, EnumerationRead[]>();

  constructor(options: TransferTraceOptions = {}) {
    this.capacity = options.capacity ?? 200_000;
    this.dataBytes = options.dataBytes ?? 16;
    this.enumeratedDevices = options.enumeratedDevices ?? 32;
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
    const data = entry.data ? entry.data.slice(0, this.dataBytes) : undefined;
    this.entries.push({ ...entry, ...(data ? { data, length: entry.length ?? entry.data!.length } : {}) });
    if (this.entries.length > this.capacity) {
      const excess = this.entries.length - this.capacity;
      this.entries.splice(0, excess);
      this.droppedCount += excess;
    }
  }

  /** A copy of the entries kept. */
  list(): TraceEntry[] {
    return [...this.entries];
  }

  get dropped(): number {
    return this.droppedCount;
  }

  /** Entries recorded since `mark()` returned `index`. */
  since(index: number): TraceEntry[] {
    return this.entries.slice(Math.max(0, index - this.droppedCount));
  }

  /** A position to pass to {@link since} later. */
  mark(): number {
    return this.droppedCount + this.entries.length;
  }

  clear(): void {
    this.droppedCount += this.entries.length;
    this.entries = [];
  }

  /** One line per entry, for reports and golden files. */
  format(namer?: RequestNamer, entries: TraceEntry[] = this.entries): string {
    return entries.map((e) => formatEntry(e, namer)).join('\n');
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
