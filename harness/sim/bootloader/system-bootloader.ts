import type { TimerHandle } from '../../clock/clock.js';
import { DfuState, DfuStatus } from '../../dfu-wire/dfu.js';
import type { BootloaderHost } from '../contracts.js';
import { DfuseDeviceModel, type DfuSessionState } from './dfuse-device-model.js';
import { DfuseSession, type SessionLink } from './dfuse-session.js';
import { BootloaderFaults } from './faults.js';
import type { BootloaderProfile } from './profiles.js';

/** Options for {@link SystemBootloader}. */
export interface SystemBootloaderOptions {
  /** iSerialNumber text (12 hex characters on ST's ROM); default the profile's. */
  serialNumber?: string;
  /** Faults a spec has armed; default none. */
  faults?: BootloaderFaults;
  /**
   * A DFU session saved with the board while it was in DFU mode: the first {@link SystemBootloader.start}
   * resumes it instead of starting in dfuIDLE, as a board at a bench keeps its session between two
   * host programs.
   */
  resume?: DfuSessionState;
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
  private resume: DfuSessionState | undefined;

  constructor(readonly profile: BootloaderProfile, private readonly host: BootloaderHost, options: SystemBootloaderOptions = {}) {
    this.faults = options.faults ?? new BootloaderFaults();
    this.serialNumber = options.serialNumber ?? profile.usb.defaultSerialNumber;
    this.resume = options.resume;
  }

  /**
   * Runs the bootloader from its entry: PA11/PA12 go to the USB alternate function at once, and
   * the device attaches after the profile's startup delay (whole virtual ms, rounded up).
   * Anything the previous run left (alignment poisoning, address pointer, DFU state) is gone,
   * unless this is the first run and a session was given to resume.
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
    const model = new DfuseDeviceModel(this.profile, { flash: this.host.flash, optionBytes: this.host.optionBytes }, {
      serialNumber: this.serialNumber, faults: this.faults, ...(this.resume ? { resume: this.resume } : {}),
    });
    this.resume = undefined;
    const session = new DfuseSession(model, this.host, link);
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
    return this.session?.model.alive ?? false;
  }

  /** True while its device is plugged into the board's USB socket. */
  get attachedToUsb(): boolean {
    return this.attached;
  }

  /** True when the last run hangs (the V9.1 bank-2 erase quirk): it holds the bus but never answers. */
  get hung(): boolean {
    return this.session?.model.hung ?? false;
  }

  /** The DFU session of the current run, for a board saved while in DFU mode; undefined when no run is alive. */
  sessionState(): DfuSessionState | undefined {
    const model = this.session?.model;
    return model?.alive ? model.session() : undefined;
  }

  /** DFU state of the current (or last) run; dfuIDLE before any. */
  get state(): DfuState {
    return this.session?.model.state ?? DfuState.DfuIdle;
  }

  /** DFU status of the current (or last) run. */
  get status(): DfuStatus {
    return this.session?.model.status ?? DfuStatus.Ok;
  }

  /** The DfuSe address pointer (default 0x08000000). */
  get addressPointer(): number {
    return this.session?.model.addressPointer ?? 0x0800_0000;
  }

  /** Where a leave would jump: the last Set Address Pointer or the last write address. */
  get jumpTarget(): number {
    return this.session?.model.jumpTarget ?? 0x0800_0000;
  }

  /** The alternate setting the host selected (0 = flash, 1 = option bytes on ST's ROM). */
  get altSetting(): number {
    return this.session?.model.altSetting ?? 0;
  }
}
