// Encoding and decoding of standard and DFU descriptors, as bytes on the wire.
import { DescriptorType, LANGID_EN_US, RequestDirection, StandardRequest, type SetupPacket } from './spec.js';

/** The 18-byte device descriptor. */
export interface DeviceDescriptor {
  bcdUSB: number;
  bDeviceClass: number;
  bDeviceSubClass: number;
  bDeviceProtocol: number;
  bMaxPacketSize0: number;
  idVendor: number;
  idProduct: number;
  bcdDevice: number;
  iManufacturer: number;
  iProduct: number;
  iSerialNumber: number;
  bNumConfigurations: number;
}

/** The DFU functional descriptor (DFU 1.1 §4.1.3, type 0x21). */
export interface DfuFunctionalDescriptor {
  bmAttributes: number;
  wDetachTimeOut: number;
  wTransferSize: number;
  bcdDFUVersion: number;
}

/** One alternate setting of an interface, with its iInterface string resolved when read from a device. */
export interface InterfaceAltSetting {
  bInterfaceNumber: number;
  bAlternateSetting: number;
  bInterfaceClass: number;
  bInterfaceSubClass: number;
  bInterfaceProtocol: number;
  bNumEndpoints: number;
  iInterface: number;
  name?: string;
}

/** The configuration descriptor and what follows it. */
export interface ConfigurationDescriptor {
  bConfigurationValue: number;
  iConfiguration: number;
  bmAttributes: number;
  bMaxPower: number;
  interfaces: InterfaceAltSetting[];
  /** The DFU functional descriptor, if the configuration has one. */
  dfuFunctional?: DfuFunctionalDescriptor;
}

/** Everything a host learns about a device from its descriptors. */
export interface UsbDescription {
  device: DeviceDescriptor;
  manufacturer?: string;
  product?: string;
  serialNumber?: string;
  configuration: ConfigurationDescriptor;
}

/** Decoding failure: the device sent descriptors that do not parse. */
export class DescriptorError extends Error {}

/** DFU functional-descriptor attribute bits. */
export const DfuAttribute = { CanDownload: 0x01, CanUpload: 0x02, ManifestationTolerant: 0x04, WillDetach: 0x08 } as const;

export function encodeDeviceDescriptor(d: DeviceDescriptor): Uint8Array {
  const out = new Uint8Array(18);
  const v = new DataView(out.buffer);
  out[0] = 18; out[1] = DescriptorType.Device;
  v.setUint16(2, d.bcdUSB, true);
  out[4] = d.bDeviceClass; out[5] = d.bDeviceSubClass; out[6] = d.bDeviceProtocol; out[7] = d.bMaxPacketSize0;
  v.setUint16(8, d.idVendor, true); v.setUint16(10, d.idProduct, true); v.setUint16(12, d.bcdDevice, true);
  out[14] = d.iManufacturer; out[15] = d.iProduct; out[16] = d.iSerialNumber; out[17] = d.bNumConfigurations;
  return out;
}

export function decodeDeviceDescriptor(bytes: Uint8Array): DeviceDescriptor {
  if (bytes.length < 18 || bytes[1] !== DescriptorType.Device) throw new DescriptorError(`device descriptor is ${bytes.length} bytes of type ${bytes[1]}`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    bcdUSB: v.getUint16(2, true), bDeviceClass: bytes[4]!, bDeviceSubClass: bytes[5]!, bDeviceProtocol: bytes[6]!,
    bMaxPacketSize0: bytes[7]!, idVendor: v.getUint16(8, true), idProduct: v.getUint16(10, true),
    bcdDevice: v.getUint16(12, true), iManufacturer: bytes[14]!, iProduct: bytes[15]!, iSerialNumber: bytes[16]!,
    bNumConfigurations: bytes[17]!,
  };
}

/**
 * Encodes a configuration: the configuration descriptor, each interface alt setting, then the
 * DFU functional descriptor after the last interface (where DfuSe devices put it).
 */
export function encodeConfigurationDescriptor(c: ConfigurationDescriptor): Uint8Array {
  const parts: number[][] = [];
  const interfaceNumbers = new Set(c.interfaces.map((i) => i.bInterfaceNumber));
  for (const i of c.interfaces) {
    parts.push([9, DescriptorType.Interface, i.bInterfaceNumber, i.bAlternateSetting, i.bNumEndpoints,
      i.bInterfaceClass, i.bInterfaceSubClass, i.bInterfaceProtocol, i.iInterface]);
  }
  if (c.dfuFunctional) {
    const f = c.dfuFunctional;
    parts.push([9, DescriptorType.DfuFunctional, f.bmAttributes, f.wDetachTimeOut & 0xff, f.wDetachTimeOut >> 8,
      f.wTransferSize & 0xff, f.wTransferSize >> 8, f.bcdDFUVersion & 0xff, f.bcdDFUVersion >> 8]);
  }
  const total = 9 + parts.reduce((n, p) => n + p.length, 0);
  const head = [9, DescriptorType.Configuration, total & 0xff, total >> 8, interfaceNumbers.size,
    c.bConfigurationValue, c.iConfiguration, c.bmAttributes, c.bMaxPower];
  return Uint8Array.from([...head, ...parts.flat()]);
}

export function decodeConfigurationDescriptor(bytes: Uint8Array): ConfigurationDescriptor {
  if (bytes.length < 9 || bytes[1] !== DescriptorType.Configuration) throw new DescriptorError('not a configuration descriptor');
  const total = Math.min(bytes.length, bytes[2]! | (bytes[3]! << 8));
  const config: ConfigurationDescriptor = {
    bConfigurationValue: bytes[5]!, iConfiguration: bytes[6]!, bmAttributes: bytes[7]!, bMaxPower: bytes[8]!, interfaces: [],
  };
  let at = bytes[0]!;
  while (at + 2 <= total) {
    const len = bytes[at]!;
    if (len < 2 || at + len > total) throw new DescriptorError(`descriptor of length ${len} at offset ${at} overruns the configuration`);
    const type = bytes[at + 1]!;
    if (type === DescriptorType.Interface && len >= 9) {
      config.interfaces.push({
        bInterfaceNumber: bytes[at + 2]!, bAlternateSetting: bytes[at + 3]!, bNumEndpoints: bytes[at + 4]!,
        bInterfaceClass: bytes[at + 5]!, bInterfaceSubClass: bytes[at + 6]!, bInterfaceProtocol: bytes[at + 7]!,
        iInterface: bytes[at + 8]!,
      });
    } else if (type === DescriptorType.DfuFunctional && len >= 7) {
      config.dfuFunctional = {
        bmAttributes: bytes[at + 2]!,
        wDetachTimeOut: bytes[at + 3]! | (bytes[at + 4]! << 8),
        wTransferSize: bytes[at + 5]! | (bytes[at + 6]! << 8),
        // DFU 1.0 descriptors stop at 7 bytes and have no version field.
        bcdDFUVersion: len >= 9 ? bytes[at + 7]! | (bytes[at + 8]! << 8) : 0x0100,
      };
    }
    at += len;
  }
  return config;
}

/** String descriptor 0 (the language list) or a UTF-16LE string. */
export function encodeStringDescriptor(text: string): Uint8Array {
  const out = new Uint8Array(2 + text.length * 2);
  out[0] = out.length; out[1] = DescriptorType.String;
  for (let i = 0; i < text.length; i++) { out[2 + i * 2] = text.charCodeAt(i) & 0xff; out[3 + i * 2] = text.charCodeAt(i) >> 8; }
  return out;
}

export function encodeLanguageList(langIds: number[] = [LANGID_EN_US]): Uint8Array {
  return Uint8Array.from([2 + langIds.length * 2, DescriptorType.String, ...langIds.flatMap((l) => [l & 0xff, l >> 8])]);
}

export function decodeStringDescriptor(bytes: Uint8Array): string {
  if (bytes.length < 2 || bytes[1] !== DescriptorType.String) throw new DescriptorError('not a string descriptor');
  const len = Math.min(bytes[0]!, bytes.length);
  let s = '';
  for (let i = 2; i + 1 < len; i += 2) s += String.fromCharCode(bytes[i]! | (bytes[i + 1]! << 8));
  return s;
}

/** The GET_DESCRIPTOR setup packet for `type`/`index`. */
export function getDescriptorSetup(type: number, index: number, length: number, langId = 0): SetupPacket {
  return { bmRequestType: RequestDirection.In, bRequest: StandardRequest.GetDescriptor, wValue: (type << 8) | index, wIndex: langId, wLength: length };
}

/**
 * Reads a device's descriptors over control transfers, as libusb and the kernel do, and
 * resolves every string the host cares about (manufacturer, product, serial, iInterface).
 */
export async function readDescription(controlIn: (setup: SetupPacket) => Promise<Uint8Array>): Promise<UsbDescription> {
  const device = decodeDeviceDescriptor(await controlIn(getDescriptorSetup(DescriptorType.Device, 0, 18)));
  const head = await controlIn(getDescriptorSetup(DescriptorType.Configuration, 0, 9));
  const total = (head[2] ?? 9) | ((head[3] ?? 0) << 8);
  const configuration = decodeConfigurationDescriptor(await controlIn(getDescriptorSetup(DescriptorType.Configuration, 0, total)));
  const readString = async (index: number): Promise<string | undefined> => {
    if (index === 0) return undefined;
    return decodeStringDescriptor(await controlIn(getDescriptorSetup(DescriptorType.String, index, 255, LANGID_EN_US)));
  };
  for (const alt of configuration.interfaces) {
    const name = await readString(alt.iInterface);
    if (name !== undefined) alt.name = name;
  }
  const description: UsbDescription = { device, configuration };
  const manufacturer = await readString(device.iManufacturer);
  const product = await readString(device.iProduct);
  const serialNumber = await readString(device.iSerialNumber);
  if (manufacturer !== undefined) description.manufacturer = manufacturer;
  if (product !== undefined) description.product = product;
  if (serialNumber !== undefined) description.serialNumber = serialNumber;
  return description;
}
