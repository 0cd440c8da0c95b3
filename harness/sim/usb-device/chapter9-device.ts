// The USB 2.0 chapter-9 side of a simulated device: its descriptors and the standard requests
// (GET_DESCRIPTOR, SET_CONFIGURATION, SET_INTERFACE, ...). The ROM bootloader and the
// application's run-time DFU interface each answer their standard requests through one.
import {
  encodeConfigurationDescriptor, encodeDeviceDescriptor, encodeLanguageList, encodeStringDescriptor,
  type ConfigurationDescriptor, type DeviceDescriptor,
} from '../../usb/descriptors.js';
import type { GadgetReply } from '../../usb/gadget.js';
import { DescriptorType, LANGID_EN_US, RequestRecipient, StandardRequest, type SetupPacket } from '../../usb/spec.js';

const STALL: GadgetReply = { type: 'stall' };
const ack = (data?: Uint8Array): GadgetReply => (data ? { type: 'ack', data } : { type: 'ack' });

/** Everything a device says about itself at enumeration. */
export interface Chapter9Descriptors {
  device: DeviceDescriptor;
  /** The one configuration; the DFU functional descriptor, if any, goes after its last interface. */
  configuration: ConfigurationDescriptor;
  /** String descriptors by index (1..n). */
  strings: ReadonlyMap<number, string>;
  /** String descriptor 0; default US English. */
  langIds?: readonly number[];
}

/** Descriptors and standard requests of one simulated device (USB 2.0 §9.4). */
export class Chapter9Device {
  /** The configuration value set by SET_CONFIGURATION (0 = unconfigured). */
  configuration = 0;
  /** The alternate setting selected on each interface that has more than the default. */
  private readonly alternates = new Map<number, number>();
  private readonly device: Uint8Array;
  private readonly config: Uint8Array;

  constructor(private readonly descriptors: Chapter9Descriptors) {
    this.device = encodeDeviceDescriptor(descriptors.device);
    this.config = encodeConfigurationDescriptor(descriptors.configuration);
  }

  /** The alternate setting selected on interface 0 (the DfuSe bootloader's memory). */
  get altSetting(): number {
    return this.alternateOf(0);
  }

  set altSetting(value: number) {
    this.alternates.set(0, value);
  }

  /** The alternate setting selected on `interfaceNumber`. */
  alternateOf(interfaceNumber: number): number {
    return this.alternates.get(interfaceNumber) ?? 0;
  }

  /** Back to the unconfigured state, as after a bus reset. */
  reset(): void {
    this.configuration = 0;
    this.alternates.clear();
  }

  /** Answers one standard request. */
  handle(setup: SetupPacket): GadgetReply {
    const recipient = setup.bmRequestType & 0x1f;
    const config = this.descriptors.configuration;
    switch (setup.bRequest) {
      case StandardRequest.GetDescriptor:
        return this.descriptor(setup);
      case StandardRequest.SetAddress:
        return ack();
      case StandardRequest.SetConfiguration: {
        const value = setup.wValue & 0xff;
        if (value !== 0 && value !== config.bConfigurationValue) return STALL;
        this.configuration = value;
        this.alternates.clear();
        return ack();
      }
      case StandardRequest.GetConfiguration:
        return ack(Uint8Array.of(this.configuration));
      case StandardRequest.SetInterface:
        if (recipient !== RequestRecipient.Interface || !this.hasAlternate(setup.wIndex, setup.wValue)) return STALL;
        this.alternates.set(setup.wIndex, setup.wValue);
        return ack();
      case StandardRequest.GetInterface:
        if (!this.hasAlternate(setup.wIndex, 0)) return STALL;
        return ack(Uint8Array.of(this.alternateOf(setup.wIndex)));
      case StandardRequest.GetStatus:
        // Device: bit 0 self-powered, as bmAttributes says; interface and endpoint: 0.
        return ack(Uint8Array.of(recipient === RequestRecipient.Device && (config.bmAttributes & 0x40) !== 0 ? 1 : 0, 0));
      case StandardRequest.ClearFeature:
        return ack();
      default:
        return STALL;
    }
  }

  private hasAlternate(interfaceNumber: number, alternate: number): boolean {
    return this.descriptors.configuration.interfaces.some((i) => i.bInterfaceNumber === interfaceNumber && i.bAlternateSetting === alternate);
  }

  private descriptor(setup: SetupPacket): GadgetReply {
    const type = setup.wValue >> 8;
    const index = setup.wValue & 0xff;
    if (type === DescriptorType.Device) return ack(this.device);
    if (type === DescriptorType.Configuration) return index === 0 ? ack(this.config) : STALL;
    if (type === DescriptorType.String) {
      if (index === 0) return ack(encodeLanguageList([...(this.descriptors.langIds ?? [LANGID_EN_US])]));
      const text = this.descriptors.strings.get(index);
      return text === undefined ? STALL : ack(encodeStringDescriptor(text));
    }
    return STALL;
  }
}
