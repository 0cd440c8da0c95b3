// How the DFU host names what it sees on the wire: request names for transfer traces and
// one-line descriptions of DFU transfers. The wire vocabulary itself (requests, states,
// statuses, DfuSe commands) is defined once in harness/dfu-wire/, shared with simulated devices,
// and re-exported here for the host's callers.
import type { RequestNamer, TraceEntry } from '../usb/trace.js';
import { RequestKind, StandardRequest } from '../usb/spec.js';
import { decodeStatus, dfuRequestName, DfuRequest, formatStatus } from '../dfu-wire/dfu.js';
import { decodeDfuseCommand, formatDfuseCommand } from '../dfu-wire/dfuse.js';

export * from '../dfu-wire/dfu.js';
export * from '../dfu-wire/dfuse.js';

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
      return setup.bRequest <= DfuRequest.Abort ? dfuRequestName(setup.bRequest) : undefined;
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
