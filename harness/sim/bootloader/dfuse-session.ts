import type { TimerHandle } from '../../clock/clock.js';
import type { GadgetReply, UsbGadget } from '../../usb/gadget.js';
import { RequestKind, RequestRecipient, type SetupPacket } from '../../usb/spec.js';
import type { BankNumber, BootloaderHost } from '../contracts.js';
import { isInterruptibleFlash } from '../flash/sim-flash.js';
import { Chapter9Device } from './chapter9-device.js';
import { DfuDeviceState, DfuDeviceStatus, DfuRequestCode, DfuseCommand, encodeStatus } from './dfu-wire.js';
import type { BootloaderFaults, BusyOperation } from './faults.js';
import type { AltTarget, BootloaderProfile } from './profiles.js';
import { BootloaderRam } from './bootloader-ram.js';

const STALL: GadgetReply = { type: 'stall' };
const DISCONNECTED: GadgetReply = { type: 'disconnected' };
const SILENT: GadgetReply = { type: 'silent' };
const ack = (data?: Uint8Array): GadgetReply => (data ? { type: 'ack', data } : { type: 'ack' });

/** What the session needs of the bootloader that runs it: the bus connection, kept idempotent there. */
export interface SessionLink {
  /** Plugs this session's device into the board's USB socket (once). */
  attach(): void;
  /** Takes it off (once). */
  detach(): void;
}

/** A DNLOAD received and waiting for the GETSTATUS that executes it (AN3156: commands run on GETSTATUS). */
interface PendingDownload {
  wValue: number;
  data: Uint8Array;
  target: AltTarget;
}

/**
 * One run of the bootloader's USB device, from start-up to leave, reset or power loss: the
 * DFU 1.1 state machine with ST's DfuSe extensions (AN3156) on top of the chip's flash and
 * option bytes. Busy operations answer dfuDNBUSY at once and then NAK (the control transfer
 * does not complete) until the flash is done on the host clock, so a host whose control
 * timeout is shorter than the operation fails as it would on a real bus.
 */
export class DfuseSession implements UsbGadget {
  state: DfuDeviceState = DfuDeviceState.Idle;
  status: DfuDeviceStatus = DfuDeviceStatus.Ok;
  /** The base for block addresses, set by Set Address Pointer (AN3156 §6.3). */
  addressPointer = 0x0800_0000;
  /** Where leave jumps: the last Set Address Pointer or the last write address (AN3156 §5.5). */
  jumpTarget = 0x0800_0000;
  /** Why the device no longer answers: it dropped off the bus, or it hangs. */
  private gone: 'disconnected' | 'silent' | undefined;
  /** Off the bus for a while after a disconnect fault. */
  private offBus = false;
  private pending: PendingDownload | undefined;
  private nakUntil = 0;
  private flashBusyUntil = 0;
  /** V9.1 bank-2 erase: GETSTATUS keeps answering dfuDNBUSY until CLRSTATUS. */
  private stuckErase = false;
  /** AN2606 §4.6: after a misaligned write, every later write fails until the bootloader is entered again. */
  private writesPoisoned = false;
  private requestSeq = 0;
  private readonly timers = new Set<TimerHandle>();
  private readonly chapter9: Chapter9Device;
  private readonly ram = new BootloaderRam();

  constructor(
    private readonly profile: BootloaderProfile,
    private readonly host: BootloaderHost,
    private readonly faults: BootloaderFaults,
    serialNumber: string,
    private readonly link: SessionLink,
  ) {
    this.chapter9 = new Chapter9Device(profile, serialNumber);
  }

  /** True until the session leaves, resets, loses power or is stopped. */
  get alive(): boolean {
    return this.gone === undefined;
  }

  /** True when the device has stopped answering altogether (the V9.1 hang). */
  get hung(): boolean {
    return this.gone === 'silent';
  }

  /** The alternate setting the host selected. */
  get altSetting(): number {
    return this.chapter9.altSetting;
  }

  /** Ends the session: nothing more is answered and pending timers (leave, reset) are dropped. */
  kill(): void {
    this.gone ??= 'disconnected';
    for (const t of this.timers) t.cancel();
    this.timers.clear();
  }

  control(setup: SetupPacket, data: Uint8Array | undefined): GadgetReply | Promise<GadgetReply> {
    const seq = ++this.requestSeq;
    const wait = this.nakUntil - this.host.clock.now();
    if (wait > 0 && this.gone === undefined && !this.offBus) {
      // NAK until the flash is done; a newer SETUP replaces this one, as in the USB controller's buffer.
      return this.host.clock.sleep(wait).then(() => (seq === this.requestSeq ? this.answer(setup, data) : SILENT));
    }
    return this.answer(setup, data);
  }

  busReset(): void {
    if (this.gone || this.profile.busReset === 'keep-state') return;
    this.chapter9.reset();
    this.pending = undefined;
    this.stuckErase = false;
    this.state = DfuDeviceState.Idle;
    this.status = DfuDeviceStatus.Ok;
  }

  private answer(setup: SetupPacket, data: Uint8Array | undefined): GadgetReply {
    if (this.gone === 'silent') return SILENT;
    if (this.gone || this.offBus) return DISCONNECTED;
    const now = this.host.clock.now();
    const fault = this.faults.onTransfer(setup, now);
    if (fault?.type === 'stall') return STALL;
    if (fault?.type === 'disconnect') {
      this.dropOff(fault.reattachAfterMs);
      return DISCONNECTED;
    }
    const kind = setup.bmRequestType & 0x60;
    if (kind === RequestKind.Standard) return this.chapter9.handle(setup);
    const toInterface0 = (setup.bmRequestType & 0x1f) === RequestRecipient.Interface && setup.wIndex === 0;
    if (kind !== RequestKind.Class || !toInterface0) return STALL;
    return this.dfuRequest(setup, data ?? new Uint8Array());
  }

  private dfuRequest(setup: SetupPacket, data: Uint8Array): GadgetReply {
    const isIn = (setup.bmRequestType & 0x80) !== 0;
    const expectIn = setup.bRequest === DfuRequestCode.Upload || setup.bRequest === DfuRequestCode.GetStatus || setup.bRequest === DfuRequestCode.GetState;
    if (isIn !== expectIn) return this.invalid();
    switch (setup.bRequest) {
      case DfuRequestCode.Dnload: return this.dnload(setup, data);
      case DfuRequestCode.Upload: return this.upload(setup);
      case DfuRequestCode.GetStatus: return this.getStatus();
      case DfuRequestCode.ClrStatus: return this.clrStatus();
      case DfuRequestCode.GetState: return this.getState();
      case DfuRequestCode.Abort: return this.abort();
      case DfuRequestCode.Detach: return this.profile.detach === 'ignore' ? ack() : this.invalid();
      default: return this.invalid();
    }
  }

  /** A request the state does not allow: STALL, and dfuERROR with errSTALLEDPKT (an error already there is kept). */
  private invalid(): GadgetReply {
    this.stuckErase = false;
    this.pending = undefined;
    if (this.state !== DfuDeviceState.Error) {
      this.state = DfuDeviceState.Error;
      this.status = DfuDeviceStatus.ErrStalledPkt;
    }
    return STALL;
  }

  private dnload(setup: SetupPacket, data: Uint8Array): GadgetReply {
    if (this.state !== DfuDeviceState.Idle && this.state !== DfuDeviceState.DnloadIdle) return this.invalid();
    if (setup.wLength === 0) {
      this.state = DfuDeviceState.ManifestSync;
      return ack();
    }
    if (setup.wLength > this.profile.usb.functional.wTransferSize || setup.wValue === 1) return this.invalid();
    const alt = this.profile.usb.altSettings[this.chapter9.altSetting];
    this.pending = { wValue: setup.wValue, data: data.slice(), target: alt?.target ?? 'flash' };
    this.state = DfuDeviceState.DnloadSync;
    return ack();
  }

  private getStatus(): GadgetReply {
    const now = this.host.clock.now();
    switch (this.state) {
      case DfuDeviceState.DnloadSync: {
        if (this.faults.onFirstStatusAfterCommand(now)) return STALL;
        const pending = this.pending;
        this.pending = undefined;
        if (!pending) return this.fail(DfuDeviceStatus.ErrUnknown);
        return pending.wValue === 0 ? this.command(pending) : this.write(pending);
      }
      case DfuDeviceState.Dnbusy:
        if (this.stuckErase) return ack(encodeStatus(DfuDeviceStatus.Ok, this.profile.pollTimeoutMs.sectorErase, DfuDeviceState.Dnbusy));
        this.state = DfuDeviceState.DnloadIdle;
        this.status = DfuDeviceStatus.Ok;
        return this.statusReply(0);
      case DfuDeviceState.ManifestSync:
        return this.leave();
      default:
        return this.statusReply(0);
    }
  }

  private clrStatus(): GadgetReply {
    if (this.stuckErase) {
      // The V9.1 way out of a stuck bank-2 erase (facts §3): (errUNKNOWN, dfuERROR), then a second CLRSTATUS.
      this.stuckErase = false;
      this.state = DfuDeviceState.Error;
      this.status = DfuDeviceStatus.ErrUnknown;
      return ack();
    }
    if (this.state !== DfuDeviceState.Error) return this.invalid();
    this.state = DfuDeviceState.Idle;
    this.status = DfuDeviceStatus.Ok;
    return ack();
  }

  private getState(): GadgetReply {
    if (this.state === DfuDeviceState.Dnbusy) return this.invalid();
    return ack(Uint8Array.of(this.state));
  }

  private abort(): GadgetReply {
    const s = this.state;
    if (s !== DfuDeviceState.Idle && s !== DfuDeviceState.DnloadIdle && s !== DfuDeviceState.UploadIdle) return this.invalid();
    this.state = DfuDeviceState.Idle;
    this.status = DfuDeviceStatus.Ok;
    return ack();
  }

  private upload(setup: SetupPacket): GadgetReply {
    if (this.state !== DfuDeviceState.Idle && this.state !== DfuDeviceState.UploadIdle) return this.invalid();
    const length = setup.wLength;
    if (length === 0 || length > this.profile.usb.functional.wTransferSize || setup.wValue === 1) return this.invalid();
    if (setup.wValue === 0) return this.uploadReply(Uint8Array.from(this.profile.commands).slice(0, length), length);
    const address = ((setup.wValue - 2) * length + this.addressPointer) >>> 0;
    const target = this.profile.usb.altSettings[this.chapter9.altSetting]?.target ?? 'flash';
    const available = this.readable(address, target);
    if (available === 0) return this.uploadError(this.profile.outOfRangeStatus);
    if (this.host.optionBytes.rdpLevel() !== 0) return this.uploadError(this.profile.readProtectedStatus);
    const count = Math.min(length, available);
    if (target === 'option-bytes') {
      const offset = address - this.host.optionBytes.base;
      return this.uploadReply(this.host.optionBytes.readBlock().slice(offset, offset + count), length);
    }
    if (this.host.flash.contains(address, count)) {
      if (this.hangsOnFlashAccess()) return SILENT;
      return this.uploadReply(this.host.flash.read(address, count), length);
    }
    if (this.inRanges(address, this.profile.ramRanges)) return this.uploadReply(this.ram.read(address, count), length);
    return this.uploadReply(this.systemMemory(address, count), length);
  }

  /** Full frames keep dfuUPLOAD-IDLE; a short frame ends the upload (DFU 1.1 §6.2). */
  private uploadReply(data: Uint8Array, requested: number): GadgetReply {
    this.state = data.length < requested ? DfuDeviceState.Idle : DfuDeviceState.UploadIdle;
    this.status = DfuDeviceStatus.Ok;
    return ack(data);
  }

  private uploadError(status: DfuDeviceStatus | number): GadgetReply {
    this.state = DfuDeviceState.Error;
    this.status = status as DfuDeviceStatus;
    return STALL;
  }

  /** Bytes readable from `address` to the end of its memory on this alternate setting (0 = not readable). */
  private readable(address: number, target: AltTarget): number {
    if (target === 'option-bytes') {
      const ob = this.host.optionBytes;
      return address >= ob.base && address < ob.base + ob.blockSize ? ob.base + ob.blockSize - address : 0;
    }
    const flash = this.host.flash;
    if (flash.contains(address, 1)) return flash.base + flash.size - address;
    for (const r of [...this.profile.ramRanges, ...this.profile.readOnlyRanges]) {
      if (address >= r.start && address <= r.end) return r.end + 1 - address;
    }
    return 0;
  }

  /** Reads of system memory: erased-looking bytes with the bootloader ID in its last byte but one (AN2606 §4.2). */
  private systemMemory(address: number, count: number): Uint8Array {
    const out = new Uint8Array(count).fill(0xff);
    const idAddress = (this.profile.readOnlyRanges[0]?.end ?? 0) - 1;
    if (idAddress >= address && idAddress < address + count) out[idAddress - address] = this.profile.bootloaderId;
    return out;
  }

  private command(pending: PendingDownload): GadgetReply {
    const data = pending.data;
    const code = data[0];
    const address = data.length === 5 ? new DataView(data.buffer, data.byteOffset).getUint32(1, true) : undefined;
    if (code === DfuseCommand.SetAddressPointer && address !== undefined) return this.setAddress(address, pending.target);
    if (code === DfuseCommand.Erase && address !== undefined) return this.sectorErase(address);
    if (code === DfuseCommand.Erase && data.length === 1) return this.massErase();
    if (code === DfuseCommand.ReadUnprotect && data.length === 1) return this.readUnprotect();
    // AN3156 download flowchart: an unsupported command ends in dfuERROR with errSTALLEDPKT.
    return this.fail(DfuDeviceStatus.ErrStalledPkt);
  }

  private setAddress(address: number, target: AltTarget): GadgetReply {
    if (this.readable(address, target) === 0) return this.fail(this.profile.outOfRangeStatus);
    this.addressPointer = address;
    this.jumpTarget = address;
    return this.enterBusy('set-address', 0, this.profile.pollTimeoutMs.setAddress);
  }

  private sectorErase(address: number): GadgetReply {
    const flash = this.host.flash;
    if (!flash.contains(address, 1)) return this.fail(this.profile.outOfRangeStatus);
    if (this.host.optionBytes.rdpLevel() !== 0) return this.fail(this.profile.readProtectedStatus);
    if (this.hangsOnFlashAccess()) return SILENT;
    const bankSize = flash.size / 2;
    const bank: BankNumber = address - flash.base < bankSize ? 1 : 2;
    const sector = Math.floor((address - flash.base - (bank - 1) * bankSize) / flash.sectorSize);
    const now = this.host.clock.now();
    const cut = this.faults.onSectorErase(bank, sector, now);
    if (cut !== undefined) {
      if (isInterruptibleFlash(flash)) flash.eraseSectorUntilPowerLoss(bank, sector, cut);
      return this.powerLoss();
    }
    const { durationMs } = flash.eraseSector(bank, sector);
    if (bank === 2 && this.profile.quirks.bank2EraseStaysBusy) {
      // V9.1: the software leaves while the erase runs on; every GETSTATUS says dfuDNBUSY until CLRSTATUS.
      this.flashBusyUntil = this.waitForFlash(now) + durationMs;
      this.stuckErase = true;
      this.state = DfuDeviceState.Dnbusy;
      this.status = DfuDeviceStatus.Ok;
      return ack(encodeStatus(DfuDeviceStatus.Ok, this.profile.pollTimeoutMs.sectorErase, DfuDeviceState.Dnbusy));
    }
    return this.enterBusy('sector-erase', durationMs, this.profile.pollTimeoutMs.sectorErase);
  }

  private massErase(): GadgetReply {
    if (this.host.optionBytes.rdpLevel() !== 0) return this.fail(this.profile.readProtectedStatus);
    if (this.hangsOnFlashAccess()) return SILENT;
    const { durationMs } = this.host.flash.massErase();
    return this.enterBusy('mass-erase', durationMs, this.profile.pollTimeoutMs.massErase);
  }

  /**
   * Read Unprotect (AN3156 §6.5): answers dfuDNBUSY, then disconnects, regresses (a protected chip
   * loses its flash and options; an unprotected one only its RAM) and resets the system.
   */
  private readUnprotect(): GadgetReply {
    const ob = this.host.optionBytes;
    if (ob.rdpLevel() === 2) return this.fail(this.profile.readProtectedStatus);
    const delay = this.profile.timing.disconnectDelayMs;
    this.state = DfuDeviceState.Dnbusy;
    this.nakUntil = this.host.clock.now() + delay;
    this.later(delay, () => {
      this.gone = 'disconnected';
      this.link.detach();
      this.ram.clear();
      const busy = ob.rdpLevel() === 1 ? ob.regressToLevel0().durationMs : 0;
      this.later(busy, () => this.host.systemReset(this.profile.readUnprotectResetCause));
    });
    return ack(encodeStatus(DfuDeviceStatus.Ok, this.profile.pollTimeoutMs.readUnprotect, DfuDeviceState.Dnbusy));
  }

  private write(pending: PendingDownload): GadgetReply {
    const { data, wValue } = pending;
    // AN3156: address = ((wBlockNum − 2) × wTransferSize) + Address_Pointer, wTransferSize being this request's length.
    const address = ((wValue - 2) * data.length + this.addressPointer) >>> 0;
    if (pending.target === 'option-bytes') return this.writeOptionBytes(address, data);
    const flash = this.host.flash;
    const inFlash = flash.contains(address, data.length);
    const inRam = !inFlash && this.inRanges(address, this.profile.ramRanges) && this.inRanges(address + data.length - 1, this.profile.ramRanges);
    if (!inFlash && !inRam) return this.fail(this.profile.outOfRangeStatus);
    if (this.host.optionBytes.rdpLevel() !== 0) return this.fail(this.profile.readProtectedStatus);
    this.jumpTarget = address;
    if (inRam) {
      this.ram.write(address, data);
      return this.enterBusy('write', 0, this.profile.pollTimeoutMs.write);
    }
    if (this.writesPoisoned || address % this.profile.writeAlignment.bytes !== 0) {
      this.writesPoisoned = true;
      return this.fail(this.profile.writeAlignment.errorStatus);
    }
    if (this.hangsOnFlashAccess()) return SILENT;
    const now = this.host.clock.now();
    const cut = this.faults.onProgram(data.length, now);
    if (cut !== undefined) {
      if (isInterruptibleFlash(flash)) flash.programUntilPowerLoss(address, data, cut);
      else if (cut > 0) flash.program(address, data.subarray(0, cut));
      return this.powerLoss();
    }
    const { durationMs } = flash.program(address, data);
    return this.enterBusy('write', durationMs, this.profile.pollTimeoutMs.write);
  }

  /** Option bytes (AN3156 §6.4): the whole block at its base; erase + program, then a system reset with no second GETSTATUS. */
  private writeOptionBytes(address: number, data: Uint8Array): GadgetReply {
    const ob = this.host.optionBytes;
    if (address !== ob.base || data.length !== ob.blockSize) return this.fail(this.profile.outOfRangeStatus);
    if (ob.rdpLevel() !== 0) return this.fail(this.profile.readProtectedStatus);
    const { durationMs } = ob.programBlock(data);
    this.gone = 'disconnected';
    this.link.detach();
    this.later(durationMs, () => this.host.systemReset(this.profile.optionBytesResetCause));
    return DISCONNECTED;
  }

  /** The GETSTATUS in dfuMANIFEST-SYNC: report dfuMANIFEST, then drop off, restore peripherals and jump. */
  private leave(): GadgetReply {
    if (this.faults.onLeave(this.host.clock.now())) {
      this.finishLeave();
      return DISCONNECTED;
    }
    this.state = DfuDeviceState.Manifest;
    this.status = DfuDeviceStatus.Ok;
    const delay = this.profile.timing.disconnectDelayMs;
    this.nakUntil = this.host.clock.now() + delay;
    this.later(delay, () => this.finishLeave());
    return ack(encodeStatus(DfuDeviceStatus.Ok, this.profile.pollTimeoutMs.leave, DfuDeviceState.Manifest));
  }

  private finishLeave(): void {
    if (this.gone) return;
    this.gone = 'disconnected';
    this.link.detach();
    this.host.restorePeripherals(this.profile.leave.restoresPeripheralsCompletely);
    this.host.jumpTo(this.jumpTarget);
  }

  /** Reports dfuDNBUSY and NAKs for the busy time (a lying-poll fault changes what is reported and/or how long). */
  private enterBusy(operation: BusyOperation, durationMs: number, pollTimeoutMs: number): GadgetReply {
    const now = this.host.clock.now();
    const lie = this.faults.onBusy(operation, now);
    // The flash interface finishes any earlier operation first.
    const start = this.waitForFlash(now);
    const busyUntil = start + (lie?.busyMs ?? durationMs);
    if (durationMs > 0 || lie?.busyMs !== undefined) this.flashBusyUntil = busyUntil;
    this.nakUntil = busyUntil;
    this.state = DfuDeviceState.Dnbusy;
    this.status = DfuDeviceStatus.Ok;
    return ack(encodeStatus(DfuDeviceStatus.Ok, lie?.reportMs ?? pollTimeoutMs, DfuDeviceState.Dnbusy));
  }

  private waitForFlash(now: number): number {
    return Math.max(now, this.flashBusyUntil);
  }

  /** V9.1: a flash command while the abandoned bank-2 erase still runs hangs the bootloader for good. */
  private hangsOnFlashAccess(): boolean {
    if (!this.profile.quirks.flashCommandDuringEraseHangs || this.host.clock.now() >= this.flashBusyUntil) return false;
    this.gone = 'silent';
    return true;
  }

  private fail(status: DfuDeviceStatus | number): GadgetReply {
    this.state = DfuDeviceState.Error;
    this.status = status as DfuDeviceStatus;
    return this.statusReply(0);
  }

  private statusReply(pollTimeoutMs: number): GadgetReply {
    return ack(encodeStatus(this.status, pollTimeoutMs, this.state));
  }

  private powerLoss(): GadgetReply {
    this.kill();
    this.link.detach();
    this.host.powerOff();
    return DISCONNECTED;
  }

  /** A disconnect fault: off the bus, and back as a fresh enumeration in dfuIDLE if asked. */
  private dropOff(reattachAfterMs: number | undefined): void {
    this.offBus = true;
    this.link.detach();
    if (reattachAfterMs === undefined) return;
    this.later(reattachAfterMs, () => {
      this.offBus = false;
      this.chapter9.reset();
      this.pending = undefined;
      this.stuckErase = false;
      this.state = DfuDeviceState.Idle;
      this.status = DfuDeviceStatus.Ok;
      this.link.attach();
    });
  }

  private inRanges(address: number, ranges: readonly { start: number; end: number }[]): boolean {
    return ranges.some((r) => address >= r.start && address <= r.end);
  }

  private later(ms: number, fn: () => void): void {
    const handle = this.host.clock.setTimer(ms, () => {
      this.timers.delete(handle);
      fn();
    });
    this.timers.add(handle);
  }
}
