// A transfer trace as a Linux usbmon capture, so that Wireshark's USB and DFU dissectors read
// it like a capture taken on a Linux host (`tshark -i usbmon1`).
//
// Each control transfer becomes the two events usbmon reports: a submission ('S', with the
// setup packet and any OUT data) and a completion ('C', with the status and any IN data).
// Header layout: Linux Documentation/usb/usbmon.rst, "Raw binary format and API"
// (struct usbmon_packet, 64 bytes with the ISO fields: LINKTYPE_USB_LINUX_MMAPPED, 220, the
// link type libpcap writes for usbmon captures). Data kept as the trace keeps it: a transfer
// whose data the trace clipped is marked as such (captured length below the URB length).
import { encodeSetup, type SetupPacket } from './spec.js';
import type { PcapngCapture, PcapngPacket } from './pcapng.js';
import type { EnumerationRead, TraceEntry } from './trace.js';

/** LINKTYPE_USB_LINUX_MMAPPED (tcpdump.org link-layer header types). */
export const LINKTYPE_USB_LINUX_MMAPPED = 220;

const HEADER_BYTES = 64;
const TRANSFER_CONTROL = 2;
const URB_SUBMIT = 0x53; // 'S'
const URB_COMPLETE = 0x43; // 'C'
const NO_SETUP = 0x2d; // '-'
const NO_DATA_IN_SUBMIT = 0x3c; // '<': an IN transfer's data comes with its completion
const NO_DATA_OUT_COMPLETE = 0x3e; // '>': an OUT transfer's data went with its submission

// URB status values (negative errno, Linux include/uapi/asm-generic/errno*.h) as usbmon reports
// them: Documentation/driver-api/usb/error-codes.rst.
const EINPROGRESS = -115;
const STATUS_OF_RESULT: Readonly<Record<string, number>> = {
  ok: 0,
  stall: -32, // EPIPE: the endpoint stalled
  'no-device': -108, // ESHUTDOWN: the device was removed
  timeout: -104, // ECONNRESET: the host unlinked the URB at its timeout
};
const EPROTO = -71;

/** A setup-less event the trace records (attach, detach, reset), kept as a packet comment. */
interface PendingNote {
  device: string;
  text: string;
}

/** Options of {@link usbmonCapture}. */
export interface UsbmonCaptureOptions {
  /** Wall-clock ms that trace time 0 stands for; default 0 (times relative to the rig's clock start). */
  epochMs?: number;
  /**
   * The descriptor reads a host made to learn a device (see TransferTrace.enumerationOf), shown
   * before the device's first transfer: Wireshark learns the device's VID:PID and interface
   * classes from them, which its class dissectors need.
   */
  enumeration?: (device: string) => readonly EnumerationRead[] | undefined;
  interfaceName?: string;
  comment?: string;
}

/** Bus number and device address from a trace's device label, `portPath#address` (bus from "1-4.2"). */
export function usbAddressOf(device: string): { bus: number; address: number } {
  const [port = '', address = ''] = device.split('#');
  const bus = /^(\d+)-/.exec(port)?.[1];
  return { bus: bus ? Number(bus) : 1, address: Number(address) & 0x7f };
}

interface UrbEvent {
  id: bigint;
  type: number;
  bus: number;
  address: number;
  setup: SetupPacket;
  /** ms on the trace's clock. */
  t: number;
  status: number;
  urbLength: number;
  data: Uint8Array;
  dataFlag: number;
}

function urbHeader(e: UrbEvent, epochMs: number): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + e.data.length);
  const view = new DataView(out.buffer);
  const us = BigInt(Math.round((epochMs + e.t) * 1000));
  view.setBigUint64(0, e.id, true);
  view.setUint8(8, e.type);
  view.setUint8(9, TRANSFER_CONTROL);
  view.setUint8(10, e.setup.bmRequestType & 0x80); // endpoint 0, with the transfer's direction
  view.setUint8(11, e.address);
  view.setUint16(12, e.bus, true);
  view.setUint8(14, e.type === URB_SUBMIT ? 0 : NO_SETUP);
  view.setUint8(15, e.dataFlag);
  view.setBigInt64(16, us / 1_000_000n, true);
  view.setInt32(24, Number(us % 1_000_000n), true);
  view.setInt32(28, e.status, true);
  view.setUint32(32, e.urbLength, true);
  view.setUint32(36, e.data.length, true);
  if (e.type === URB_SUBMIT) out.set(encodeSetup(e.setup), 40);
  // interval, start_frame, xfer_flags, ndesc: 0 for control transfers.
  out.set(e.data, HEADER_BYTES);
  return out;
}

/** The submission and completion of one control transfer. */
function controlEvents(
  id: bigint, device: string, t: number, setup: SetupPacket, result: string, data: Uint8Array | undefined, length: number | undefined,
): [UrbEvent, UrbEvent] {
  const { bus, address } = usbAddressOf(device);
  const isIn = (setup.bmRequestType & 0x80) !== 0;
  const ok = result === 'ok';
  const bytes = data ?? new Uint8Array(0);
  const submit: UrbEvent = {
    id, type: URB_SUBMIT, bus, address, setup, t, status: EINPROGRESS, urbLength: setup.wLength,
    data: isIn ? new Uint8Array(0) : bytes, dataFlag: isIn ? NO_DATA_IN_SUBMIT : 0,
  };
  const complete: UrbEvent = {
    id, type: URB_COMPLETE, bus, address, setup, t, status: STATUS_OF_RESULT[result] ?? EPROTO,
    urbLength: ok ? (isIn ? length ?? bytes.length : setup.wLength) : 0,
    data: isIn && ok ? bytes : new Uint8Array(0), dataFlag: isIn ? 0 : NO_DATA_OUT_COMPLETE,
  };
  return [submit, complete];
}

/**
 * The trace's control transfers as a pcapng capture with the usbmon link type. Attach, detach
 * and reset have no usbmon event: they become comments on the next packet of that device (or on
 * the file, when no packet follows). The trace records when a transfer completed, so both of its
 * events carry that time.
 */
export function usbmonCapture(entries: readonly TraceEntry[], options: UsbmonCaptureOptions = {}): PcapngCapture {
  const epochMs = options.epochMs ?? 0;
  const packets: PcapngPacket[] = [];
  const pending: PendingNote[] = [];
  const enumerated = new Set<string>();
  // URB ids only need to pair a submission with its completion; numbered like kernel addresses.
  let urb = 0xffff_8880_0000_0000n;
  const push = (device: string, events: UrbEvent[], resultNote?: string): void => {
    const notes = pending.filter((n) => n.device === device);
    for (const n of notes) pending.splice(pending.indexOf(n), 1);
    events.forEach((e, i) => {
      const comment = [...(i === 0 ? notes.map((n) => n.text) : []), ...(i === events.length - 1 && resultNote ? [resultNote] : [])].join('; ');
      const data = urbHeader(e, epochMs);
      // On the wire the URB carried its whole data stage; the trace kept only its first bytes.
      const wireData = e.dataFlag === 0 ? e.urbLength : 0;
      packets.push({ timestampUs: BigInt(Math.round((epochMs + e.t) * 1000)), data, originalLength: HEADER_BYTES + Math.max(wireData, e.data.length), ...(comment ? { comment } : {}) });
    });
  };
  for (const e of entries) {
    if (e.kind !== 'control' || !e.setup) {
      pending.push({ device: e.device, text: `${e.device} ${e.kind}${e.result === 'ok' ? '' : ` (${e.result})`}` });
      continue;
    }
    if (options.enumeration && !enumerated.has(e.device)) {
      enumerated.add(e.device);
      for (const read of options.enumeration(e.device) ?? []) {
        urb += 0x100n;
        push(e.device, controlEvents(urb, e.device, e.t, read.setup, 'ok', read.data, read.data.length), 'descriptor read at enumeration');
      }
    }
    urb += 0x100n;
    push(e.device, controlEvents(urb, e.device, e.t, e.setup, e.result, e.data, e.length), e.result === 'ok' ? undefined : `result: ${e.result}`);
  }
  const trailing = pending.map((n) => n.text);
  const comment = [options.comment, ...(trailing.length > 0 ? [`after the last transfer: ${trailing.join('; ')}`] : [])].filter(Boolean).join('\n');
  return {
    linkType: LINKTYPE_USB_LINUX_MMAPPED,
    interfaceName: options.interfaceName ?? 'usbmon0',
    application: 'dfu-hil',
    ...(comment ? { comment } : {}),
    packets,
  };
}
