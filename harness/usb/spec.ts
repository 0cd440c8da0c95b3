// Values defined by the USB 2.0 and DFU 1.1 specifications: what travels on the wire,
// shared by the host side and by simulated devices.

/** The 8-byte SETUP packet of a control transfer. */
export interface SetupPacket {
  bmRequestType: number;
  bRequest: number;
  wValue: number;
  wIndex: number;
  wLength: number;
}

/** bmRequestType bits. */
export const RequestDirection = { Out: 0x00, In: 0x80 } as const;
export const RequestKind = { Standard: 0x00, Class: 0x20, Vendor: 0x40 } as const;
export const RequestRecipient = { Device: 0x00, Interface: 0x01, Endpoint: 0x02 } as const;

/** Standard requests (USB 2.0 table 9-4). */
export const StandardRequest = {
  GetStatus: 0x00,
  ClearFeature: 0x01,
  SetAddress: 0x05,
  GetDescriptor: 0x06,
  GetConfiguration: 0x08,
  SetConfiguration: 0x09,
  GetInterface: 0x0a,
  SetInterface: 0x0b,
} as const;

/** Descriptor types (USB 2.0 table 9-5, DFU 1.1 §4.1.3). */
export const DescriptorType = {
  Device: 0x01,
  Configuration: 0x02,
  String: 0x03,
  Interface: 0x04,
  Endpoint: 0x05,
  DfuFunctional: 0x21,
} as const;

/** US English, the language every device here is asked for. */
export const LANGID_EN_US = 0x0409;

/** DFU interface class codes (DFU 1.1 §4.1.2, §4.2.3). */
export const DFU_INTERFACE_CLASS = 0xfe;
export const DFU_INTERFACE_SUBCLASS = 0x01;
export const DfuInterfaceProtocol = { Runtime: 0x01, DfuMode: 0x02 } as const;

/** Serialises a setup packet as it appears on the wire. */
export function encodeSetup(setup: SetupPacket): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint8(0, setup.bmRequestType);
  view.setUint8(1, setup.bRequest);
  view.setUint16(2, setup.wValue, true);
  view.setUint16(4, setup.wIndex, true);
  view.setUint16(6, setup.wLength, true);
  return out;
}

/** Parses 8 wire bytes back into a setup packet. */
export function decodeSetup(bytes: Uint8Array): SetupPacket {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return {
    bmRequestType: view.getUint8(0),
    bRequest: view.getUint8(1),
    wValue: view.getUint16(2, true),
    wIndex: view.getUint16(4, true),
    wLength: view.getUint16(6, true),
  };
}

/** True when the data stage of `setup` flows from device to host. */
export function isDeviceToHost(setup: SetupPacket): boolean {
  return (setup.bmRequestType & 0x80) !== 0;
}
