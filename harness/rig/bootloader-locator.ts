// Finds the rig's own board in DFU mode on its bus: by VID:PID *and* the serial number and port
// path rigs.yaml gives, because identical boards on one host get mixed up otherwise (a second
// NUCLEO in DFU mode shows the same 0483:df11). More than one match is an error naming them all,
// never a guess.
import { UsbError } from '../usb/errors.js';
import { describeDevice, describeFilter, matchesFilter, type UsbBus, type UsbDeviceFilter, type UsbDeviceInfo } from '../usb/transport.js';
import type { RigConfig } from './config/load-rigs.js';
import { RigInfrastructureError } from './rig-errors.js';

/** Values in rigs.yaml that are still the example's placeholders. */
export function isPlaceholder(value: string | undefined): boolean {
  return value !== undefined && /REPLACE|CHANGE-?ME|X{4,}/i.test(value);
}

/** More than one device matches the rig's bootloader filter: refuse to guess. */
export class AmbiguousDeviceError extends RigInfrastructureError {
  constructor(rig: string, filter: UsbDeviceFilter, devices: readonly UsbDeviceInfo[]) {
    super('rig-ambiguous-device', `rig "${rig}": ${devices.length} devices match ${describeFilter(filter)}: ${devices.map(describeDevice).join(', ')}`, {
      hint: 'Several boards are in DFU mode and the rig cannot tell which is its own: set usb.serial and usb.portPath in rigs.yaml (`dfu-hil devices` lists them), or unplug the others.',
    });
  }
}

/** The bus filter that picks `config`'s board in DFU mode (placeholders left out). */
export function bootloaderFilter(config: RigConfig): UsbDeviceFilter {
  const { vendorId, productId } = config.bootloader.vidPid;
  const { serial, portPath } = config.usb;
  return {
    vendorId, productId,
    ...(serial && !isPlaceholder(serial) ? { serialNumber: serial } : {}),
    ...(portPath && !isPlaceholder(portPath) ? { portPath } : {}),
  };
}

/** The rig's bootloader on its bus: whether it is there, waiting for it, and the enumeration last seen. */
export class BootloaderLocator {
  readonly filter: UsbDeviceFilter;
  private known: UsbDeviceInfo | undefined;

  constructor(private readonly config: RigConfig, private readonly bus: UsbBus) {
    this.filter = bootloaderFilter(config);
  }

  /** The devices matching the filter now; more than one is {@link AmbiguousDeviceError}. */
  async matching(): Promise<UsbDeviceInfo[]> {
    const found = await this.bus.list(this.filter);
    if (found.length > 1) throw new AmbiguousDeviceError(this.config.name, this.filter, found);
    return found;
  }

  /** True when the board's bootloader is on the bus now. */
  async present(): Promise<boolean> {
    return (await this.matching()).length > 0;
  }

  /** Waits for exactly one device matching the filter and remembers it. */
  async waitFor(timeoutMs: number): Promise<UsbDeviceInfo> {
    let device: UsbDeviceInfo;
    try {
      device = await this.bus.waitForDevice(this.filter, timeoutMs);
    } catch (error) {
      if (!(error instanceof UsbError && error.failure === 'not-found')) throw error;
      throw await this.notFound(timeoutMs, error);
    }
    this.known = (await this.matching())[0] ?? device;
    return this.known;
  }

  /** The enumeration last found if it is still on the bus, else the next one within the rig's enumeration timeout. */
  async current(): Promise<UsbDeviceInfo> {
    const known = this.known;
    const present = known ? (await this.matching()).find((d) => d.deviceAddress === known.deviceAddress && d.portPath === known.portPath) : undefined;
    return present ?? this.waitFor(this.config.timeouts.enumerationMs);
  }

  /** The board did not enumerate: say so, and name other boards in DFU mode, which a wrong filter would explain. */
  private async notFound(timeoutMs: number, cause: unknown): Promise<UsbError> {
    const { vendorId, productId } = this.config.bootloader.vidPid;
    const others = (await this.bus.list({ vendorId, productId })).filter((d) => !matchesFilter(d, this.filter));
    return new UsbError('not-found', `no device matching ${describeFilter(this.filter)} appeared within ${timeoutMs} ms${others.length > 0 ? `; other DFU devices present: ${others.map(describeDevice).join(', ')}` : ''}`, {
      cause,
      hint: others.length > 0
        ? 'Another board is in DFU mode, or usb.serial/usb.portPath in rigs.yaml do not describe this board: compare with `dfu-hil devices`.'
        : 'The board did not enumerate as the ROM bootloader: check the user USB cable (CN13), the console log for the entry command\'s answer, and the entry method\'s wiring.',
    });
  }
}
