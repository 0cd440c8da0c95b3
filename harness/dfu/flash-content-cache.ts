// What a board's flash holds, as far as the harness knows: one SHA-256 per sector, recorded when
// a download wrote and verified the sector or read it back unchanged. Differential flashing
// skips a sector whose recorded digest is the one the image would leave, without reading it.
//
// It is only worth what the harness saw. Anything else that may have reached the flash makes
// it forget everything: a memory-changing DNLOAD from another session on the bus (seen in the
// bus's transfer trace), the debug probe, a power loss, a reset into a state the harness did not
// plan, a download that failed part-way. The owner (a rig) reports the events only it sees with
// `distrust`; witnesses report what their records show. Another process on the same board
// (dfu-util, a programmer) is seen by neither: the cache lives no longer than the rig object,
// one CLI command or one test worker, whose lease keeps other dfu-hil processes away.
import { RequestKind } from '../usb/spec.js';
import type { TraceEntry, TransferTrace } from '../usb/trace.js';
import { decodeDfuseCommand, DfuRequest, DfuseCommand, formatDfuseCommand } from './protocol.js';

/** A record of what reached the board (the USB trace, say), asked whether the flash may have changed. */
export interface FlashWitness {
  /** Where the record stands now. */
  mark(): number;
  /** Why the flash may have changed since `mark`, or undefined when nothing recorded since could have. */
  changeSince(mark: number): string | undefined;
}

/** What the cache still believes before a download, and why it forgot the rest. */
export interface CacheConsultation {
  known: ReadonlyMap<number, string>;
  /** Why the cache was distrusted since it was last used, if it was. */
  distrusted: string | undefined;
}

/** Per-sector digests of one board's flash, forgotten whenever something else may have touched it. */
export class FlashContentCache {
  private readonly digests = new Map<number, string>();
  private readonly witnesses: { witness: FlashWitness; mark: number }[] = [];
  private reason: string | undefined;

  /** Asks `witness` before every use whether the flash may have changed behind the cache's back. */
  watch(witness: FlashWitness): void {
    this.witnesses.push({ witness, mark: witness.mark() });
  }

  /** Forgets every digest: something may have changed the flash. The next consultation reports `reason`. */
  distrust(reason: string): void {
    if (this.digests.size === 0) return;
    this.digests.clear();
    this.reason ??= reason;
  }

  /** The digests still believed after every witness was asked, and why the others were forgotten. */
  consult(): CacheConsultation {
    for (const w of this.witnesses) {
      const change = w.witness.changeSince(w.mark);
      if (change !== undefined) this.distrust(change);
    }
    const distrusted = this.reason;
    this.reason = undefined;
    return { known: new Map(this.digests), distrusted };
  }

  /** Records that the sector starting at `sector` now holds bytes with this digest. */
  record(sector: number, digest: string): void {
    this.digests.set(sector, digest);
  }

  /** Forgets one sector (written without a read-back, say). */
  forget(sector: number): void {
    this.digests.delete(sector);
  }

  /** Forgets every sector, with nothing to report: a mass erase, for instance, that the download itself did. */
  clear(): void {
    this.digests.clear();
  }

  /** Sectors with a digest, in address order. */
  get sectors(): number[] {
    return [...this.digests.keys()].sort((a, b) => a - b);
  }

  /** Ends a download: what the witnesses recorded until now was the download itself. */
  seal(): void {
    for (const w of this.witnesses) w.mark = w.witness.mark();
  }
}

const isClassOut = (e: TraceEntry): boolean => e.setup !== undefined && (e.setup.bmRequestType & 0x80) === 0 && (e.setup.bmRequestType & 0x60) === RequestKind.Class;

/**
 * Why `entry` may have changed memory: a DNLOAD with data that is not a Set Address Pointer
 * (an erase, a mass erase, Read Unprotect, a data block). Requests the option-byte guard refused
 * never reached the device. A DfuSe command the trace clipped is counted as a write.
 */
function memoryWrite(entry: TraceEntry): string | undefined {
  if (entry.kind !== 'control' || !isClassOut(entry) || entry.setup!.bRequest !== DfuRequest.Dnload) return undefined;
  if (entry.setup!.wLength === 0 || entry.result.startsWith('refused')) return undefined;
  if (entry.setup!.wValue !== 0) return `DNLOAD#${entry.setup!.wValue} of ${entry.setup!.wLength} bytes`;
  const data = entry.data ?? new Uint8Array();
  if (data.length >= entry.setup!.wLength) {
    const command = decodeDfuseCommand(data.subarray(0, entry.setup!.wLength));
    if (command.command === 'SET_ADDRESS') return undefined;
    return formatDfuseCommand(command);
  }
  return data[0] === DfuseCommand.SetAddressPointer && entry.setup!.wLength === 5 ? undefined : 'a DfuSe command';
}

/** A witness over a bus's transfer trace: a memory-changing DNLOAD since the mark, or entries the trace dropped. */
export function transferTraceWitness(trace: TransferTrace): FlashWitness {
  return {
    mark: () => trace.mark(),
    changeSince: (mark) => {
      const entries = trace.since(mark);
      const lost = trace.mark() - mark - entries.length;
      if (lost > 0) return `the USB transfer trace dropped ${lost} transfers since the last download, so what they did is unknown`;
      for (const e of entries) {
        const write = memoryWrite(e);
        if (write !== undefined) return `${write} reached ${e.device} at ${e.t.toFixed(1)} ms from outside the last download`;
      }
      return undefined;
    },
  };
}
