import type { TimerHandle } from '../../clock/clock.js';
import type { BootloaderHost } from '../contracts.js';
import { DfuseSession, type SessionLink } from './dfuse-session.js';
import { DfuDeviceState, DfuDeviceStatus } from './dfu-wire.js';
import { BootloaderFaults } from './faults.js';
import type { BootloaderProfile } from './profiles.js';

/** Options for {@link SystemBootloader}. */
export interface SystemBootloaderOptions {
  /** iSerialNumber text (12 hex characters on ST's ROM); default the profile's. */
  serialNumber?: string;
  /** Faults a spec has armed; default none. */
  faults?: BootloaderFaults;
}

/**
 * ST's system DFU bootloader (or another DfuSe bootloader, by profile) running on the simulated
 * chip. The board calls {@link start} when the chip boots into system memory or an application
 * jumps to it, and {@link stop} when the chip resets or loses power.
 */
export class SystemBootloader {
  readonly faults: BootloaderFaults;
  readonly serialNumber: string;
  private session: DfuseSession | undefined;
  private attachTimer: TimerHandle | undefined;
  private attached = false;

  constructor(readonly profile: BootloaderProfile, private readonly host: BootloaderHost, options: SystemBootloaderOptions = {}) {
    this.faults = options.faults ?? new BootloaderFaults();
    this.serialNumber = options.serialNumber ?? profile.usb.defaultSerialNumber;
  }

  /**
   * Runs the bootloader from its entry: PA11/PA12 go to the USB alternate function at once, and
   * the device attaches after the profile's startup delay (whole virtual ms, rounded up).
   * Anything the previous run left (alignment poisoning, address pointer, DFU state) is gone.
   */
  start(): void {
    this.stop();
    const link: SessionLink = {
      attach: () => {
        if (this.session !== session || this.attached) return;
        this.attached = true;
        this.host.attachUsb(session);
      },
      detach: () => {
        if (this.session !== session || !this.attached) return;
        this.attached = false;
        this.host.detachUsb();
      },
    };
    const session = new DfuseSession(this.profile, this.host, this.faults, this.serialNumber, link);
    this.session = session;
    this.host.claimUsbPins();
    this.attachTimer = this.host.clock.setTimer(Math.ceil(this.profile.timing.startupDelayMs), () => {
      this.attachTimer = undefined;
      link.attach();
    });
  }

  /** Stops the bootloader (reset or power loss): it leaves the bus if it was on it, and pending work is dropped. */
  stop(): void {
    this.attachTimer?.cancel();
    this.attachTimer = undefined;
    this.session?.kill();
    if (this.attached) {
      this.attached = false;
      this.host.detachUsb();
    }
  }

  /** True while a run is answering on USB or about to (not after leave, reset, power loss or a hang). */
  get running(): boolean {
    return this.session?.alive ?? false;
  }

  /** True while its device is plugged into the board's USB socket. */
  get attachedToUsb(): boolean {
    return this.attached;
  }

  /** True when the last run hangs (the V9.1 bank-2 erase quirk): it holds the bus but never answers. */
  get hung(): boolean {
    return this.session?.hung ?? false;
  }

  /** DFU state of the current (or last) run; dfuIDLE before any. */
  get state(): DfuDeviceState {
    return this.session?.state ?? DfuDeviceState.Idle;
  }

  /** DFU status of the current (or last) run. */
  get status(): DfuDeviceStatus {
    return this.session?.status ?? DfuDeviceStatus.Ok;
  }

  /** The DfuSe address pointer (default 0x08000000). */
  get addressPointer(): number {
    return this.session?.addressPointer ?? 0x0800_0000;
  }

  /** Where a leave would jump: the last Set Address Pointer or the last write address. */
  get jumpTarget(): number {
    return this.session?.jumpTarget ?? 0x0800_0000;
  }

  /** The alternate setting the host selected (0 = flash, 1 = option bytes on ST's ROM). */
  get altSetting(): number {
    return this.session?.altSetting ?? 0;
  }
}
