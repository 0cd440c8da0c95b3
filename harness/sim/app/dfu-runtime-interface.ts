// The application's own USB device with a DFU run-time interface, as ST's Cube DFU class and
// TinyUSB's dfu_rt give an STM32 application: class 0xFE, subclass 1, protocol 1 and a DFU
// functional descriptor (DFU 1.1 §4.1), under the application's own VID:PID. DFU_DETACH
// starts the way into the ROM bootloader, which then enumerates as 0483:df11 on the same
// socket. This is the application's USB, not the ROM's: a board-level device that the modelled
// or executed application offers by a board setting (no register model of the OTG core).
//
// The state machine is DFU 1.1 Appendix A.2.1/A.2.2 (USB-IF, "Device Class Specification for
// Device Firmware Upgrade", version 1.1): DETACH in appIDLE moves to appDETACH and, when the
// functional descriptor says bitWillDetach, the device detaches from the bus by itself;
// otherwise it starts its detach timer (wValue of DETACH, at most wDetachTimeOut) and enters
// DFU mode only on a USB reset before the timer runs out. GETSTATUS and GETSTATE are answered
// in both states; any other DFU request stalls (and ends appDETACH).
import { DfuRequest, DfuState, DfuStatus, encodeStatus } from '../../dfu-wire/dfu.js';
import { DfuAttribute } from '../../usb/descriptors.js';
import type { GadgetReply, UsbGadget } from '../../usb/gadget.js';
import {
  DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS, DfuInterfaceProtocol, RequestKind, RequestRecipient, type SetupPacket,
} from '../../usb/spec.js';
import { Chapter9Device } from '../usb-device/chapter9-device.js';

/** What the application's USB device looks like and how it detaches: a board setting. */
export interface DfuRuntimeSettings {
  /** The application's own VID:PID (never the ROM's 0483:df11). */
  vendorId: number;
  productId: number;
  /** iSerialNumber; the board gives its own when absent. */
  serialNumber?: string;
  /** iManufacturer; default "dfu-hil". */
  manufacturer?: string;
  /** iProduct; the board gives the image's name and version when absent. */
  product?: string;
  /** bcdDevice; default 0x0100. */
  bcdDevice?: number;
  /**
   * bitWillDetach: the device leaves the bus by itself after DETACH, and the host must not reset
   * it. Default false, DFU 1.1's base case: the host resets the device after DETACH.
   */
  willDetach?: boolean;
  /** wDetachTimeOut, ms: the longest the device waits for the USB reset after DETACH. Default 1000 (what dfu-util asks for). */
  detachTimeoutMs?: number;
  /**
   * From the application's start to its device on the bus, ms: clock and USB set-up, D+ pull-up,
   * the host's debounce and enumeration. Default 100 (assumed, as the ROM's re-enumeration).
   */
  connectDelayMs?: number;
}

/** Misbehaviour seen in the field (field-notes.md, failure mode 18), armed on the board. */
export class DfuRuntimeFaults {
  /**
   * How DETACH is answered: `stall` (the class driver stalls it, yet the application acts on it)
   * or `vanish` (the application reboots before the status stage, so the host sees the device
   * gone). Undefined: acknowledged.
   */
  detachReply: 'stall' | 'vanish' | undefined = undefined;
  /** The application acknowledges DETACH and never acts on it. */
  ignoreDetach = false;

  /** Back to a well-behaved device. */
  clear(): void {
    this.detachReply = undefined;
    this.ignoreDetach = false;
  }
}

/** What the chip gives the device: its time, timers a reset cancels, and the ways off the bus. */
export interface DfuRuntimeHost {
  /** The chip's time, ms. */
  now(): number;
  /** A timer that a reset of the chip cancels. */
  after(ms: number, fn: () => void): { cancel(): void };
  /** False once the application no longer runs (a fault handler, a lockup): its device stops answering. */
  running(): boolean;
  /** The application drops its D+ pull-up: the device leaves the bus. */
  disconnect(): void;
  /** What the application then does to reach the ROM bootloader (the magic word and a system reset). */
  rebootToBootloader(): void;
}

/** Default wDetachTimeOut, ms. */
export const DEFAULT_DETACH_TIMEOUT_MS = 1000;
/** Default time from the application's start to its enumeration, ms. */
export const DEFAULT_APP_CONNECT_DELAY_MS = 100;

/** The application function itself (interface 0, vendor-specific) comes first, so the run-time interface is not interface 0. */
const APP_INTERFACE = 0;
const RUNTIME_INTERFACE = 1;
/** Delay between the status stage of DETACH and a WillDetach device leaving the bus: the stack finishes the transfer first. */
const STATUS_STAGE_MS = 1;

const STALL: GadgetReply = { type: 'stall' };

/** One run of the application's USB device, from its enumeration to the next reset or detach. */
export class DfuRuntimeDevice implements UsbGadget {
  private readonly chapter9: Chapter9Device;
  private dfuState: DfuState.AppIdle | DfuState.AppDetach = DfuState.AppIdle;
  /**
   * When the detach timer runs out. Read when the device is next asked or reset rather than set
   * as a timer: a pending timer would let a virtual clock jump past it while a real host (dfu-util
   * under the USB emulation) is between its DETACH and its reset, which takes it microseconds.
   */
  private detachDeadline: number | undefined;
  private left = false;

  constructor(
    private readonly settings: DfuRuntimeSettings & { serialNumber: string; product: string },
    private readonly faults: DfuRuntimeFaults,
    private readonly host: DfuRuntimeHost,
  ) {
    const attributes = DfuAttribute.CanDownload | DfuAttribute.CanUpload | (settings.willDetach ? DfuAttribute.WillDetach : 0);
    this.chapter9 = new Chapter9Device({
      device: {
        bcdUSB: 0x0200, bDeviceClass: 0, bDeviceSubClass: 0, bDeviceProtocol: 0, bMaxPacketSize0: 64,
        idVendor: settings.vendorId, idProduct: settings.productId, bcdDevice: settings.bcdDevice ?? 0x0100,
        iManufacturer: 1, iProduct: 2, iSerialNumber: 3, bNumConfigurations: 1,
      },
      configuration: {
        bConfigurationValue: 1, iConfiguration: 0, bmAttributes: 0x80, bMaxPower: 0x32,
        interfaces: [
          { bInterfaceNumber: APP_INTERFACE, bAlternateSetting: 0, bNumEndpoints: 0, bInterfaceClass: 0xff, bInterfaceSubClass: 0, bInterfaceProtocol: 0, iInterface: 2 },
          {
            bInterfaceNumber: RUNTIME_INTERFACE, bAlternateSetting: 0, bNumEndpoints: 0, bInterfaceClass: DFU_INTERFACE_CLASS,
            bInterfaceSubClass: DFU_INTERFACE_SUBCLASS, bInterfaceProtocol: DfuInterfaceProtocol.Runtime, iInterface: 4,
          },
        ],
        // DFU 1.1 §4.1.3: the functional descriptor follows the run-time interface.
        dfuFunctional: {
          bmAttributes: attributes, wDetachTimeOut: settings.detachTimeoutMs ?? DEFAULT_DETACH_TIMEOUT_MS,
          wTransferSize: 1024, bcdDFUVersion: 0x0110,
        },
      },
      strings: new Map([[1, settings.manufacturer ?? 'dfu-hil'], [2, settings.product], [3, settings.serialNumber], [4, 'DFU run-time']]),
    });
  }

  /** appIDLE or appDETACH. */
  get state(): DfuState.AppIdle | DfuState.AppDetach {
    this.expireDetach();
    return this.dfuState;
  }

  control(setup: SetupPacket): GadgetReply {
    if (this.left) return { type: 'disconnected' };
    if (!this.host.running()) return { type: 'silent' };
    const kind = setup.bmRequestType & 0x60;
    if (kind === RequestKind.Standard) return this.chapter9.handle(setup);
    const toRuntime = (setup.bmRequestType & 0x1f) === RequestRecipient.Interface && (setup.wIndex & 0xff) === RUNTIME_INTERFACE;
    if (kind !== RequestKind.Class || !toRuntime) return STALL;
    this.expireDetach();
    switch (setup.bRequest) {
      case DfuRequest.Detach: return this.detach(setup.wValue);
      case DfuRequest.GetStatus:
        return { type: 'ack', data: encodeStatus({ status: DfuStatus.Ok, pollTimeoutMs: 0, state: this.dfuState, iString: 0 }) };
      case DfuRequest.GetState: return { type: 'ack', data: Uint8Array.of(this.dfuState) };
      default:
        // A.2.2: any other DFU request stalls, and in appDETACH ends the detach.
        this.toAppIdle();
        return STALL;
    }
  }

  busReset(): void {
    if (this.left || !this.host.running()) return;
    this.chapter9.reset();
    // A.2.2: a reset while the detach timer runs enters DFU mode; in appIDLE it is an ordinary reset.
    this.expireDetach();
    if (this.dfuState === DfuState.AppDetach && this.detachDeadline !== undefined) this.enterBootloader();
  }

  private detach(wValue: number): GadgetReply {
    if (this.faults.ignoreDetach) return { type: 'ack' };
    this.dfuState = DfuState.AppDetach;
    if (this.faults.detachReply === 'vanish') {
      this.enterBootloader();
      return { type: 'disconnected' };
    }
    if (this.settings.willDetach) {
      this.host.after(STATUS_STAGE_MS, () => this.enterBootloader());
    } else {
      const limit = this.settings.detachTimeoutMs ?? DEFAULT_DETACH_TIMEOUT_MS;
      this.detachDeadline = this.host.now() + Math.min(wValue, limit);
    }
    return this.faults.detachReply === 'stall' ? STALL : { type: 'ack' };
  }

  private toAppIdle(): void {
    this.detachDeadline = undefined;
    this.dfuState = DfuState.AppIdle;
  }

  /** A.2.2: the detach timer ran out without a reset; a later reset does not start DFU. */
  private expireDetach(): void {
    if (this.detachDeadline !== undefined && this.host.now() > this.detachDeadline) this.toAppIdle();
  }

  private enterBootloader(): void {
    if (this.left) return;
    this.left = true;
    this.detachDeadline = undefined;
    this.host.disconnect();
    this.host.rebootToBootloader();
  }
}
