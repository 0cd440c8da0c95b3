// DFU 1.1 class requests, states and statuses, and ST's DfuSe commands (AN3156), as values on
// the wire. Shared by the host and by test devices; nothing here does I/O.
import { hex32 } from '../errors.js';
import type { RequestNamer, TraceEntry } from '../usb/trace.js';
import { RequestKind, StandardRequest, type SetupPacket } from '../usb/spec.js';

/** DFU 1.1 class requests (bRequest). */
export enum DfuRequest {
  Detach = 0,
  Dnload = 1,
  Upload = 2,
  GetStatus = 3,
  ClrStatus = 4,
  GetState = 5,
  Abort = 6,
}

/** DFU 1.1 device states (bState). */
export enum DfuState {
  AppIdle = 0,
  AppDetach = 1,
  DfuIdle = 2,
  DfuDnloadSync = 3,
  DfuDnbusy = 4,
  DfuDnloadIdle = 5,
  DfuManifestSync = 6,
  DfuManifest = 7,
  DfuManifestWaitReset = 8,
  DfuUploadIdle = 9,
  DfuError = 10,
}

/** DFU 1.1 status codes (bStatus). */
export enum DfuStatus {
  Ok = 0x00,
  ErrTarget = 0x01,
  ErrFile = 0x02,
  ErrWrite = 0x03,
  ErrErase = 0x04,
  ErrCheckErased = 0x05,
  ErrProg = 0x06,
  ErrVerify = 0x07,
  ErrAddress = 0x08,
  ErrNotDone = 0x09,
  ErrFirmware = 0x0a,
  ErrVendor = 0x0b,
  ErrUsbr = 0x0c,
  ErrPor = 0x0d,
  ErrUnknown = 0x0e,
  ErrStalledPkt = 0x0f,
}

const STATE_NAMES: Record<DfuState, string> = {
  [DfuState.AppIdle]: 'appIDLE',
  [DfuState.AppDetach]: 'appDETACH',
  [DfuState.DfuIdle]: 'dfuIDLE',
  [DfuState.DfuDnloadSync]: 'dfuDNLOAD-SYNC',
  [DfuState.DfuDnbusy]: 'dfuDNBUSY',
  [DfuState.DfuDnloadIdle]: 'dfuDNLOAD-IDLE',
  [DfuState.DfuManifestSync]: 'dfuMANIFEST-SYNC',
  [DfuState.DfuManifest]: 'dfuMANIFEST',
  [DfuState.DfuManifestWaitReset]: 'dfuMANIFEST-WAIT-RESET',
  [DfuState.DfuUploadIdle]: 'dfuUPLOAD-IDLE',
  [DfuState.DfuError]: 'dfuERROR',
};

const STATUS_NAMES: Record<DfuStatus, string> = {
  [DfuStatus.Ok]: 'OK',
  [DfuStatus.ErrTarget]: 'errTARGET',
  [DfuStatus.ErrFile]: 'errFILE',
  [DfuStatus.ErrWrite]: 'errWRITE',
  [DfuStatus.ErrErase]: 'errERASE',
  [DfuStatus.ErrCheckErased]: 'errCHECK_ERASED',
  [DfuStatus.ErrProg]: 'errPROG',
  [DfuStatus.ErrVerify]: 'errVERIFY',
  [DfuStatus.ErrAddress]: 'errADDRESS',
  [DfuStatus.ErrNotDone]: 'errNOTDONE',
  [DfuStatus.ErrFirmware]: 'errFIRMWARE',
  [DfuStatus.ErrVendor]: 'errVENDOR',
  [DfuStatus.ErrUsbr]: 'errUSBR',
  [DfuStatus.ErrPor]: 'errPOR',
  [DfuStatus.ErrUnknown]: 'errUNKNOWN',
  [DfuStatus.ErrStalledPkt]: 'errSTALLEDPKT',
};

const REQUEST_NAMES: Record<DfuRequest, string> = {
  [DfuRequest.Detach]: 'DETACH',
  [DfuRequest.Dnload]: 'DNLOAD',
  [DfuRequest.Upload]: 'UPLOAD',
  [DfuRequest.GetStatus]: 'GETSTATUS',
  [DfuRequest.ClrStatus]: 'CLRSTATUS',
  [DfuRequest.GetState]: 'GETSTATE',
  [DfuRequest.Abort]: 'ABORT',
};

/** The spec's name of a state ("dfuDNBUSY"); unknown values print as "state 0x2a". */
export function dfuStateName(state: number): string {
  return STATE_NAMES[state as DfuState] ?? `state 0x${state.toString(16)}`;
}

/** The spec's name of a status ("errTARGET"); unknown values print as "status 0x2a". */
export function dfuStatusName(status: number): string {
  return STATUS_NAMES[status as DfuStatus] ?? `status 0x${status.toString(16)}`;
}

/** The request's name ("GETSTATUS"). */
export function dfuRequestName(request: number): string {
  return REQUEST_NAMES[request as DfuRequest] ?? `request 0x${request.toString(16)}`;
}

/** The six bytes GETSTATUS returns. */
export interface DfuStatusReport {
  status: DfuStatus;
  /** bwPollTimeout: how long the host should wait before the next GETSTATUS, in ms (24 bits). */
  pollTimeoutMs: number;
  state: DfuState;
  iString: number;
}

/** Decodes a GETSTATUS payload; returns undefined when it is shorter than six bytes. */
export function decodeStatus(bytes: Uint8Array): DfuStatusReport | undefined {
  if (bytes.length < 6) return undefined;
  return {
    status: bytes[0]!,
    pollTimeoutMs: bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16),
    state: bytes[4]!,
    iString: bytes[5]!,
  };
}

/** Encodes a GETSTATUS payload (for devices). */
export function encodeStatus(report: DfuStatusReport): Uint8Array {
  const poll = Math.max(0, Math.min(0xffffff, Math.floor(report.pollTimeoutMs)));
  return Uint8Array.of(report.status, poll & 0xff, (poll >> 8) & 0xff, (poll >> 16) & 0xff, report.state, report.iString);
}

/** "errTARGET/dfuERROR", for messages. */
export function formatStatus(report: Pick<DfuStatusReport, 'status' | 'state'>): string {
  return `${dfuStatusName(report.status)}/${dfuStateName(report.state)}`;
}

/** DfuSe command bytes sent in a DNLOAD with wValue=0 (AN3156 §3-5). */
export enum DfuseCommand {
  Get = 0x00,
  SetAddressPointer = 0x21,
  Erase = 0x41,
  ReadUnprotect = 0x92,
}

/** wValue of the first data block: blocks 0 and 1 are reserved for commands by DfuSe. */
export const DFUSE_FIRST_DATA_BLOCK = 2;

/** The setup packet of a DFU class request to interface `interfaceNumber`. */
export function dfuSetup(request: DfuRequest, direction: 'in' | 'out', interfaceNumber: number, wValue: number, wLength: number): SetupPacket {
  return {
    bmRequestType: (direction === 'in' ? 0x80 : 0x00) | RequestKind.Class | 0x01,
    bRequest: request,
    wValue,
    wIndex: interfaceNumber,
    wLength,
  };
}

/** Encodes a DfuSe command with an optional 32-bit little-endian address. */
export function encodeDfuseCommand(command: DfuseCommand, address?: number): Uint8Array {
  if (address === undefined) return Uint8Array.of(command);
  const a = address >>> 0;
  return Uint8Array.of(command, a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, (a >>> 24) & 0xff);
}

/** A decoded DfuSe command, as read back from a DNLOAD wValue=0 payload. */
export type DecodedDfuseCommand =
  | { command: 'SET_ADDRESS'; address: number }
  | { command: 'ERASE'; address: number }
  | { command: 'MASS_ERASE' }
  | { command: 'READ_UNPROTECT' }
  | { command: 'GET' }
  | { command: 'UNKNOWN'; bytes: Uint8Array };

/** Decodes the payload of a DNLOAD with wValue=0. */
export function decodeDfuseCommand(bytes: Uint8Array): DecodedDfuseCommand {
  const address = (): number => (bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16) | (bytes[4]! << 24)) >>> 0;
  if (bytes.length === 5 && bytes[0] === DfuseCommand.SetAddressPointer) return { command: 'SET_ADDRESS', address: address() };
  if (bytes.length === 5 && bytes[0] === DfuseCommand.Erase) return { command: 'ERASE', address: address() };
  if (bytes.length === 1 && bytes[0] === DfuseCommand.Erase) return { command: 'MASS_ERASE' };
  if (bytes.length === 1 && bytes[0] === DfuseCommand.ReadUnprotect) return { command: 'READ_UNPROTECT' };
  if (bytes.length === 1 && bytes[0] === DfuseCommand.Get) return { command: 'GET' };
  return { command: 'UNKNOWN', bytes };
}

/** Human form of a DfuSe command: "SET_ADDRESS 0x08000000", "MASS_ERASE". */
export function formatDfuseCommand(command: DecodedDfuseCommand): string {
  switch (command.command) {
    case 'SET_ADDRESS':
    case 'ERASE':
      return `${command.command} ${hex32(command.address)}`;
    case 'UNKNOWN':
      return `COMMAND ${Array.from(command.bytes.slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
    default:
      return command.command;
  }
}

const STANDARD_NAMES: Record<number, string> = {
  [StandardRequest.GetStatus]: 'GET_STATUS',
  [StandardRequest.ClearFeature]: 'CLEAR_FEATURE',
  [StandardRequest.SetAddress]: 'SET_ADDRESS_USB',
  [StandardRequest.GetDescriptor]: 'GET_DESCRIPTOR',
  [StandardRequest.GetConfiguration]: 'GET_CONFIG',
  [StandardRequest.SetConfiguration]: 'SET_CONFIG',
  [StandardRequest.GetInterface]: 'GET_INTERFACE',
  [StandardRequest.SetInterface]: 'SET_INTERFACE',
};

/**
 * Names requests in a transfer trace. DfuSe overloads DNLOAD and UPLOAD by wValue, so the name
 * says which use it is: "DNLOAD(cmd)" (wValue 0, the command bytes follow in the data),
 * "DNLOAD#2" (data block 2), "LEAVE" (zero-length DNLOAD), "UPLOAD(get)" (command list).
 */
export const dfuRequestNamer: RequestNamer = (setup) => {
  const kind = setup.bmRequestType & 0x60;
  if (kind === RequestKind.Standard) return STANDARD_NAMES[setup.bRequest];
  if (kind !== RequestKind.Class) return undefined;
  switch (setup.bRequest) {
    case DfuRequest.Dnload:
      if (setup.wLength === 0) return 'LEAVE';
      return setup.wValue === 0 ? 'DNLOAD(cmd)' : `DNLOAD#${setup.wValue}`;
    case DfuRequest.Upload:
      return setup.wValue === 0 ? 'UPLOAD(get)' : `UPLOAD#${setup.wValue}`;
    default:
      return REQUEST_NAMES[setup.bRequest as DfuRequest];
  }
};

/**
 * One line per DFU class transfer, with DfuSe commands decoded from the recorded data bytes:
 * "SET_ADDRESS 0x08000000 ok", "DNLOAD#2 1024 ok", "GETSTATUS ok". For reports and for tests
 * that assert what went over the wire. Needs the trace to keep at least 5 data bytes per entry.
 */
export function describeDfuTransfers(entries: readonly TraceEntry[]): string[] {
  const lines: string[] = [];
  for (const e of entries) {
    if (e.kind !== 'control' || !e.setup) {
      lines.push(`bus ${e.kind}`);
      continue;
    }
    const s = e.setup;
    if ((s.bmRequestType & 0x60) !== RequestKind.Class) continue;
    let what = dfuRequestNamer(s) ?? `request 0x${s.bRequest.toString(16)}`;
    if (s.bRequest === DfuRequest.Dnload && s.wValue === 0 && s.wLength > 0 && e.data) {
      what = formatDfuseCommand(decodeDfuseCommand(e.data.slice(0, s.wLength)));
    } else if (s.bRequest === DfuRequest.Dnload && s.wLength > 0) {
      what = `${what} ${s.wLength}`;
    } else if (s.bRequest === DfuRequest.Upload && s.wValue !== 0) {
      what = `${what} ${s.wLength}`;
    } else if (s.bRequest === DfuRequest.GetStatus && e.data) {
      const report = decodeStatus(e.data);
      if (report) what = `${what} ${formatStatus(report)}`;
    }
    lines.push(`${what} ${e.result}`);
  }
  return lines;
}
