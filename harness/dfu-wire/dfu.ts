// DFU 1.1 as it travels on the wire: class requests, device states, status codes and the
// GETSTATUS payload. The one definition the DFU host and the simulated devices share; it knows
// neither of them. Values are fixed by the USB DFU 1.1 specification (USB-IF, "Device Class
// Specification for Device Firmware Upgrade", version 1.1).
import { RequestKind, RequestRecipient, type SetupPacket } from '../usb/spec.js';

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

/** The request's name ("GETSTATUS"); unknown values print as "request 0x2a". */
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

/** Encodes a GETSTATUS payload; the poll timeout is rounded and clamped to its 24 bits. */
export function encodeStatus(report: DfuStatusReport): Uint8Array {
  const poll = Math.max(0, Math.min(0xffffff, Math.round(report.pollTimeoutMs)));
  return Uint8Array.of(report.status, poll & 0xff, (poll >> 8) & 0xff, (poll >> 16) & 0xff, report.state, report.iString);
}

/** "errTARGET/dfuERROR", for messages. */
export function formatStatus(report: Pick<DfuStatusReport, 'status' | 'state'>): string {
  return `${dfuStatusName(report.status)}/${dfuStateName(report.state)}`;
}

/** The setup packet of a DFU class request to interface `interfaceNumber`. */
export function dfuSetup(request: DfuRequest, direction: 'in' | 'out', interfaceNumber: number, wValue: number, wLength: number): SetupPacket {
  return {
    bmRequestType: (direction === 'in' ? 0x80 : 0x00) | RequestKind.Class | RequestRecipient.Interface,
    bRequest: request,
    wValue,
    wIndex: interfaceNumber,
    wLength,
  };
}

/** True for the requests whose data stage flows from the device (UPLOAD, GETSTATUS, GETSTATE). */
export function isDfuInRequest(request: number): boolean {
  return request === DfuRequest.Upload || request === DfuRequest.GetStatus || request === DfuRequest.GetState;
}
