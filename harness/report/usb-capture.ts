// A test's USB transfers as a capture file for Wireshark: the pcapng attachment next to the
// text trace in each test's report.
import { writePcapng } from '../usb/pcapng.js';
import type { TraceEntry, TransferTrace } from '../usb/trace.js';
import { usbmonCapture } from '../usb/usbmon-capture.js';

/** The `-d` option that makes Wireshark/tshark decode a device's requests as DFU, e.g. `usb.product==0x0483df11,usbdfu`. */
export function dfuDecodeAs(vidPid: { vendorId: number; productId: number }): string {
  const hex = (n: number): string => n.toString(16).padStart(4, '0');
  return `usb.product==0x${hex(vidPid.vendorId)}${hex(vidPid.productId)},usbdfu`;
}

/**
 * `entries` (a slice of `trace`) as a pcapng file with the Linux usbmon link type. Each device's
 * descriptor reads come first, so Wireshark knows its VID:PID and interface classes.
 */
export function usbCaptureFile(trace: TransferTrace, entries: readonly TraceEntry[], bootloader: { vendorId: number; productId: number }): Uint8Array {
  return writePcapng(usbmonCapture(entries, {
    enumeration: (device) => trace.enumerationOf(device),
    // Wireshark releases that dispatch class requests by interface class decode DFU from the
    // descriptors alone; older ones (4.0) register the DFU dissector for a fixed list of
    // VID:PIDs only, and need it named.
    comment: `USB control transfers recorded by dfu-hil. Decode the bootloader's requests as DFU with: tshark -d ${dfuDecodeAs(bootloader)} (Wireshark: Decode As..., USB product).`,
  }));
}
