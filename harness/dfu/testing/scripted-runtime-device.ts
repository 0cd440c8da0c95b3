// An application exposing a DFU run-time interface (class 0xFE/1/1), for testing the switch to
// DFU mode. What happens on DETACH and on the USB reset is scripted.
import type { Clock } from '../../clock/clock.js';
import {
  DfuAttribute, encodeConfigurationDescriptor, encodeDeviceDescriptor, encodeLanguageList, encodeStringDescriptor,
} from '../../usb/descriptors.js';
import type { GadgetReply, UsbGadget } from '../../usb/gadget.js';
import { DescriptorType, RequestKind, StandardRequest, type SetupPacket } from '../../usb/spec.js';
import { DfuRequest } from '../protocol.js';

/** Options of {@link ScriptedRuntimeDevice}. */
export interface ScriptedRuntimeDeviceOptions {
  clock: Clock;
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  /** The device detaches by itself after DETACH (bitWillDetach); otherwise it waits for a USB reset. */
  willDetach?: boolean;
  wDetachTimeOut?: number;
  /** How DETACH is answered (STALL, IO error or vanishing are all seen: NordicSemiconductor/nrf-device-setup-js PR #14). */
  detachReply?: 'ack' | 'stall' | 'disconnected';
  /** Virtual ms from DETACH (WillDetach) or reset to the switch. */
  switchDelayMs?: number;
  /** Called when the device switches to its bootloader; the test plugs the DFU-mode device here. */
  onSwitch: () => void;
  /** Never switch, whatever the host does. */
  ignoreDetach?: boolean;
  /** Offer the DFU run-time interface (default true); without it the app has no way into DFU over USB. */
  runtimeInterface?: boolean;
}

/** An application with a DFU run-time interface. */
export class ScriptedRuntimeDevice implements UsbGadget {
  detachRequests: SetupPacket[] = [];
  busResets = 0;
  private detached = false;
  private switched = false;

  constructor(private readonly options: ScriptedRuntimeDeviceOptions) {}

  control(setup: SetupPacket): GadgetReply {
    const kind = setup.bmRequestType & 0x60;
    if (kind === RequestKind.Standard) {
      if (setup.bRequest === StandardRequest.GetDescriptor) return this.descriptor(setup.wValue >> 8, setup.wValue & 0xff);
      return { type: 'ack' };
    }
    if (kind === RequestKind.Class && setup.bRequest === DfuRequest.Detach) {
      this.detachRequests.push(setup);
      this.detached = true;
      if (this.options.willDetach) this.switchSoon();
      const reply = this.options.detachReply ?? 'ack';
      if (reply === 'disconnected') this.switchSoon();
      return { type: reply };
    }
    return { type: 'stall' };
  }

  busReset(): void {
    this.busResets += 1;
    if (this.detached) this.switchSoon();
  }

  private switchSoon(): void {
    if (this.switched || this.options.ignoreDetach) return;
    this.switched = true;
    this.options.clock.setTimer(this.options.switchDelayMs ?? 50, () => this.options.onSwitch());
  }

  private descriptor(type: number, index: number): GadgetReply {
    const o = this.options;
    if (type === DescriptorType.Device) {
      return { type: 'ack', data: encodeDeviceDescriptor({
        bcdUSB: 0x0200, bDeviceClass: 0, bDeviceSubClass: 0, bDeviceProtocol: 0, bMaxPacketSize0: 64,
        idVendor: o.vendorId ?? 0x1209, idProduct: o.productId ?? 0x0001, bcdDevice: 0x0100,
        iManufacturer: 1, iProduct: 2, iSerialNumber: 3, bNumConfigurations: 1,
      }) };
    }
    if (type === DescriptorType.Configuration) {
      return { type: 'ack', data: encodeConfigurationDescriptor({
        bConfigurationValue: 1, iConfiguration: 0, bmAttributes: 0x80, bMaxPower: 0x32,
        interfaces: [
          { bInterfaceNumber: 0, bAlternateSetting: 0, bNumEndpoints: 1, bInterfaceClass: 0x02, bInterfaceSubClass: 2, bInterfaceProtocol: 1, iInterface: 0 },
          ...(o.runtimeInterface === false ? [] : [
            { bInterfaceNumber: 2, bAlternateSetting: 0, bNumEndpoints: 0, bInterfaceClass: 0xfe, bInterfaceSubClass: 1, bInterfaceProtocol: 1, iInterface: 4 },
          ]),
        ],
        dfuFunctional: {
          bmAttributes: DfuAttribute.CanDownload | (o.willDetach ? DfuAttribute.WillDetach : 0),
          wDetachTimeOut: o.wDetachTimeOut ?? 500, wTransferSize: 1024, bcdDFUVersion: 0x0110,
        },
      }) };
    }
    if (type === DescriptorType.String) {
      if (index === 0) return { type: 'ack', data: encodeLanguageList() };
      const strings: Record<number, string> = { 1: 'dfu-hil', 2: 'test application', 3: o.serialNumber ?? 'APP0001', 4: 'DFU run-time' };
      const text = strings[index];
      return text === undefined ? { type: 'stall' } : { type: 'ack', data: encodeStringDescriptor(text) };
    }
    return { type: 'stall' };
  }
}
