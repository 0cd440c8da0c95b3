import { DfuHilError, hex32 } from '../errors.js';
import { dfuStateName, dfuStatusName, type DfuStatusReport } from './protocol.js';

/** Where in a DFU session something failed: the request or command, and the address it concerned. */
export interface DfuOperation {
  /** "ERASE", "SET_ADDRESS", "DNLOAD#2", "GETSTATUS", "LEAVE", ... */
  request: string;
  address?: number;
}

/** "ERASE 0x08100000", or "GETSTATUS" without an address. */
export function formatOperation(op: DfuOperation): string {
  return op.address === undefined ? op.request : `${op.request} ${hex32(op.address)}`;
}

const STATUS_HINTS: Partial<Record<number, string>> = {
  0x01: 'The address is not accepted by this alternate setting (errTARGET): check the image address against the memory layout, and that the right alt setting is selected.',
  0x08: 'The address is out of range for this memory (errADDRESS): check the image address against the memory layout.',
  0x0b: 'The device refused the operation (errVENDOR); on ST\'s bootloader this means readout protection is active. Read Unprotect (which mass-erases the flash) lifts it.',
  0x03: 'The write failed (errWRITE): the sector may be write-protected, or not erased. Erase it and retry.',
  0x04: 'The erase failed (errERASE): the sector may be write-protected.',
  0x06: 'Programming failed (errPROG): check alignment (8 bytes on the STM32H7 bootloader) and that the area was erased.',
  0x0e: 'The device reported errUNKNOWN; clear the status and retry, or reset the board.',
};

/** The device reported a DFU error status (bStatus != OK, usually in dfuERROR). */
export class DfuError extends DfuHilError {
  readonly operation: DfuOperation;
  readonly report: DfuStatusReport;

  constructor(operation: DfuOperation, report: DfuStatusReport, options: { hint?: string; cause?: unknown } = {}) {
    super('dfu-status', `${dfuStatusName(report.status)} in ${dfuStateName(report.state)} after ${formatOperation(operation)}`, {
      hint: options.hint ?? STATUS_HINTS[report.status] ?? 'Clear the status (CLRSTATUS) and retry; if it persists, reset the board and check the image.',
      cause: options.cause,
    });
    this.operation = operation;
    this.report = report;
  }
}

/** An operation did not finish within its deadline (a device stuck in dfuDNBUSY, say). */
export class DfuTimeoutError extends DfuHilError {
  readonly operation: DfuOperation;
  readonly lastReport: DfuStatusReport | undefined;
  readonly elapsedMs: number;

  constructor(operation: DfuOperation, elapsedMs: number, lastReport: DfuStatusReport | undefined, options: { polls?: number; hint?: string } = {}) {
    const last = lastReport ? `, still ${dfuStateName(lastReport.state)}` : '';
    const polls = options.polls === undefined ? '' : ` and ${options.polls} GETSTATUS polls`;
    super('dfu-timeout', `${formatOperation(operation)} did not complete within ${Math.round(elapsedMs)} ms${polls}${last}`, {
      hint: options.hint ?? 'The device is slower than the operation deadline or stuck. Raise operationDeadlineMs if it is merely slow; otherwise reset the board.',
    });
    this.operation = operation;
    this.lastReport = lastReport;
    this.elapsedMs = elapsedMs;
  }
}

/** The device was in a state the protocol step does not allow (e.g. not dfuDNBUSY after a DfuSe command). */
export class DfuStateError extends DfuHilError {
  readonly operation: DfuOperation;
  readonly report: DfuStatusReport | undefined;

  constructor(operation: DfuOperation, expected: string, report: DfuStatusReport | undefined, options: { hint?: string } = {}) {
    const got = report ? `${dfuStateName(report.state)} (${dfuStatusName(report.status)})` : 'no status';
    super('dfu-state', `expected ${expected} after ${formatOperation(operation)}, the device reported ${got}`, {
      hint: options.hint ?? 'The device is not following the DFU state machine as expected. Reset the board and retry; if it repeats, record the transfer trace and report it.',
    });
    this.operation = operation;
    this.report = report;
  }
}

/** The device's descriptors do not allow a DFU session (no DFU interface, bad wTransferSize, ...). */
export class DfuDescriptorError extends DfuHilError {
  constructor(message: string, hint: string) {
    super('dfu-descriptor', message, { hint });
  }
}

/** Why an image range is refused before any request is sent. */
export type RangeProblem = 'outside-layout' | 'not-writable' | 'not-erasable' | 'not-readable' | 'misaligned' | 'overlap' | 'empty';

const RANGE_HINTS: Record<RangeProblem, string> = {
  'outside-layout': 'The image does not fit the memory this alternate setting describes. Check the load address (bank 1 is 0x08000000, bank 2 0x08100000 on the STM32H745) or select the alt setting for that memory.',
  'not-writable': 'The memory layout marks this range read-only; it cannot be programmed over DFU.',
  'not-erasable': 'The memory layout marks this range as not erasable, so it cannot be programmed safely over DfuSe.',
  'not-readable': 'The memory layout marks this range as not readable; it cannot be uploaded or verified.',
  misaligned: 'The bootloader needs aligned writes (8 bytes on the STM32H7 ROM); a misaligned write fails and poisons all later ones. Align the image start.',
  overlap: 'Two image segments write the same addresses. Fix the image so each byte is written once.',
  empty: 'The image has no data to write.',
};

/** An image segment was refused before the device was touched. */
export class DfuRangeError extends DfuHilError {
  readonly problem: RangeProblem;
  readonly address: number;

  constructor(problem: RangeProblem, address: number, detail: string) {
    super(`dfu-range-${problem}`, `${detail} at ${hex32(address)}`, { hint: RANGE_HINTS[problem], failureClass: 'usage' });
    this.problem = problem;
    this.address = address;
  }
}

/** A write to the option bytes without the caller's explicit permission. */
export class OptionBytesRefusedError extends DfuHilError {
  /** `what` completes "refusing to ...", e.g. 'write the option bytes ("Option Bytes") at 0x5200201C'. */
  constructor(what: string) {
    super('dfu-option-bytes-refused', `refusing to ${what} without allowOptionBytes`, {
      failureClass: 'usage',
      hint: 'Option bytes set boot addresses, protection and core enables; a wrong value can make the board unbootable. Pass allowOptionBytes: true only when the rig explicitly allows it.',
    });
  }
}

/** A write that would set readout protection level 2, which is refused whatever the caller asks. */
export class RdpLevel2RefusedError extends DfuHilError {
  constructor(address: number) {
    super('dfu-rdp2-refused', `refusing to write RDP = 0xCC (readout protection level 2) at ${hex32(address)}`, {
      failureClass: 'usage',
      hint: 'RDP level 2 is irreversible: debug is disabled forever and the option bytes freeze. dfu-hil never writes it. Use 0xAA (level 0) or another value (level 1).',
    });
  }
}

/** An option-byte block of the wrong size or address, which the bootloader would reject or misapply. */
export class OptionBytesFormatError extends DfuHilError {
  constructor(address: number, length: number, blockStart: number, blockSize: number) {
    super('dfu-option-bytes-format', `option-byte write of ${length} bytes at ${hex32(address)}; the bootloader takes exactly ${blockSize} bytes at ${hex32(blockStart)}`, {
      failureClass: 'usage',
      hint: 'Read the whole option-byte block first (upload), change the bytes you need, and write the whole block back.',
    });
  }
}

/** Read-back differs from what was written. */
export class DfuVerifyError extends DfuHilError {
  readonly address: number;
  readonly expected: number;
  readonly actual: number;

  constructor(address: number, expected: number, actual: number) {
    super('dfu-verify', `verify failed: at ${hex32(address)} expected 0x${hex2(expected)}, read 0x${hex2(actual)}`, {
      hint: 'The flash does not hold the image. The sector may be write-protected (the ST bootloader reports no error for that), the write may have been misaligned, or the erase did not happen. Erase and flash again.',
    });
    this.address = address;
    this.expected = expected;
    this.actual = actual;
  }
}

/** The run-time to DFU-mode switch did not produce a DFU-mode device. */
export class DfuDetachError extends DfuHilError {
  constructor(message: string, hint: string, options: { cause?: unknown } = {}) {
    super('dfu-detach', message, { hint, cause: options.cause });
  }
}

function hex2(value: number): string {
  return value.toString(16).toUpperCase().padStart(2, '0');
}

/**
 * The device left the bus in the middle of a step that does not end that way (before leave's
 * request, say): it reset, lost power or was unplugged, and did not do what was asked.
 */
export class DfuDisconnectedError extends DfuHilError {
  readonly operation: DfuOperation;

  constructor(operation: DfuOperation, during: string, options: { cause?: unknown } = {}) {
    super('dfu-disconnected', `the device left the bus during ${formatOperation(operation)} of ${during}, before the ${during} request was sent`, {
      hint: 'The board reset, lost power or was unplugged; it did not start the application. Check the USB cable and power, then enter DFU again (or power-cycle the board).',
      cause: options.cause,
    });
    this.operation = operation;
  }
}
