import type { SetupPacket } from './spec.js';
import type { TransferTrace } from './trace.js';
import type { UsbDescription } from './descriptors.js';

/** What identifies a device on a bus before it is opened. */
export interface UsbDeviceInfo {
  vendorId: number;
  productId: number;
  /** iSerialNumber's string, when the device has one. */
  serialNumber: string | undefined;
  /** Physical location ("1-4.2"); survives re-enumeration, unlike the address. */
  portPath: string;
  busNumber: number;
  deviceAddress: number;
}

/** Picks devices; every field given must match. VID/PID compare as numbers, serials exactly. */
export interface UsbDeviceFilter {
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  portPath?: string;
}

/** An opened device: control transfers and descriptors, every transfer recorded. */
export interface UsbTransport {
  readonly info: UsbDeviceInfo;
  readonly trace: TransferTrace;
  /** Device, configuration and string descriptors, read once and cached. */
  describe(): Promise<UsbDescription>;
  /** IN control transfer of up to `setup.wLength` bytes. */
  controlIn(setup: SetupPacket, timeoutMs: number): Promise<Uint8Array>;
  /** OUT control transfer; `setup.wLength` must equal `data.length`. */
  controlOut(setup: SetupPacket, data: Uint8Array, timeoutMs: number): Promise<void>;
  claimInterface(interfaceNumber: number): Promise<void>;
  selectAltSetting(interfaceNumber: number, alternateSetting: number): Promise<void>;
  /** Drives a USB bus reset on the device's port; the device may re-enumerate. */
  reset(): Promise<void>;
  close(): Promise<void>;
}

/** A device arriving or leaving. */
export interface UsbBusEvent {
  type: 'attach' | 'detach';
  device: UsbDeviceInfo;
}

/** Where devices are found: libusb on a bench, an in-process bus for the simulated board. */
export interface UsbBus {
  list(filter?: UsbDeviceFilter): Promise<UsbDeviceInfo[]>;
  open(device: UsbDeviceInfo): Promise<UsbTransport>;
  /** Resolves with the first matching device present now or attached before the deadline. */
  waitForDevice(filter: UsbDeviceFilter, timeoutMs: number): Promise<UsbDeviceInfo>;
  /** Resolves once `device` (this enumeration of it) has left the bus. */
  waitForDetach(device: UsbDeviceInfo, timeoutMs: number): Promise<void>;
  /** Reports attach and detach; returns an unsubscribe. */
  watch(listener: (event: UsbBusEvent) => void): () => void;
}

/** True when `device` satisfies every field of `filter`. */
export function matchesFilter(device: UsbDeviceInfo, filter: UsbDeviceFilter): boolean {
  return (filter.vendorId === undefined || filter.vendorId === device.vendorId)
    && (filter.productId === undefined || filter.productId === device.productId)
    && (filter.serialNumber === undefined || filter.serialNumber === device.serialNumber)
    && (filter.portPath === undefined || filter.portPath === device.portPath);
}

/** "0483:df11 SN 200364500000 @1-4.2", for messages. */
export function describeDevice(device: UsbDeviceInfo): string {
  const id = `${device.vendorId.toString(16).padStart(4, '0')}:${device.productId.toString(16).padStart(4, '0')}`;
  return `${id}${device.serialNumber ? ` SN ${device.serialNumber}` : ''} @${device.portPath}`;
}

/** Formats a filter for error messages. */
export function describeFilter(filter: UsbDeviceFilter): string {
  const parts: string[] = [];
  if (filter.vendorId !== undefined || filter.productId !== undefined) {
    const v = filter.vendorId?.toString(16).padStart(4, '0') ?? '*';
    const p = filter.productId?.toString(16).padStart(4, '0') ?? '*';
    parts.push(`${v}:${p}`);
  }
  if (filter.serialNumber !== undefined) parts.push(`SN ${filter.serialNumber}`);
  if (filter.portPath !== undefined) parts.push(`@${filter.portPath}`);
  return parts.join(' ') || 'any device';
}
