import { spendTime, type Clock } from '../clock/clock.js';
import { UsbError } from '../usb/errors.js';
import type { UsbTransport } from '../usb/transport.js';
import { DfuError, DfuStateError, DfuTimeoutError, type DfuOperation } from './errors.js';
import { guardTransport } from './guarded-transport.js';
import {
  decodeStatus, dfuSetup, dfuStateName, DfuRequest, DfuState, DfuStatus, type DfuStatusReport,
} from './protocol.js';

/** Timing and retry policy of a {@link DfuClient}. */
export interface DfuClientOptions {
  /**
   * Shortest wait between GETSTATUS polls, in ms. Default 0: a bwPollTimeout of 0 is honoured
   * as the device gave it, as dfu-util does (a device still busy NAKs the next GETSTATUS).
   */
  pollFloorMs?: number;
  /**
   * Shortest wait, in ms, once a device answers dfuDNBUSY with bwPollTimeout 0 a second time in
   * one operation (and between retries of a stalled GETSTATUS), so a device that never says how
   * long it needs is not polled in a tight loop.
   */
  repeatPollFloorMs?: number;
  /**
   * Longest wait between polls, in ms. A device reporting an absurd bwPollTimeout (0xFFFFFF is
   * 4.6 hours) is polled again after this instead.
   */
  pollCeilingMs?: number;
  /**
   * Longest a single operation (one command, one block, one erase) may stay busy, in ms. The
   * default covers an F405-class mass erase (up to 32 s: dfu-util's src/dfuse.c forces a 35 s poll for it) with margin.
   */
  operationDeadlineMs?: number;
  /** Timeout of each control transfer, in ms. */
  controlTimeoutMs?: number;
  /** How often a stalled GETSTATUS is retried before the stall is reported (dfu-util uses 3). */
  statusStallRetries?: number;
  /**
   * Lets this session change option bytes (write them, Read Unprotect, erase their memory).
   * Default false; a rig passes its `allowOptionBytes`. RDP level 2 is refused even with it.
   */
  allowOptionBytes?: boolean;
}

/** The defaults of {@link DfuClientOptions}. */
export const DEFAULT_DFU_CLIENT_OPTIONS: Readonly<Required<DfuClientOptions>> = {
  // dfu-util sleeps exactly bwPollTimeout, 0 included; 1 ms only breaks a tight loop.
  pollFloorMs: 0,
  repeatPollFloorMs: 1,
  pollCeilingMs: 5_000,
  operationDeadlineMs: 40_000,
  // A device that NAKs while erasing answers GETSTATUS only when done: the H7 mass erase takes
  // seconds, and 5 s timeouts are a known failure (espressif/esp-idf#6999 went from 5 s to 20 s; pydfu waits 20 s).
  controlTimeoutMs: 20_000,
  statusStallRetries: 3,
  allowOptionBytes: false,
};

/** Options of one {@link DfuClient.pollUntil} call. */
export interface PollOptions {
  /** Overrides the client's operation deadline for this operation. */
  deadlineMs?: number;
  /** A GETSTATUS answer already in hand (the first one after a DNLOAD), so it is not asked again. */
  first?: DfuStatusReport;
  /** Gives up after this many GETSTATUS answers with the device still busy. */
  maxPolls?: number;
}

/** States the device passes through on its own; polling GETSTATUS moves it on. */
const TRANSITIONAL = new Set<DfuState>([DfuState.DfuDnloadSync, DfuState.DfuDnbusy, DfuState.DfuManifestSync]);

const getStatusOp: DfuOperation = { request: 'GETSTATUS' };

/**
 * DFU 1.1 host on one interface of an opened device: every class request, GETSTATUS polling
 * that honours bwPollTimeout through the injected clock, and recovery to dfuIDLE. Knows nothing
 * of DfuSe; {@link DfuseClient} builds on it. Every request goes out through the option-byte
 * guard (guarded-transport.ts) with this session's policy, so a DNLOAD that would set RDP level
 * 2, or change option bytes the session does not allow, never reaches the device.
 */
export class DfuClient {
  readonly options: Readonly<Required<DfuClientOptions>>;
  /** The guarded transport every request of this client goes through. */
  readonly transport: UsbTransport;

  constructor(
    transport: UsbTransport,
    readonly interfaceNumber: number,
    readonly clock: Clock,
    options: DfuClientOptions = {},
  ) {
    this.options = { ...DEFAULT_DFU_CLIENT_OPTIONS, ...definedOnly(options) };
    this.transport = guardTransport(transport, { allowOptionBytes: this.options.allowOptionBytes }, clock);
  }

  /** DFU_DETACH with `timeoutMs` as wValue (how long the device waits for a USB reset). */
  async detach(timeoutMs: number): Promise<void> {
    const wValue = Math.max(0, Math.min(0xffff, Math.floor(timeoutMs)));
    await this.transport.controlOut(dfuSetup(DfuRequest.Detach, 'out', this.interfaceNumber, wValue, 0), new Uint8Array(), this.options.controlTimeoutMs);
  }

  /** DFU_DNLOAD of `data` as block `blockNumber` (a zero-length block ends the download). */
  async download(blockNumber: number, data: Uint8Array): Promise<void> {
    await this.transport.controlOut(dfuSetup(DfuRequest.Dnload, 'out', this.interfaceNumber, blockNumber & 0xffff, data.length), data, this.options.controlTimeoutMs);
  }

  /** DFU_UPLOAD of up to `length` bytes as block `blockNumber`. */
  upload(blockNumber: number, length: number): Promise<Uint8Array> {
    return this.transport.controlIn(dfuSetup(DfuRequest.Upload, 'in', this.interfaceNumber, blockNumber & 0xffff, length), this.options.controlTimeoutMs);
  }

  /**
   * DFU_GETSTATUS. A STALL is retried up to `statusStallRetries` times (some STM32 bootloaders
   * stall a GETSTATUS that comes too early); other USB failures are thrown as they are.
   */
  async getStatus(operation: DfuOperation = getStatusOp, options: { stallRetries?: number } = {}): Promise<DfuStatusReport> {
    const retries = options.stallRetries ?? this.options.statusStallRetries;
    for (let attempt = 0; ; attempt++) {
      let bytes: Uint8Array;
      try {
        bytes = await this.transport.controlIn(dfuSetup(DfuRequest.GetStatus, 'in', this.interfaceNumber, 0, 6), this.options.controlTimeoutMs);
      } catch (error) {
        if (error instanceof UsbError && error.failure === 'stall' && attempt < retries) {
          await this.clock.sleep(Math.max(this.options.pollFloorMs, this.options.repeatPollFloorMs));
          continue;
        }
        throw error;
      }
      const report = decodeStatus(bytes);
      if (!report) {
        throw new DfuStateError(operation, `a 6-byte GETSTATUS answer (got ${bytes.length} bytes)`, undefined, {
          hint: 'The device does not answer GETSTATUS as DFU 1.1 requires. Check that the DFU-mode interface is selected.',
        });
      }
      return report;
    }
  }

  /** DFU_CLRSTATUS: leaves dfuERROR for dfuIDLE. */
  async clearStatus(): Promise<void> {
    await this.transport.controlOut(dfuSetup(DfuRequest.ClrStatus, 'out', this.interfaceNumber, 0, 0), new Uint8Array(), this.options.controlTimeoutMs);
  }

  /** DFU_GETSTATE: the state alone, without side effects. */
  async getState(): Promise<DfuState> {
    const bytes = await this.transport.controlIn(dfuSetup(DfuRequest.GetState, 'in', this.interfaceNumber, 0, 1), this.options.controlTimeoutMs);
    if (bytes.length < 1) {
      throw new DfuStateError({ request: 'GETSTATE' }, 'a 1-byte GETSTATE answer (got none)', undefined);
    }
    return bytes[0]!;
  }

  /** DFU_ABORT: back to dfuIDLE from dfuDNLOAD-IDLE or dfuUPLOAD-IDLE. */
  async abort(): Promise<void> {
    await this.transport.controlOut(dfuSetup(DfuRequest.Abort, 'out', this.interfaceNumber, 0, 0), new Uint8Array(), this.options.controlTimeoutMs);
  }

  /** `ms` clamped to the poll floor and ceiling. */
  clampPoll(ms: number): number {
    return Math.min(this.options.pollCeilingMs, Math.max(this.options.pollFloorMs, ms));
  }

  /**
   * Polls GETSTATUS until the device reaches one of `targets`, sleeping bwPollTimeout (clamped)
   * between polls: nothing at all after a 0, unless the device says busy with 0 again. Throws {@link DfuError} on an error status, {@link DfuStateError} on a stable
   * state that is not a target, and {@link DfuTimeoutError} when the device is still busy after
   * the deadline or `maxPolls` answers (the error carries the last report, so callers can
   * recognise a device stuck in dfuDNBUSY).
   */
  async pollUntil(operation: DfuOperation, targets: readonly DfuState[], options: PollOptions = {}): Promise<DfuStatusReport> {
    const deadline = options.deadlineMs ?? this.options.operationDeadlineMs;
    const start = this.clock.now();
    let report = options.first ?? await this.getStatus(operation);
    let polls = 1;
    let zeroPollBusy = 0;
    for (;;) {
      if (report.state === DfuState.DfuError || report.status !== DfuStatus.Ok) throw new DfuError(operation, report);
      if (targets.includes(report.state)) return report;
      if (!TRANSITIONAL.has(report.state)) {
        throw new DfuStateError(operation, targets.map(dfuStateName).join(' or '), report);
      }
      const elapsed = this.clock.now() - start;
      if (elapsed >= deadline || (options.maxPolls !== undefined && polls >= options.maxPolls)) {
        throw new DfuTimeoutError(operation, elapsed, report, { polls });
      }
      if (report.pollTimeoutMs === 0) zeroPollBusy += 1;
      const wait = zeroPollBusy > 1 ? Math.max(this.options.repeatPollFloorMs, this.clampPoll(0)) : this.clampPoll(report.pollTimeoutMs);
      await this.pause(Math.min(wait, Math.max(0, deadline - elapsed)));
      report = await this.getStatus(operation);
      polls += 1;
    }
  }

  /**
   * Waits `ms` on the clock, as the device asked. A wait of 0 takes no timer and no event-loop
   * turn; on a virtual clock with nothing else due meanwhile, time passes at once (spendTime).
   */
  private async pause(ms: number): Promise<void> {
    if (ms > 0) await spendTime(this.clock, ms);
  }

  /**
   * Brings the device to dfuIDLE from wherever an earlier session left it: ABORT from the
   * *-IDLE states, CLRSTATUS from dfuERROR, waiting out dfuDNBUSY. Gives up after `maxSteps`
   * requests with {@link DfuStateError}; run-time and manifestation states cannot be left this way.
   */
  async toIdle(maxSteps = 4): Promise<DfuStatusReport> {
    const operation: DfuOperation = { request: 'RECOVER TO IDLE' };
    let report = await this.getStatus(operation);
    for (let step = 0; step < maxSteps; step++) {
      switch (report.state) {
        case DfuState.DfuIdle:
          return report;
        case DfuState.DfuError:
          await this.clearStatus();
          break;
        case DfuState.DfuDnloadIdle:
        case DfuState.DfuUploadIdle:
          await this.abort();
          break;
        case DfuState.DfuDnbusy:
          await this.pause(Math.max(this.clampPoll(report.pollTimeoutMs), this.options.repeatPollFloorMs));
          break;
        case DfuState.DfuDnloadSync:
        case DfuState.DfuManifestSync:
          // The next GETSTATUS moves these on by itself.
          break;
        default:
          throw new DfuStateError(operation, 'a DFU-mode state that can return to dfuIDLE', report, {
            hint: report.state <= DfuState.AppDetach
              ? 'The device is in run-time (application) mode. Switch it to DFU mode first (enterDfuMode).'
              : 'The device is manifesting or waiting for a reset. Reset the board (or the USB port) and open it again.',
          });
      }
      report = await this.getStatus(operation);
    }
    if (report.state === DfuState.DfuIdle) return report;
    throw new DfuStateError(operation, `dfuIDLE within ${maxSteps} steps`, report);
  }
}

/** Drops keys whose value is undefined, so they do not override defaults when spread. */
export function definedOnly<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as Partial<T>;
}
