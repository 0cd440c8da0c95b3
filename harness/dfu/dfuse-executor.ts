// Runs DfuSe operations over a DFU session: the commands (Set Address Pointer, erase, mass
// erase, Read Unprotect) with their two-GETSTATUS handshake, data blocks, read-back, leave. It
// owns what the device does in time and in failure: bwPollTimeout through the clock (DfuClient),
// the STM32H7 bank-2 erase that stays dfuDNBUSY, the disconnects that are the expected end of
// leave and of option-byte writes, and errors cleared so the session stays usable. What to send
// is decided beforehand by the planner (dfuse-plan.ts).
import { UsbError } from '../usb/errors.js';
import { isDisconnect } from '../usb/errors.js';
import type { DfuClient } from './dfu-client.js';
import { DfuDisconnectedError, DfuError, DfuStateError, DfuTimeoutError, DfuVerifyError, type DfuOperation } from './errors.js';
import { blockRuns, type BlockPlacement, type DfuseOp, type DownloadPlan } from './dfuse-plan.js';
import type { FlashContentCache } from './flash-content-cache.js';
import { DFUSE_FIRST_DATA_BLOCK, DfuseCommand, DfuState, encodeDfuseCommand, formatStatus, type DfuStatusReport } from './protocol.js';

/** What a long operation is doing. */
export type DfuPhase = 'compare' | 'erase' | 'download' | 'upload' | 'verify';

/** Progress of one phase; bytes are image bytes (erase and compare count the sectors' bytes). */
export interface DfuProgress {
  phase: DfuPhase;
  bytesDone: number;
  bytesTotal: number;
}

/** Receives progress events. */
export type DfuProgressListener = (progress: DfuProgress) => void;

/** An erase that stayed dfuDNBUSY and was recovered with CLRSTATUS, CLRSTATUS. */
export interface StuckEraseRecovery {
  address: number;
  /** The status seen after the first CLRSTATUS (errUNKNOWN/dfuERROR on the H7 ROM). */
  afterFirstClear: string;
  elapsedMs: number;
}

/** How a differential download decided which sectors to write. */
export interface DifferentialReport {
  /** Sectors the cache vouched for (as unchanged, or as holding something else) without a read-back. */
  fromCache: number[];
  /** Sectors read back and compared. */
  readBack: number[];
  /** Why the board's flash cache was distrusted before this download, when it was. */
  cacheDistrusted?: string;
}

/** What a download did. */
export interface DownloadReport {
  /** 'will-reset': an option-byte write, after which the device resets and leaves the bus. */
  outcome: 'written' | 'will-reset';
  bytesWritten: number;
  /** How the memory was erased: sector by sector, all at once, or not at all (option bytes are never erased first). */
  erase: 'touched' | 'mass' | 'none';
  /** Start addresses of the sectors erased one by one, in order (empty after a mass erase). */
  erasedSectors: number[];
  /** Sectors the image touches that already held its bytes, so were neither erased nor written (differential only). */
  skippedSectors: number[];
  /** Present when unchanged sectors were looked for. */
  differential?: DifferentialReport;
  recoveries: StuckEraseRecovery[];
  /** Every byte of the image is known to be on the device: written and read back, or found there. */
  verified: boolean;
}

/** What leaving DFU mode did. The device going away is the expected end, not an error. */
export interface LeaveReport {
  /** 'manifest': GETSTATUS answered dfuMANIFEST; 'disconnected': the device left before answering. */
  outcome: 'manifest' | 'disconnected';
  /** After which request of leave the device was gone, when it was (gone during SET_ADDRESS is an error, DfuDisconnectedError). */
  goneAfter?: 'DNLOAD' | 'GETSTATUS';
  /** Whether the device then left the bus within `waitForDetachMs` (only when asked). */
  detached?: boolean;
}

/** Result of a read-back comparison. */
export type VerifyResult =
  | { ok: true; bytesCompared: number }
  | { ok: false; address: number; expected: number; actual: number };

/** What a command that resets the device (Read Unprotect) did. */
export interface ResetCommandReport {
  outcome: 'will-reset' | 'completed';
}

/** How the executor treats the device's time. */
export interface DfuseExecutorSettings {
  /** How long a sector erase may stay dfuDNBUSY before it is treated as the H7 V9.1 bank-2 bug and recovered, in ms. */
  eraseStuckMs: number;
  /** Also treat a sector erase as stuck after this many dfuDNBUSY answers. */
  eraseStuckPolls?: number;
  /** How reads are placed: run form when the block size is the descriptor's. */
  readPlacement: BlockPlacement;
}

/** Options of {@link DfuseExecutor.run}. */
export interface RunOptions {
  onProgress?: DfuProgressListener;
  /** The board's flash cache: consulted by the planner, updated here with what the download leaves. */
  cache?: FlashContentCache;
  /** Why the cache was distrusted before planning, for the report. */
  cacheDistrusted?: string;
}

/**
 * The failures that mean the device has gone, as expected after leave, an option-byte write or
 * Read Unprotect: libusb's NO_DEVICE/NOT_FOUND, IO (a transfer cut by the disconnect), and PIPE
 * (a STALL from a device that is already resetting).
 */
export function isExpectedDisconnect(error: unknown): boolean {
  return isDisconnect(error) || (error instanceof UsbError && (error.failure === 'io' || error.failure === 'stall'));
}

/** The first offset where `a` and `b` differ (they are known to differ), found after a Buffer.compare said so. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

const view = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** True when the two byte ranges are equal, compared in native code. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(view(a), view(b)) === 0;
}

/** Executes DfuSe operations over one DFU session. */
export class DfuseExecutor {
  constructor(readonly dfu: DfuClient, private readonly settings: DfuseExecutorSettings) {}

  /** Set Address Pointer (0x21 + address). */
  async setAddress(address: number): Promise<void> {
    await this.command(encodeDfuseCommand(DfuseCommand.SetAddressPointer, address), { request: 'SET_ADDRESS', address });
  }

  /**
   * Erases the sector holding `address`. An erase that stays dfuDNBUSY past `eraseStuckMs` (the
   * H7 ROM V9.1 bank-2 bug, AN2606 Table 136) is recovered with CLRSTATUS twice, as ST's own
   * tool does, and reported; the caller carries on.
   */
  async eraseSector(address: number): Promise<StuckEraseRecovery | undefined> {
    const operation: DfuOperation = { request: 'ERASE', address };
    const started = this.dfu.clock.now();
    try {
      await this.command(encodeDfuseCommand(DfuseCommand.Erase, address), operation, {
        deadlineMs: this.settings.eraseStuckMs, ...(this.settings.eraseStuckPolls === undefined ? {} : { maxPolls: this.settings.eraseStuckPolls }),
      });
      return undefined;
    } catch (error) {
      if (!(error instanceof DfuTimeoutError) || error.lastReport?.state !== DfuState.DfuDnbusy) throw error;
      const afterFirstClear = await this.recoverStuckBusy();
      return { address, afterFirstClear, elapsedMs: this.dfu.clock.now() - started };
    }
  }

  /** Mass erase (0x41 alone). Allowed the full operation deadline. */
  async massErase(): Promise<void> {
    await this.command(encodeDfuseCommand(DfuseCommand.Erase), { request: 'MASS_ERASE' });
  }

  /** Read Unprotect (0x92); the device resets afterwards, which is the expected end. */
  async readUnprotect(): Promise<ResetCommandReport> {
    try {
      await this.command(encodeDfuseCommand(DfuseCommand.ReadUnprotect), { request: 'READ_UNPROTECT' });
      return { outcome: 'completed' };
    } catch (error) {
      if (isExpectedDisconnect(error)) return { outcome: 'will-reset' };
      throw error;
    }
  }

  /** DfuSe Get (UPLOAD wValue=0): the command bytes the bootloader supports. */
  async getCommands(): Promise<number[]> {
    await this.dfu.toIdle();
    const bytes = await this.dfu.upload(0, 256);
    await this.dfu.abort();
    return Array.from(bytes);
  }

  /**
   * Reads `length` bytes from `address`: per run, Set Address Pointer, ABORT to dfuIDLE, then
   * UPLOAD blocks 2, 3, … (placed as the read placement says), ABORT. `onBlock` sees each block
   * as it arrives and may stop the read by returning false.
   */
  async read(address: number, length: number, onBlock?: (offset: number, data: Uint8Array) => boolean): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    for (const run of blockRuns(address, length, this.settings.readPlacement)) {
      await this.setAddress(run.pointer);
      await this.dfu.abort();
      for (const b of run.blocks) {
        const data = await this.uploadBlock(b.block, b.length, address + b.offset);
        if (data.length !== b.length) {
          const report = await this.dfu.getStatus();
          throw new DfuStateError({ request: `UPLOAD#${b.block}`, address: address + b.offset }, `${b.length} bytes`, report, {
            hint: `The device sent ${data.length} bytes; a short frame ends an upload early. The range may run past readable memory.`,
          });
        }
        out.set(data, b.offset);
        if (onBlock && !onBlock(b.offset, data)) {
          await this.dfu.abort();
          return out.subarray(0, b.offset + b.length);
        }
      }
      await this.dfu.abort();
    }
    return out;
  }

  /** Reads `expected.length` bytes from `address` and compares; stops at the first block that differs. */
  async compare(address: number, expected: Uint8Array, onProgress?: (bytesDone: number) => void): Promise<VerifyResult> {
    let mismatch: VerifyResult | undefined;
    await this.read(address, expected.length, (offset, data) => {
      const want = expected.subarray(offset, offset + data.length);
      if (!sameBytes(data, want)) {
        const at = firstDifference(data, want);
        mismatch = { ok: false, address: address + offset + at, expected: want[at]!, actual: data[at]! };
        return false;
      }
      onProgress?.(offset + data.length);
      return true;
    });
    return mismatch ?? { ok: true, bytesCompared: expected.length };
  }

  /**
   * Runs a planned download: sector checks, erases, blocks, read-backs, leave, in the plan's
   * order, leaving out every operation of a sector a check found already holding its bytes.
   * With a cache, records what the download leaves: sectors found unchanged or written and
   * read back; a sector written without a read-back is forgotten, and everything is when the
   * download fails part-way.
   */
  async run(plan: DownloadPlan, options: RunOptions = {}): Promise<DownloadReport> {
    const { cache, onProgress: progress } = options;
    const report: DownloadReport = {
      outcome: 'written', bytesWritten: 0, erase: plan.erase, erasedSectors: [], skippedSectors: [], recoveries: [], verified: false,
    };
    if (plan.differential) {
      report.differential = {
        fromCache: plan.sectors.filter((s) => s.basis === 'cache').map((s) => s.start),
        readBack: plan.sectors.filter((s) => s.action === 'check').map((s) => s.start),
        ...(options.cacheDistrusted === undefined ? {} : { cacheDistrusted: options.cacheDistrusted }),
      };
    }
    try {
      await this.execute(plan, report, progress);
    } catch (error) {
      cache?.distrust('a download failed part-way');
      cache?.seal();
      throw error;
    }
    if (cache && !plan.optionBytes) this.remember(plan, report, cache);
    cache?.seal();
    return report;
  }

  /** Leaves DFU mode: Set Address Pointer to `address` when given, a zero-length DNLOAD, GETSTATUS. */
  async leave(address: number | undefined): Promise<LeaveReport> {
    if (address !== undefined) {
      try {
        await this.setAddress(address);
      } catch (error) {
        // Gone before the leave request: nothing jumped to the application, so this is no leave.
        if (isDisconnect(error)) throw new DfuDisconnectedError({ request: 'SET_ADDRESS', address }, 'leave', { cause: error });
        throw error;
      }
    }
    try {
      await this.dfu.download(DFUSE_FIRST_DATA_BLOCK, new Uint8Array());
    } catch (error) {
      if (isExpectedDisconnect(error)) return { outcome: 'disconnected', goneAfter: 'DNLOAD' };
      throw error;
    }
    let status: DfuStatusReport;
    try {
      // No stall retries: a stall here is the device already resetting.
      status = await this.dfu.getStatus({ request: 'LEAVE', ...(address === undefined ? {} : { address }) }, { stallRetries: 0 });
    } catch (error) {
      if (isExpectedDisconnect(error)) return { outcome: 'disconnected', goneAfter: 'GETSTATUS' };
      throw error;
    }
    if (status.state === DfuState.DfuManifest || status.state === DfuState.DfuManifestSync || status.state === DfuState.DfuManifestWaitReset) {
      return { outcome: 'manifest' };
    }
    throw new DfuStateError({ request: 'LEAVE', ...(address === undefined ? {} : { address }) }, 'dfuMANIFEST', status, {
      hint: 'The device did not start manifestation. Check that the address holds a valid vector table, and that the device was in dfuIDLE or dfuDNLOAD-IDLE.',
    });
  }

  private async execute(plan: DownloadPlan, report: DownloadReport, progress: DfuProgressListener | undefined): Promise<void> {
    const unchanged = new Set(plan.sectors.filter((s) => s.action === 'skip').map((s) => s.start));
    const checks = plan.ops.filter((op): op is Extract<DfuseOp, { op: 'check-sector' }> => op.op === 'check-sector');
    if (checks.length > 0) {
      const total = checks.reduce((n, c) => n + c.size, 0);
      let done = 0;
      progress?.({ phase: 'compare', bytesDone: 0, bytesTotal: total });
      for (const check of checks) {
        const result = await this.compare(check.sector, check.expected, (bytes) => progress?.({ phase: 'compare', bytesDone: done + bytes, bytesTotal: total }));
        if (result.ok) unchanged.add(check.sector);
        done += check.size;
        progress?.({ phase: 'compare', bytesDone: done, bytesTotal: total });
      }
    }
    report.skippedSectors = [...unchanged].sort((a, b) => a - b);
    const live = plan.ops.filter((op) => op.op !== 'check-sector' && !('sector' in op && op.sector !== undefined && unchanged.has(op.sector)));
    // A mass erase counts as one unit: its size is the device's business.
    const totals = { erase: 0, download: 0, verify: 0 };
    for (const op of live) {
      if (op.op === 'erase-sector') totals.erase += op.size;
      else if (op.op === 'mass-erase') totals.erase = 1;
      else if (op.op === 'write-block') totals.download += op.data.length;
      else if (op.op === 'verify') totals.verify += op.data.length;
    }
    let erased = 0;
    let verified = 0;
    let phase: DfuPhase | undefined;
    const enter = (next: DfuPhase, total: number): void => {
      if (phase === next) return;
      phase = next;
      progress?.({ phase: next, bytesDone: 0, bytesTotal: total });
    };

    for (const op of live) {
      switch (op.op) {
        case 'mass-erase':
          enter('erase', totals.erase);
          await this.massErase();
          progress?.({ phase: 'erase', bytesDone: 1, bytesTotal: 1 });
          break;
        case 'erase-sector': {
          enter('erase', totals.erase);
          const recovery = await this.eraseSector(op.sector);
          if (recovery) report.recoveries.push(recovery);
          report.erasedSectors.push(op.sector);
          erased += op.size;
          progress?.({ phase: 'erase', bytesDone: erased, bytesTotal: totals.erase });
          break;
        }
        case 'set-address':
          enter('download', totals.download);
          await this.setAddress(op.address);
          break;
        case 'write-block':
          enter('download', totals.download);
          await this.writeBlock(op.block, op.address, op.data);
          report.bytesWritten += op.data.length;
          progress?.({ phase: 'download', bytesDone: report.bytesWritten, bytesTotal: totals.download });
          break;
        case 'write-option-bytes':
          progress?.({ phase: 'download', bytesDone: 0, bytesTotal: op.data.length });
          report.outcome = await this.writeOptionBytes(op.address, op.data);
          report.bytesWritten = op.data.length;
          progress?.({ phase: 'download', bytesDone: op.data.length, bytesTotal: op.data.length });
          break;
        case 'verify': {
          const result = await this.compare(op.address, op.data);
          if (!result.ok) throw new DfuVerifyError(result.address, result.expected, result.actual);
          verified += op.data.length;
          progress?.({ phase: 'verify', bytesDone: verified, bytesTotal: totals.verify });
          break;
        }
        case 'leave':
          await this.leave(op.address);
          break;
        case 'check-sector':
          // Done above, before anything was erased.
          break;
      }
    }
    // Every written byte was read back; a skipped sector was read back whole, or vouched for by the cache.
    report.verified = plan.verify;
  }

  private remember(plan: DownloadPlan, report: DownloadReport, cache: FlashContentCache): void {
    if (plan.erase === 'mass') cache.clear();
    const verified = new Set(plan.ops.flatMap((op) => (op.op === 'verify' && op.sector !== undefined ? [op.sector] : [])));
    const wholeImageVerified = plan.ops.some((op) => op.op === 'verify' && op.sector === undefined);
    for (const s of plan.sectors) {
      const known = report.skippedSectors.includes(s.start)
        || (plan.erase !== 'none' && (verified.has(s.start) || wholeImageVerified));
      if (known) cache.record(s.start, s.digest);
      else cache.forget(s.start);
    }
  }

  /**
   * One DfuSe command: DNLOAD wValue=0, then the first GETSTATUS, which executes it and must
   * report dfuDNBUSY, then poll to dfuDNLOAD-IDLE.
   */
  private async command(bytes: Uint8Array, operation: DfuOperation, options: { deadlineMs?: number; maxPolls?: number } = {}): Promise<DfuStatusReport> {
    return this.clearingErrors(async () => {
      await this.dfu.download(0, bytes);
      const first = await this.dfu.getStatus(operation);
      if (first.state !== DfuState.DfuDnbusy && first.state !== DfuState.DfuError) {
        throw new DfuStateError(operation, 'dfuDNBUSY (a DfuSe command runs on the first GETSTATUS)', first);
      }
      return this.dfu.pollUntil(operation, [DfuState.DfuDnloadIdle], { ...options, first });
    });
  }

  /**
   * Runs `work`; if the device reports an error status, clears it (best effort) before the
   * error is thrown, so the session stays usable: otherwise every later request would stall
   * in dfuERROR and hide the first, real error.
   */
  private async clearingErrors<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof DfuError) {
        try { await this.dfu.toIdle(); } catch { /* the original error is the one worth reporting */ }
      }
      throw error;
    }
  }

  /**
   * One UPLOAD block. A device refuses an IN transfer with a STALL, and says why only in the
   * GETSTATUS that follows (errVENDOR under readout protection, AN3156): report that status.
   */
  private async uploadBlock(block: number, length: number, address: number): Promise<Uint8Array> {
    try {
      return await this.dfu.upload(block, length);
    } catch (error) {
      if (!(error instanceof UsbError && error.failure === 'stall')) throw error;
      let report: DfuStatusReport;
      try {
        report = await this.dfu.getStatus();
      } catch {
        throw error;
      }
      if (report.state !== DfuState.DfuError) throw error;
      const refused = new DfuError({ request: 'UPLOAD', address }, report, { cause: error });
      try { await this.dfu.toIdle(); } catch { /* the refusal is the error worth reporting */ }
      throw refused;
    }
  }

  /** CLRSTATUS (device answers errUNKNOWN/dfuERROR), then back to dfuIDLE; returns the status seen in between. */
  private async recoverStuckBusy(): Promise<string> {
    try {
      await this.dfu.clearStatus();
    } catch (error) {
      // A device that stalls CLRSTATUS in dfuDNBUSY still ends up in dfuERROR, which toIdle clears.
      if (!(error instanceof UsbError && error.failure === 'stall')) throw error;
    }
    const between = await this.dfu.getStatus({ request: 'CLRSTATUS' });
    if (between.state === DfuState.DfuError) await this.dfu.clearStatus();
    await this.dfu.toIdle();
    return formatStatus(between);
  }

  /** One data block, after the pointer its run set; polled to dfuDNLOAD-IDLE. */
  private async writeBlock(block: number, address: number, data: Uint8Array): Promise<void> {
    const operation: DfuOperation = { request: `DNLOAD#${block}`, address };
    await this.clearingErrors(async () => {
      await this.dfu.download(block, data);
      // Some bootloaders (STM32U5) go straight to dfuDNLOAD-IDLE without showing dfuDNBUSY.
      await this.dfu.pollUntil(operation, [DfuState.DfuDnloadIdle]);
    });
  }

  private async writeOptionBytes(address: number, data: Uint8Array): Promise<DownloadReport['outcome']> {
    try {
      await this.setAddress(address);
      await this.writeBlock(DFUSE_FIRST_DATA_BLOCK, address, data);
      return 'written';
    } catch (error) {
      // AN3156: the option-byte write ends in a system reset, with no second GETSTATUS.
      if (!isExpectedDisconnect(error)) throw error;
      return 'will-reset';
    }
  }
}
