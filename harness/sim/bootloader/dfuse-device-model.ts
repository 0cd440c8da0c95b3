// The DfuSe device as a pure state machine: setup packets and the time in, replies and effects
// out. No clock is slept on and no bus is touched here; DfuseSession drives it on a clock and
// carries out its effects on the chip, and host unit tests drive the same model through an
// in-process bus. One model, one truth: the DFU 1.1 state machine with ST's DfuSe extensions
// (AN3156) on top of the chip's flash and option bytes, every ROM-specific choice in the profile.
import { decodeDfuseCommand, dfuseBlockAddress } from '../../dfu-wire/dfuse.js';
import { DfuRequest, DfuState, DfuStatus, encodeStatus, isDfuInRequest } from '../../dfu-wire/dfu.js';
import type { GadgetReply } from '../../usb/gadget.js';
import {
  DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS, DfuInterfaceProtocol, RequestKind, RequestRecipient, type SetupPacket,
} from '../../usb/spec.js';
import type { BankNumber, FlashMemory, OptionBytesStore, ResetCause } from '../contracts.js';
import { BootloaderRam } from './bootloader-ram.js';
import { Chapter9Device, type Chapter9Descriptors } from '../usb-device/chapter9-device.js';
import type { BootloaderFaults, BusyOperation } from './faults.js';
import type { AltTarget, BootloaderProfile } from './profiles.js';

/** Something the device does to the chip or the bus, for its driver to carry out. */
export type DeviceEffect =
  | { type: 'attach' }
  | { type: 'detach' }
  | { type: 'restore-peripherals'; complete: boolean }
  | { type: 'jump'; vectorTable: number }
  | { type: 'system-reset'; cause: ResetCause }
  | { type: 'power-off' };

/** How the device answers a request: as a gadget would, or not yet (NAK until `until`, then ask again). */
export type ModelReply = GadgetReply | { type: 'nak'; until: number };

/** The answer to one request and what the device did meanwhile. */
export interface ModelStep {
  reply: ModelReply;
  effects: DeviceEffect[];
}

/** The memories the device reaches: the chip's user flash and option bytes. */
export interface DfuseDeviceMemory {
  flash: FlashMemory;
  optionBytes: OptionBytesStore;
}

/** A DNLOAD received and waiting for the GETSTATUS that executes it (AN3156 §4.1: commands run on GETSTATUS). */
export interface PendingDownload {
  wValue: number;
  data: Uint8Array;
  target: AltTarget;
}

/**
 * The DFU session as a board keeps it while it stays in DFU mode: what a second host program
 * meets after the first one exits (a dfuERROR, a pointer, a half-done download).
 */
export interface DfuSessionState {
  state: DfuState;
  status: DfuStatus;
  addressPointer: number;
  jumpTarget: number;
  altSetting: number;
  /** AN2606 §4.6: a misaligned write made every later write fail. */
  writesPoisoned: boolean;
  /** In dfuDNBUSY: what the next GETSTATUS reports, or 'stuck' for the V9.1 bank-2 erase that never ends. */
  afterBusy?: { state: DfuState; status: DfuStatus } | 'stuck';
  /** In dfuDNLOAD-SYNC: the DNLOAD that the next GETSTATUS executes. */
  pending?: PendingDownload;
}

const STALL: GadgetReply = { type: 'stall' };
const DISCONNECTED: GadgetReply = { type: 'disconnected' };
const SILENT: GadgetReply = { type: 'silent' };
const ack = (data?: Uint8Array): GadgetReply => (data ? { type: 'ack', data } : { type: 'ack' });
const DEFAULT_POINTER = 0x0800_0000;

/** States in which ST's DFU class takes DETACH back to dfuIDLE (DFU_Detach in usbd_dfu.c). */
const DETACH_TO_IDLE = new Set<DfuState>([DfuState.DfuIdle, DfuState.DfuDnloadSync, DfuState.DfuDnloadIdle, DfuState.DfuManifestSync, DfuState.DfuUploadIdle]);

interface Scheduled {
  at: number;
  run: () => void;
}

/** Options of {@link DfuseDeviceModel}. */
export interface DfuseDeviceModelOptions {
  /** iSerialNumber text. */
  serialNumber: string;
  /** Faults a test has armed. */
  faults: BootloaderFaults;
  /** A session kept from an earlier run of the host program, resumed instead of a fresh dfuIDLE. */
  resume?: DfuSessionState;
}

/**
 * One run of a DfuSe bootloader's USB device, from start-up to leave, reset or power loss, as a
 * function of its inputs. Busy operations answer dfuDNBUSY at once and then NAK (the request is
 * not answered) until the flash is done, so a host whose control timeout is shorter than the
 * operation fails as it would on a real bus.
 */
export class DfuseDeviceModel {
  state: DfuState = DfuState.DfuIdle;
  status: DfuStatus = DfuStatus.Ok;
  /** The base for block addresses, set by Set Address Pointer (AN3156 §6.3). */
  addressPointer = DEFAULT_POINTER;
  /** Where leave jumps: the last Set Address Pointer or the last write address (AN3156 §5.5). */
  jumpTarget = DEFAULT_POINTER;
  private readonly chapter9: Chapter9Device;
  private readonly ram = new BootloaderRam();
  private readonly faults: BootloaderFaults;
  /** Why the device no longer answers: it dropped off the bus, or it hangs. */
  private gone: 'disconnected' | 'silent' | undefined;
  /** Off the bus for a while after a disconnect fault. */
  private offBus = false;
  private pending: PendingDownload | undefined;
  /** What the GETSTATUS after the busy time reports. */
  private afterBusy: { state: DfuState; status: DfuStatus } | 'stuck' = { state: DfuState.DfuDnloadIdle, status: DfuStatus.Ok };
  private nakUntil = 0;
  private flashBusyUntil = 0;
  private writesPoisoned = false;
  private skipBusyNext = false;
  private stallsBeforeExecuting = 0;
  private scheduled: Scheduled[] = [];
  private effects: DeviceEffect[] = [];
  private now = 0;

  constructor(readonly profile: BootloaderProfile, private readonly memory: DfuseDeviceMemory, options: DfuseDeviceModelOptions) {
    this.faults = options.faults;
    this.chapter9 = new Chapter9Device(romDescriptors(profile, options.serialNumber));
    if (options.resume) this.resume(options.resume);
  }

  /** True until the device leaves, resets, loses power or is killed. */
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

  /** The session as it stands, for a board that is saved while in DFU mode. */
  session(): DfuSessionState {
    return {
      state: this.state, status: this.status, addressPointer: this.addressPointer, jumpTarget: this.jumpTarget,
      altSetting: this.chapter9.altSetting, writesPoisoned: this.writesPoisoned,
      ...(this.state === DfuState.DfuDnbusy ? { afterBusy: this.afterBusy === 'stuck' ? 'stuck' : { ...this.afterBusy } } : {}),
      ...(this.pending ? { pending: { ...this.pending, data: this.pending.data.slice() } } : {}),
    };
  }

  /** One control transfer at virtual time `now`. */
  control(setup: SetupPacket, data: Uint8Array | undefined, now: number): ModelStep {
    this.now = now;
    if (this.gone === 'silent') return this.step(SILENT);
    if (this.gone || this.offBus) return this.step(DISCONNECTED);
    // NAK until the flash is done; the request is asked again then.
    if (now < this.nakUntil) return this.step({ type: 'nak', until: this.nakUntil });
    return this.step(this.answer(setup, data ?? new Uint8Array()));
  }

  /** The host drove a bus reset. */
  busReset(now: number): DeviceEffect[] {
    this.now = now;
    if (this.gone || this.profile.busReset === 'keep-state') return this.takeEffects();
    this.chapter9.reset();
    this.toIdle();
    return this.takeEffects();
  }

  /** Runs what was scheduled up to `now` (a leave's jump, a reset after an option-byte write). */
  advance(now: number): DeviceEffect[] {
    this.now = now;
    for (;;) {
      const due = this.scheduled.filter((s) => s.at <= now).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.scheduled = this.scheduled.filter((s) => s !== due);
      due.run();
    }
    return this.takeEffects();
  }

  /** When {@link advance} next has something to do, if ever. */
  nextDeadline(): number | undefined {
    return this.scheduled.length === 0 ? undefined : Math.min(...this.scheduled.map((s) => s.at));
  }

  /** Ends the run: nothing more is answered and scheduled work is dropped. */
  kill(): void {
    this.gone ??= 'disconnected';
    this.scheduled = [];
  }

  private step(reply: ModelReply): ModelStep {
    return { reply, effects: this.takeEffects() };
  }

  private takeEffects(): DeviceEffect[] {
    return this.effects.splice(0);
  }

  private emit(effect: DeviceEffect): void {
    this.effects.push(effect);
  }

  private later(ms: number, run: () => void): void {
    this.scheduled.push({ at: this.now + ms, run });
  }

  private resume(s: DfuSessionState): void {
    this.state = s.state;
    this.status = s.status;
    this.addressPointer = s.addressPointer >>> 0;
    this.jumpTarget = s.jumpTarget >>> 0;
    this.writesPoisoned = s.writesPoisoned;
    if (s.altSetting > 0 && s.altSetting < this.profile.usb.altSettings.length) this.chapter9.altSetting = s.altSetting;
    if (s.afterBusy) this.afterBusy = s.afterBusy === 'stuck' ? 'stuck' : { ...s.afterBusy };
    if (s.pending) this.pending = { ...s.pending, data: s.pending.data.slice() };
    if (this.state === DfuState.DfuDnloadSync && !this.pending) this.toIdle();
  }

  private answer(setup: SetupPacket, data: Uint8Array): GadgetReply {
    const fault = this.faults.onTransfer(setup, this.now);
    if (fault?.type === 'stall') return STALL;
    if (fault?.type === 'ignore') return ack();
    if (fault?.type === 'disconnect') {
      this.dropOff(fault.reattachAfterMs);
      return DISCONNECTED;
    }
    const kind = setup.bmRequestType & 0x60;
    if (kind === RequestKind.Standard) return this.chapter9.handle(setup);
    const toInterface0 = (setup.bmRequestType & 0x1f) === RequestRecipient.Interface && setup.wIndex === 0;
    if (kind !== RequestKind.Class || !toInterface0) return STALL;
    return this.dfuRequest(setup, data);
  }

  private dfuRequest(setup: SetupPacket, data: Uint8Array): GadgetReply {
    const isIn = (setup.bmRequestType & 0x80) !== 0;
    if (isIn !== isDfuInRequest(setup.bRequest)) return this.invalid();
    switch (setup.bRequest) {
      case DfuRequest.Dnload: return this.dnload(setup, data);
      case DfuRequest.Upload: return this.upload(setup);
      case DfuRequest.GetStatus: return this.getStatus();
      case DfuRequest.ClrStatus: return this.clrStatus();
      case DfuRequest.GetState: return this.getState();
      case DfuRequest.Abort: return this.abort();
      case DfuRequest.Detach: return this.detach();
      default: return this.invalid();
    }
  }

  /** A request the state does not allow: STALL, and dfuERROR with errSTALLEDPKT (an error already there is kept). */
  private invalid(): GadgetReply {
    this.pending = undefined;
    if (this.state !== DfuState.DfuError) {
      this.state = DfuState.DfuError;
      this.status = DfuStatus.ErrStalledPkt;
    }
    return STALL;
  }

  private toIdle(): void {
    this.pending = undefined;
    this.afterBusy = { state: DfuState.DfuDnloadIdle, status: DfuStatus.Ok };
    this.state = DfuState.DfuIdle;
    this.status = DfuStatus.Ok;
  }

  private detach(): GadgetReply {
    switch (this.profile.detach) {
      case 'stall':
        return this.invalid();
      case 'system-reset':
        // After the ACK has gone out, as the disconnect after a leave.
        this.later(this.profile.timing.disconnectDelayMs, () => this.emit({ type: 'system-reset', cause: 'software' }));
        return ack();
      case 'ignore':
        if (DETACH_TO_IDLE.has(this.state)) this.toIdle();
        return ack();
    }
  }

  private dnload(setup: SetupPacket, data: Uint8Array): GadgetReply {
    if (this.state !== DfuState.DfuIdle && this.state !== DfuState.DfuDnloadIdle) return this.invalid();
    if (setup.wLength === 0) {
      this.state = DfuState.DfuManifestSync;
      return ack();
    }
    if (setup.wLength > this.profile.usb.functional.wTransferSize || setup.wValue === 1) return this.invalid();
    const alt = this.profile.usb.altSettings[this.chapter9.altSetting];
    this.pending = { wValue: setup.wValue, data: data.slice(), target: alt?.target ?? 'flash' };
    this.state = DfuState.DfuDnloadSync;
    this.skipBusyNext = this.faults.onDownload(setup.wValue === 0 ? 'command' : 'data', this.now);
    this.stallsBeforeExecuting = this.faults.onCommandStalls(this.now);
    return ack();
  }

  private getStatus(): GadgetReply {
    switch (this.state) {
      case DfuState.DfuDnloadSync: {
        if (this.stallsBeforeExecuting > 0) {
          this.stallsBeforeExecuting -= 1;
          return STALL;
        }
        const pending = this.pending;
        const skipBusy = this.skipBusyNext;
        this.pending = undefined;
        this.skipBusyNext = false;
        if (!pending) return this.statusReply(0);
        const reply = pending.wValue === 0 ? this.command(pending) : this.write(pending);
        // Some bootloaders (the STM32U5's) answer this GETSTATUS with the outcome, never showing dfuDNBUSY.
        return skipBusy && (this.state as DfuState) === DfuState.DfuDnbusy && this.afterBusy !== 'stuck' ? this.finishBusy() : reply;
      }
      case DfuState.DfuDnbusy:
        if (this.afterBusy === 'stuck') return this.statusReply(this.profile.pollTimeoutMs.sectorErase);
        return this.finishBusy();
      case DfuState.DfuManifestSync:
        return this.leave();
      default:
        return this.statusReply(0);
    }
  }

  /** The GETSTATUS after the busy time: the outcome of the command or write. */
  private finishBusy(): GadgetReply {
    const outcome = this.afterBusy === 'stuck' ? { state: DfuState.DfuDnloadIdle, status: DfuStatus.Ok } : this.afterBusy;
    this.state = outcome.state;
    this.status = outcome.status;
    this.afterBusy = { state: DfuState.DfuDnloadIdle, status: DfuStatus.Ok };
    return this.statusReply(0);
  }

  /**
   * CLRSTATUS. In dfuERROR it clears to dfuIDLE. Anywhere else ST's DFU class does not STALL: it
   * answers and moves to dfuERROR with errUNKNOWN (DFU_ClearStatus in stm32-mw-usb-device
   * usbd_dfu.c), and a second CLRSTATUS reaches dfuIDLE. STM32CubeProgrammer and betaflight
   * recover the V9.1 bank-2 erase stuck in dfuDNBUSY exactly this way (betaflight/betaflight-configurator PR #1861).
   */
  private clrStatus(): GadgetReply {
    this.pending = undefined;
    if (this.state === DfuState.DfuError) {
      this.toIdle();
      return ack();
    }
    this.afterBusy = { state: DfuState.DfuDnloadIdle, status: DfuStatus.Ok };
    this.state = DfuState.DfuError;
    this.status = DfuStatus.ErrUnknown;
    return ack();
  }

  private getState(): GadgetReply {
    if (this.state === DfuState.DfuDnbusy) return this.invalid();
    return ack(Uint8Array.of(this.state));
  }

  private abort(): GadgetReply {
    const s = this.state;
    if (s !== DfuState.DfuIdle && s !== DfuState.DfuDnloadIdle && s !== DfuState.DfuUploadIdle) return this.invalid();
    this.toIdle();
    return ack();
  }

  private upload(setup: SetupPacket): GadgetReply {
    if (this.state !== DfuState.DfuIdle && this.state !== DfuState.DfuUploadIdle) return this.invalid();
    const length = setup.wLength;
    const transferSize = this.profile.usb.functional.wTransferSize;
    if (length === 0 || length > transferSize || setup.wValue === 1) return this.invalid();
    if (setup.wValue === 0) return this.uploadReply(Uint8Array.from(this.profile.commands).slice(0, length), length);
    const address = dfuseBlockAddress(setup.wValue, transferSize, this.addressPointer);
    const target = this.profile.usb.altSettings[this.chapter9.altSetting]?.target ?? 'flash';
    const available = this.readable(address, target);
    if (available === 0) return this.uploadError(this.profile.outOfRangeStatus);
    if (this.memory.optionBytes.rdpLevel() !== 0) return this.uploadError(this.profile.readProtectedStatus);
    const count = Math.min(length, available, this.faults.onUpload(this.now) ?? length);
    if (target === 'option-bytes') {
      const offset = address - this.memory.optionBytes.base;
      return this.uploadReply(this.optionByteWindow().slice(offset, offset + count), length);
    }
    if (this.memory.flash.contains(address, count)) {
      if (this.hangsOnFlashAccess()) return SILENT;
      return this.uploadReply(this.memory.flash.read(address, count), length);
    }
    if (this.inRanges(address, this.profile.ramRanges)) return this.uploadReply(this.ram.read(address, count), length);
    return this.uploadReply(this.systemMemory(address, count), length);
  }

  /** Full frames keep dfuUPLOAD-IDLE; a short frame ends the upload (DFU 1.1 §6.2). */
  private uploadReply(data: Uint8Array, requested: number): GadgetReply {
    this.state = data.length < requested ? DfuState.DfuIdle : DfuState.DfuUploadIdle;
    this.status = DfuStatus.Ok;
    return ack(data);
  }

  private uploadError(status: DfuStatus): GadgetReply {
    this.state = DfuState.DfuError;
    this.status = status;
    return STALL;
  }

  /** The option-byte registers as the ROM lets a host read them: the chip's window, out to the profile's read size. */
  private optionByteWindow(): Uint8Array {
    const window = this.memory.optionBytes.readWindow();
    const out = new Uint8Array(this.profile.optionBytes.readSize);
    out.set(window.subarray(0, out.length));
    return out;
  }

  /** Bytes readable from `address` to the end of its memory on this alternate setting (0 = not readable). */
  private readable(address: number, target: AltTarget): number {
    if (target === 'option-bytes') {
      const ob = this.memory.optionBytes;
      const size = this.profile.optionBytes.readSize;
      return address >= ob.base && address < ob.base + size ? ob.base + size - address : 0;
    }
    const flash = this.memory.flash;
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
    const command = decodeDfuseCommand(pending.data);
    switch (command.command) {
      case 'SET_ADDRESS': return this.setAddress(command.address, pending.target);
      case 'ERASE': return this.sectorErase(command.address);
      case 'MASS_ERASE': return this.massErase();
      case 'READ_UNPROTECT': return this.readUnprotect();
      // AN3156 download flowchart: an unsupported command ends in dfuERROR with errSTALLEDPKT.
      default: return this.refuse('set-address', DfuStatus.ErrStalledPkt, this.profile.pollTimeoutMs.setAddress);
    }
  }

  private setAddress(address: number, target: AltTarget): GadgetReply {
    if (this.readable(address, target) === 0) return this.refuse('set-address', this.profile.outOfRangeStatus, this.profile.pollTimeoutMs.setAddress);
    this.addressPointer = address;
    this.jumpTarget = address;
    return this.enterBusy('set-address', 0, this.profile.pollTimeoutMs.setAddress);
  }

  private sectorErase(address: number): GadgetReply {
    const flash = this.memory.flash;
    const poll = this.profile.pollTimeoutMs.sectorErase;
    if (!flash.contains(address, 1)) return this.refuse('sector-erase', this.profile.outOfRangeStatus, poll);
    if (this.memory.optionBytes.rdpLevel() !== 0) return this.refuse('sector-erase', this.profile.readProtectedStatus, poll);
    if (this.hangsOnFlashAccess()) return SILENT;
    const bankSize = flash.size / 2;
    const bank: BankNumber = address - flash.base < bankSize ? 1 : 2;
    const sector = Math.floor((address - flash.base - (bank - 1) * bankSize) / flash.sectorSize);
    const cut = this.faults.onSectorErase(bank, sector, this.now);
    if (cut !== undefined) {
      flash.eraseSectorUntilPowerLoss(bank, sector, cut);
      return this.powerLoss();
    }
    const { durationMs } = flash.eraseSector(bank, sector);
    if (bank === 2 && this.profile.quirks.bank2EraseStaysBusy) {
      // V9.1: the software leaves while the erase runs on; every GETSTATUS says dfuDNBUSY until CLRSTATUS.
      this.flashBusyUntil = this.waitForFlash() + durationMs;
      this.afterBusy = 'stuck';
      this.state = DfuState.DfuDnbusy;
      this.status = DfuStatus.Ok;
      return this.statusReply(poll);
    }
    return this.enterBusy('sector-erase', durationMs, poll);
  }

  private massErase(): GadgetReply {
    const poll = this.profile.pollTimeoutMs.massErase;
    if (this.memory.optionBytes.rdpLevel() !== 0) return this.refuse('mass-erase', this.profile.readProtectedStatus, poll);
    if (this.hangsOnFlashAccess()) return SILENT;
    const { durationMs } = this.memory.flash.massErase();
    return this.enterBusy('mass-erase', durationMs, poll);
  }

  /**
   * Read Unprotect (AN3156 §6.5): answers dfuDNBUSY, then disconnects, regresses (a protected chip
   * loses its flash and options; an unprotected one only its RAM) and resets the system.
   */
  private readUnprotect(): GadgetReply {
    const ob = this.memory.optionBytes;
    const poll = this.profile.pollTimeoutMs.readUnprotect;
    if (ob.rdpLevel() === 2) return this.refuse('read-unprotect', this.profile.readProtectedStatus, poll);
    const delay = this.profile.timing.disconnectDelayMs;
    this.state = DfuState.DfuDnbusy;
    this.status = DfuStatus.Ok;
    this.nakUntil = this.now + delay;
    this.later(delay, () => {
      this.gone = 'disconnected';
      this.emit({ type: 'detach' });
      this.ram.clear();
      const busy = ob.rdpLevel() === 1 ? ob.regressToLevel0().durationMs : 0;
      this.later(busy, () => this.emit({ type: 'system-reset', cause: this.profile.readUnprotectResetCause }));
    });
    return this.statusReply(poll);
  }

  private write(pending: PendingDownload): GadgetReply {
    const { data, wValue } = pending;
    const address = dfuseBlockAddress(wValue, this.profile.usb.functional.wTransferSize, this.addressPointer);
    const poll = this.profile.pollTimeoutMs.write;
    if (pending.target === 'option-bytes') return this.writeOptionBytes(address, data);
    const flash = this.memory.flash;
    const inFlash = flash.contains(address, data.length);
    const inRam = !inFlash && this.inRanges(address, this.profile.ramRanges) && this.inRanges(address + data.length - 1, this.profile.ramRanges);
    if (!inFlash && !inRam) return this.refuse('write', this.profile.outOfRangeStatus, poll);
    if (this.memory.optionBytes.rdpLevel() !== 0) return this.refuse('write', this.profile.readProtectedStatus, poll);
    this.jumpTarget = address;
    if (inRam) {
      this.ram.write(address, data);
      return this.enterBusy('write', 0, poll);
    }
    if (this.writesPoisoned || address % this.profile.writeAlignment.bytes !== 0) {
      this.writesPoisoned = true;
      return this.refuse('write', this.profile.writeAlignment.errorStatus, poll);
    }
    if (this.hangsOnFlashAccess()) return SILENT;
    const cut = this.faults.onProgram(data.length, this.now);
    if (cut !== undefined) {
      flash.programUntilPowerLoss(address, data, cut);
      return this.powerLoss();
    }
    const { durationMs } = flash.program(address, data);
    return this.enterBusy('write', durationMs, poll);
  }

  /** Option bytes (AN3156 §6.4): the whole block at its base; erase + program, then a system reset with no second GETSTATUS. */
  private writeOptionBytes(address: number, data: Uint8Array): GadgetReply {
    const ob = this.memory.optionBytes;
    const poll = this.profile.pollTimeoutMs.write;
    if (address !== ob.base || !this.profile.optionBytes.writeSizes.includes(data.length)) return this.refuse('write', this.profile.outOfRangeStatus, poll);
    if (ob.rdpLevel() !== 0) return this.refuse('write', this.profile.readProtectedStatus, poll);
    const { durationMs } = ob.programBlock(data);
    this.gone = 'disconnected';
    this.emit({ type: 'detach' });
    this.later(durationMs, () => this.emit({ type: 'system-reset', cause: this.profile.optionBytesResetCause }));
    return DISCONNECTED;
  }

  /** The GETSTATUS in dfuMANIFEST-SYNC: the leave (AN3156 §5.5): drop off the bus, restore peripherals and jump. */
  private leave(): GadgetReply {
    if (this.faults.onLeaveStays(this.now)) {
      this.state = DfuState.DfuManifestWaitReset;
      this.status = DfuStatus.Ok;
      return encodeReply(DfuStatus.Ok, this.profile.pollTimeoutMs.leave, DfuState.DfuManifest);
    }
    if (this.faults.onLeave(this.now) || this.profile.leave.statusStage === 'lost') {
      this.finishLeave();
      return DISCONNECTED;
    }
    this.state = DfuState.DfuManifest;
    this.status = DfuStatus.Ok;
    const delay = this.profile.timing.disconnectDelayMs;
    this.nakUntil = this.now + delay;
    this.later(delay, () => this.finishLeave());
    return this.statusReply(this.profile.pollTimeoutMs.leave);
  }

  private finishLeave(): void {
    if (this.gone) return;
    this.gone = 'disconnected';
    this.state = DfuState.DfuManifest;
    this.emit({ type: 'detach' });
    this.emit({ type: 'restore-peripherals', complete: this.profile.leave.restoresPeripheralsCompletely });
    this.emit({ type: 'jump', vectorTable: this.jumpTarget });
  }

  /** Reports dfuDNBUSY and NAKs for the busy time (a lying-poll fault changes what is reported and/or how long). */
  private enterBusy(operation: BusyOperation, durationMs: number, pollTimeoutMs: number): GadgetReply {
    const lie = this.faults.onBusy(operation, this.now);
    // The flash interface finishes any earlier operation first.
    const start = this.waitForFlash();
    const busyUntil = start + (lie?.busyMs ?? durationMs);
    if (durationMs > 0 || lie?.busyMs !== undefined) this.flashBusyUntil = busyUntil;
    this.nakUntil = busyUntil;
    this.afterBusy = { state: DfuState.DfuDnloadIdle, status: DfuStatus.Ok };
    this.state = DfuState.DfuDnbusy;
    this.status = DfuStatus.Ok;
    return this.statusReply(lie?.reportMs ?? pollTimeoutMs);
  }

  /**
   * A command or write the device refuses. AN3156 §4.1: it runs on the first GETSTATUS, which
   * reports dfuDNBUSY; the result (errTARGET for an address outside every segment) comes with the
   * second. ST's DFU class does the same: the command runs in EP0_TxReady after the dfuDNBUSY
   * answer went out, and a failure sets dfuERROR for the next GETSTATUS (usbd_dfu.c).
   */
  private refuse(operation: BusyOperation, status: DfuStatus, pollTimeoutMs: number): GadgetReply {
    const lie = this.faults.onBusy(operation, this.now);
    this.afterBusy = { state: DfuState.DfuError, status };
    this.state = DfuState.DfuDnbusy;
    this.status = DfuStatus.Ok;
    return this.statusReply(lie?.reportMs ?? pollTimeoutMs);
  }

  private waitForFlash(): number {
    return Math.max(this.now, this.flashBusyUntil);
  }

  /** V9.1: a flash command while the abandoned bank-2 erase still runs hangs the bootloader for good. */
  private hangsOnFlashAccess(): boolean {
    if (!this.profile.quirks.flashCommandDuringEraseHangs || this.now >= this.flashBusyUntil) return false;
    this.gone = 'silent';
    return true;
  }

  private statusReply(pollTimeoutMs: number): GadgetReply {
    return encodeReply(this.status, pollTimeoutMs, this.state);
  }

  private powerLoss(): GadgetReply {
    this.kill();
    this.emit({ type: 'detach' });
    this.emit({ type: 'power-off' });
    return DISCONNECTED;
  }

  /** A disconnect fault: off the bus, and back as a fresh enumeration in dfuIDLE if asked. */
  private dropOff(reattachAfterMs: number | undefined): void {
    this.offBus = true;
    this.emit({ type: 'detach' });
    if (reattachAfterMs === undefined) return;
    this.later(reattachAfterMs, () => {
      this.offBus = false;
      this.chapter9.reset();
      this.toIdle();
      this.emit({ type: 'attach' });
    });
  }

  private inRanges(address: number, ranges: readonly { start: number; end: number }[]): boolean {
    return ranges.some((r) => address >= r.start && address <= r.end);
  }
}

function encodeReply(status: DfuStatus, pollTimeoutMs: number, state: DfuState): GadgetReply {
  return ack(encodeStatus({ status, pollTimeoutMs, state, iString: 0 }));
}

/** The bootloader's descriptors, from its profile: one DFU-mode interface with an alternate setting per memory. */
function romDescriptors(profile: BootloaderProfile, serialNumber: string): Chapter9Descriptors {
  const usb = profile.usb;
  const strings = new Map<number, string>([[1, usb.manufacturer], [2, usb.product], [3, serialNumber]]);
  for (const alt of usb.altSettings) strings.set(alt.iInterface, alt.name);
  return {
    device: {
      bcdUSB: usb.bcdUSB, bDeviceClass: 0, bDeviceSubClass: 0, bDeviceProtocol: 0, bMaxPacketSize0: usb.bMaxPacketSize0,
      idVendor: usb.vendorId, idProduct: usb.productId, bcdDevice: usb.bcdDevice,
      iManufacturer: 1, iProduct: 2, iSerialNumber: 3, bNumConfigurations: 1,
    },
    configuration: {
      ...usb.configuration,
      interfaces: usb.altSettings.map((alt, index) => ({
        bInterfaceNumber: 0, bAlternateSetting: index, bNumEndpoints: 0, bInterfaceClass: DFU_INTERFACE_CLASS,
        bInterfaceSubClass: DFU_INTERFACE_SUBCLASS, bInterfaceProtocol: DfuInterfaceProtocol.DfuMode, iInterface: alt.iInterface,
      })),
      dfuFunctional: usb.functional,
    },
    strings,
    langIds: usb.langIds,
  };
}
