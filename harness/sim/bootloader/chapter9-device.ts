import {
  encodeConfigurationDescriptor, encodeDeviceDescriptor, encodeLanguageList, encodeStringDescriptor,
} from '../../usb/descriptors.js';
import type { GadgetReply } from '../../usb/gadget.js';
import {
  DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS, DescriptorType, DfuInterfaceProtocol, RequestRecipient, StandardRequest,
  type SetupPacket,
} from '../../usb/spec.js';
import type { BootloaderProfile } from './profiles.js';

const STALL: GadgetReply = { type: 'stall' };
const ack = (data?: Uint8Array): GadgetReply => (data ? { type: 'ack', data } : { type: 'ack' });

/**
 * The USB 2.0 chapter-9 side of the bootloader's device: its descriptors, built from the
 * profile, and the standard requests (GET_DESCRIPTOR, SET_CONFIGURATION, SET_INTERFACE, ...).
 */
export class Chapter9Device {
  /** The configuration value set by SET_CONFIGURATION (0 = unconfigured). */
  configuration = 0;
  /** The alternate setting selected on interface 0. */
  altSetting = 0;
  private readonly strings = new Map<number, string>();
  private readonly device: Uint8Array;
  private readonly config: Uint8Array;

  constructor(private readonly profile: BootloaderProfile, serialNumber: string) {
    const usb = profile.usb;
    this.strings.set(1, usb.manufacturer);
    this.strings.set(2, usb.product);
    this.strings.set(3, serialNumber);
    for (const alt of usb.altSettings) this.strings.set(alt.iInterface, alt.name);
    this.device = encodeDeviceDescriptor({
      bcdUSB: usb.bcdUSB, bDeviceClass: 0, bDeviceSubClass: 0, bDeviceProtocol: 0, bMaxPacketSize0: usb.bMaxPacketSize0,
      idVendor: usb.vendorId, idProduct: usb.productId, bcdDevice: usb.bcdDevice,
      iManufacturer: 1, iProduct: 2, iSerialNumber: 3, bNumConfigurations: 1,
    });
    this.config = encodeConfigurationDescriptor({
      ...usb.configuration,
      interfaces: usb.altSettings.map((alt, index) => ({
        bInterfaceNumber: 0, bAlternateSetting: index, bNumEndpoints: 0, bInterfaceClass: DFU_INTERFACE_CLASS,
        bInterfaceSubClass: DFU_INTERFACE_SUBCLASS, bInterfaceProtocol: DfuInterfaceProtocol.DfuMode, iInterface: alt.iInterface,
      })),
      dfuFunctional: usb.functional,
    });
  }

  /** Back to the unconfigured state, as after a bus reset. */
  reset(): void {
    this.configuration = 0;
    this.altSetting = 0;
  }

  /** Answers one standard request (USB 2.0 §9.4). */
  handle(setup: SetupPacket): GadgetReply {
    const recipient = setup.bmRequestType & 0x1f;
    switch (setup.bRequest) {
      case StandardRequest.GetDescriptor:
        return this.descriptor(setup);
      case StandardRequest.SetAddress:
        return ack();
      case StandardRequest.SetConfiguration: {
        const value = setup.wValue & 0xff;
        if (value !== 0 && value !== this.profile.usb.configuration.bConfigurationValue) return STALL;
        this.configuration = value;
        this.altSetting = 0;
        return ack();
      }
      case StandardRequest.GetConfiguration:
        return ack(Uint8Array.of(this.configuration));
      case StandardRequest.SetInterface:
        if (recipient !== RequestRecipient.Interface || setup.wIndex !== 0 || setup.wValue >= this.profile.usb.altSettings.length) return STALL;
        this.altSetting = setup.wValue;
        return ack();
      case StandardRequest.GetInterface:
        if (setup.wIndex !== 0) return STALL;
        return ack(Uint8Array.of(this.altSetting));
      case StandardRequest.GetStatus:
        // Device: bit 0 self-powered, as bmAttributes 0xC0 says; interface and endpoint: 0.
        return ack(Uint8Array.of(recipient === RequestRecipient.Device && (this.profile.usb.configuration.bmAttributes & 0x40) !== 0 ? 1 : 0, 0));
      case StandardRequest.ClearFeature:
        return ack();
      default:
        return STALL;
    }
  }

  private descriptor(setup: SetupPacket): GadgetReply {
    const type = setup.wValue >> 8;
    const index = setup.wValue & 0xff;
    if (type === DescriptorType.Device) return ack(this.device);
    if (type === DescriptorType.Configuration) return index === 0 ? ack(this.config) : STALL;
    if (type === DescriptorType.String) {
      if (index === 0) return ack(encodeLanguageList(this.profile.usb.langIds));
      const text = this.strings.get(index);
      return text === undefined ? STALL : ack(encodeStringDescriptor(text));
    }
    return STALL;
  }
}
