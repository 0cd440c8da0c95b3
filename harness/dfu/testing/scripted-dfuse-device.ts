// A small DfuSe device for host tests: just enough of ST's bootloader protocol (AN3156) to
// drive the host through every request and state, with scripted quirks taken from the field
// notes. It is not the simulated bootloader (harness/sim/ has that); it keeps no flash
// physics beyond "erased reads 0xFF".
import type { Clock } from '../../clock/clock.js';
import { hex32 } from '../../errors.js';
import {
  encodeConfigurationDescriptor, encodeDeviceDescriptor, encodeLanguageList, encodeStringDescriptor, type DfuFunctionalDescriptor,
} from '../../usb/descriptors.js';
import type { GadgetReply, UsbGadget, UsbSocket } from '../../usb/gadget.js';
import { DescriptorType, RequestKind, StandardRequest, type SetupPacket } from '../../usb/spec.js';
import { MemoryLayout } from '../layout.js';
import {
  decodeDfuseCommand, DfuRequest, DfuState, DfuStatus, encodeStatus, formatDfuseCommand, type DecodedDfuseCommand,
} from '../protocol.js';

/** How the device behaves after the zero-length DNLOAD that asks it to leave (field notes, failure mode 1). */
export type LeaveBehaviour =
  /** GETSTATUS answers dfuMANIFEST, then the device drops off the bus. */
  | 'manifest-then-drop'
  /** The device drops off while answering GETSTATUS. */
  | 'drop-on-status'
  /** The device drops off right after acknowledging the DNLOAD. */
  | 'drop-after-dnload'
  /** GETSTATUS is stalled, then the device drops off. */
  | 'stall-then-drop'
  /** GETSTATUS answers dfuMANIFEST and the device stays (it never leaves). */
  | 'stay';

/** bwPollTimeout the device reports and the time it really stays busy, per kind of operation, in ms. */
export interface OperationTiming {
  reportedMs: number;
  busyMs: number;
}

/** Options of {@link ScriptedDfuseDevice}. */
export interface ScriptedDfuseDeviceOptions {
  clock: Clock;
  /** The socket the device is plugged into, so it can drop off the bus on leave or reset. */
  socket?: UsbSocket;
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  /** iInterface strings, one alt setting each. Default: the H7 ROM's flash and option-byte alts. */
  layouts?: string[];
  /** Functional descriptor fields; wTransferSize 1024 as on the H7 ROM. */
  functional?: Partial<DfuFunctionalDescriptor>;
  /** What Get (UPLOAD wValue=0) returns. */
  commands?: number[];
  /** State and status at power-up (a stale session: dfuDNLOAD-IDLE, dfuERROR). */
  initialState?: DfuState;
  initialStatus?: DfuStatus;
  erase?: OperationTiming;
  massErase?: OperationTiming;
  write?: OperationTiming;
  command?: OperationTiming;
  /** Sector erases at or above this address stay dfuDNBUSY for ever (the H7 V9.1 bank-2 bug). */
  stuckEraseFrom?: number;
  /** Stall this many GETSTATUS requests after each DNLOAD before answering (an early-poll STALL). */
  stallStatusAfterDnload?: number;
  leave?: LeaveBehaviour;
  /** Virtual ms between the last answer and dropping off the bus on leave or reset (default 5). */
  dropDelayMs?: number;
  /** Sector starts that are write-protected: erases and writes there are acknowledged but change nothing (AN3156 §4.1). */
  writeProtected?: number[];
  /** Readout protection: read, write and erase answer errVENDOR. */
  readProtected?: boolean;
  /** Refuse writes over bytes that are not erased (0xFF) with errWRITE. Default true. */
  requireErased?: boolean;
  /** Writes must start on this alignment (AN2606 §4.6: 8 on H7). */
  writeAlignment?: number;
  /** Answers a request before the device does; return undefined to let the device handle it. */
  override?: (setup: SetupPacket, data: Uint8Array | undefined, device: ScriptedDfuseDevice) => GadgetReply | undefined;
}

/** The ROM's alt-setting strings (facts §2). */
export const H7_ROM_LAYOUTS = ['@Internal Flash   /0x08000000/16*128Kg', '@Option Bytes   /0x5200201C/01*128 e'];

const DEFAULTS = {
  erase: { reportedMs: 1000, busyMs: 900 },
  massErase: { reportedMs: 100, busyMs: 3000 },
  write: { reportedMs: 5, busyMs: 3 },
  command: { reportedMs: 0, busyMs: 0 },
} as const;

interface Memory {
  layout: MemoryLayout;
  bytes: Uint8Array;
}

interface Outcome {
  timing: OperationTiming;
  status: DfuStatus;
  stuck?: boolean;
  resets?: boolean;
}

/** A scripted DfuSe device; see {@link ScriptedDfuseDeviceOptions} for its quirks. */
export class ScriptedDfuseDevice implements UsbGadget {
  state: DfuState;
  status: DfuStatus;
  /** The address pointer (default 0x08000000, AN3156). */
  pointer = 0x08000000;
  alt = 0;
  /** What the device executed, in order: "ERASE 0x08000000", "WRITE 0x08000000 1024", "LEAVE 0x08000000", "RESET". */
  readonly log: string[] = [];
  busResets = 0;
  /** Where the device jumped when it left, if it did. */
  leftTo: number | undefined;
  readonly memories: Memory[];
  private readonly options: ScriptedDfuseDeviceOptions;
  private readonly clock: Clock;
  private pending: { block: number; data: Uint8Array } | undefined;
  private outcome: Outcome | undefined;
  private busyUntil = 0;
  private stallsLeft = 0;
  private gone = false;

  constructor(options: ScriptedDfuseDeviceOptions) {
    this.options = options;
    this.clock = options.clock;
    this.state = options.initialState ?? DfuState.DfuIdle;
    this.status = options.initialStatus ?? DfuStatus.Ok;
    this.memories = (options.layouts ?? H7_ROM_LAYOUTS).map((text) => {
      const layout = MemoryLayout.parse(text);
      const bytes = new Uint8Array(layout.end - layout.start).fill(0xff);
      // Option bytes read back with RDP level 0 (0xAA) in byte 1 of FLASH_OPTSR_CUR.
      if (/option/i.test(layout.name)) { bytes.fill(0); bytes[1] = 0xaa; }
      return { layout, bytes };
    });
  }

  /** Reads device memory (any alt) without going through USB. */
  peek(address: number, length: number): Uint8Array {
    const m = this.memoryAt(address, length);
    if (!m) throw new Error(`${hex32(address)}+${length} is not device memory`);
    return m.bytes.slice(address - m.layout.start, address - m.layout.start + length);
  }

  /** Writes device memory without going through USB (to set up a test). */
  poke(address: number, data: Uint8Array): void {
    const m = this.memoryAt(address, data.length);
    if (!m) throw new Error(`${hex32(address)}+${data.length} is not device memory`);
    m.bytes.set(data, address - m.layout.start);
  }

  control(setup: SetupPacket, data: Uint8Array | undefined): GadgetReply {
    if (this.gone) return { type: 'disconnected' };
    const scripted = this.options.override?.(setup, data, this);
    if (scripted) return scripted;
    const kind = setup.bmRequestType & 0x60;
    if (kind === RequestKind.Standard) return this.standard(setup);
    if (kind !== RequestKind.Class) return { type: 'stall' };
    switch (setup.bRequest) {
      case DfuRequest.Detach: return { type: 'ack' };
      case DfuRequest.Dnload: return this.dnload(setup, data ?? new Uint8Array());
      case DfuRequest.Upload: return this.upload(setup);
      case DfuRequest.GetStatus: return this.getStatus();
      case DfuRequest.ClrStatus: return this.clrStatus();
      case DfuRequest.GetState: return { type: 'ack', data: Uint8Array.of(this.state) };
      case DfuRequest.Abort: return this.abort();
      default: return this.stallAndError();
    }
  }

  busReset(): void {
    this.busResets += 1;
    // Not manifestation-tolerant: a reset during manifestation completes the leave.
    if (this.state === DfuState.DfuManifest || this.state === DfuState.DfuManifestWaitReset) this.dropOff(0);
  }

  /** Drops off the bus after `delayMs` virtual ms (a reset, a leave). */
  dropOff(delayMs = this.options.dropDelayMs ?? 5): void {
    const go = (): void => {
      if (this.gone) return;
      this.gone = true;
      this.options.socket?.unplug();
    };
    if (delayMs <= 0) go(); else this.clock.setTimer(delayMs, go);
  }

  private standard(setup: SetupPacket): GadgetReply {
    if (setup.bRequest === StandardRequest.GetDescriptor) return this.descriptor(setup.wValue >> 8, setup.wValue & 0xff);
    if (setup.bRequest === StandardRequest.SetInterface) {
      if (setup.wValue >= this.memories.length) return { type: 'stall' };
      this.alt = setup.wValue;
      return { type: 'ack' };
    }
    return { type: 'ack' };
  }

  private descriptor(type: number, index: number): GadgetReply {
    const o = this.options;
    if (type === DescriptorType.Device) {
      return { type: 'ack', data: encodeDeviceDescriptor({
        bcdUSB: 0x0200, bDeviceClass: 0, bDeviceSubClass: 0, bDeviceProtocol: 0, bMaxPacketSize0: 64,
        idVendor: o.vendorId ?? 0x0483, idProduct: o.productId ?? 0xdf11, bcdDevice: 0x0200,
        iManufacturer: 1, iProduct: 2, iSerialNumber: 3, bNumConfigurations: 1,
      }) };
    }
    if (type === DescriptorType.Configuration) {
      return { type: 'ack', data: encodeConfigurationDescriptor({
        bConfigurationValue: 1, iConfiguration: 2, bmAttributes: 0xc0, bMaxPower: 0x32,
        interfaces: this.memories.map((_, i) => ({
          bInterfaceNumber: 0, bAlternateSetting: i, bNumEndpoints: 0, bInterfaceClass: 0xfe, bInterfaceSubClass: 1, bInterfaceProtocol: 2, iInterface: 6 + i,
        })),
        dfuFunctional: { bmAttributes: 0x0b, wDetachTimeOut: 255, wTransferSize: 1024, bcdDFUVersion: 0x011a, ...o.functional },
      }) };
    }
    if (type === DescriptorType.String) {
      if (index === 0) return { type: 'ack', data: encodeLanguageList() };
      const strings: Record<number, string> = { 1: 'STMicroelectronics', 2: 'DFU in FS Mode', 3: o.serialNumber ?? '200364500000' };
      (o.layouts ?? H7_ROM_LAYOUTS).forEach((text, i) => { strings[6 + i] = text; });
      const text = strings[index];
      return text === undefined ? { type: 'stall' } : { type: 'ack', data: encodeStringDescriptor(text) };
    }
    return { type: 'stall' };
  }

  private dnload(setup: SetupPacket, data: Uint8Array): GadgetReply {
    if (this.state !== DfuState.DfuIdle && this.state !== DfuState.DfuDnloadIdle) return this.stallAndError();
    if (data.length === 0) {
      this.state = DfuState.DfuManifestSync;
      if (this.options.leave === 'drop-after-dnload') this.leaveNow(0);
      return { type: 'ack' };
    }
    this.pending = { block: setup.wValue, data: data.slice() };
    this.state = DfuState.DfuDnloadSync;
    this.stallsLeft = this.options.stallStatusAfterDnload ?? 0;
    return { type: 'ack' };
  }

  private getStatus(): GadgetReply {
    if (this.stallsLeft > 0) {
      this.stallsLeft -= 1;
      return { type: 'stall' };
    }
    switch (this.state) {
      case DfuState.DfuDnloadSync: {
        const outcome = this.execute(this.pending!);
        this.pending = undefined;
        this.outcome = outcome;
        this.state = DfuState.DfuDnbusy;
        this.busyUntil = this.clock.now() + outcome.timing.busyMs;
        // AN3156: an option-byte write or Read Unprotect resets the device with no second GETSTATUS.
        if (outcome.resets) this.dropOff();
        return this.reply(outcome.timing.reportedMs);
      }
      case DfuState.DfuDnbusy: {
        const outcome = this.outcome!;
        if (outcome.stuck || this.clock.now() < this.busyUntil) return this.reply(outcome.timing.reportedMs);
        this.outcome = undefined;
        this.status = outcome.status;
        this.state = outcome.status === DfuStatus.Ok ? DfuState.DfuDnloadIdle : DfuState.DfuError;
        return this.reply(0);
      }
      case DfuState.DfuManifestSync:
        return this.manifest();
      default:
        return this.reply(0);
    }
  }

  private manifest(): GadgetReply {
    switch (this.options.leave ?? 'manifest-then-drop') {
      case 'drop-on-status':
        this.leaveNow(0);
        return { type: 'disconnected' };
      case 'stall-then-drop':
        this.leaveNow(this.options.dropDelayMs ?? 5);
        return { type: 'stall' };
      case 'stay':
        this.state = DfuState.DfuManifest;
        this.log.push(`MANIFEST ${hex32(this.pointer)}`);
        return this.reply(0);
      default:
        this.state = DfuState.DfuManifest;
        this.leaveNow(this.options.dropDelayMs ?? 5);
        return this.reply(0);
    }
  }

  private leaveNow(delayMs: number): void {
    this.leftTo = this.pointer;
    this.log.push(`LEAVE ${hex32(this.pointer)}`);
    this.dropOff(delayMs);
  }

  private clrStatus(): GadgetReply {
    if (this.state === DfuState.DfuError) {
      this.state = DfuState.DfuIdle;
      this.status = DfuStatus.Ok;
      return { type: 'ack' };
    }
    if (this.state === DfuState.DfuDnbusy && this.outcome?.stuck) {
      // What ST's tool sees on the H7 (facts §3): CLRSTATUS gives errUNKNOWN in dfuERROR.
      this.outcome = undefined;
      this.state = DfuState.DfuError;
      this.status = DfuStatus.ErrUnknown;
      this.log.push('UNSTUCK');
      return { type: 'ack' };
    }
    return this.stallAndError();
  }

  private abort(): GadgetReply {
    if (this.state === DfuState.DfuIdle || this.state === DfuState.DfuDnloadIdle || this.state === DfuState.DfuUploadIdle) {
      this.state = DfuState.DfuIdle;
      return { type: 'ack' };
    }
    return this.stallAndError();
  }

  private upload(setup: SetupPacket): GadgetReply {
    if (this.state !== DfuState.DfuIdle && this.state !== DfuState.DfuUploadIdle) return this.stallAndError();
    if (setup.wValue === 0) {
      this.state = DfuState.DfuUploadIdle;
      return { type: 'ack', data: Uint8Array.from(this.options.commands ?? [0x00, 0x21, 0x41, 0x92]) };
    }
    if (setup.wValue === 1) return this.stallAndError();
    const address = (setup.wValue - 2) * setup.wLength + this.pointer;
    const m = this.current();
    if (this.options.readProtected) return this.fail(DfuStatus.ErrVendor);
    if (!m.layout.contains(address, setup.wLength)) return this.fail(DfuStatus.ErrTarget);
    this.state = DfuState.DfuUploadIdle;
    this.log.push(`READ ${hex32(address)} ${setup.wLength}`);
    return { type: 'ack', data: m.bytes.slice(address - m.layout.start, address - m.layout.start + setup.wLength) };
  }

  private execute(pending: { block: number; data: Uint8Array }): Outcome {
    const o = this.options;
    const command = o.command ?? DEFAULTS.command;
    if (pending.block === 0) return this.executeCommand(decodeDfuseCommand(pending.data));
    if (pending.block === 1) return { timing: command, status: DfuStatus.ErrTarget };
    const write = o.write ?? DEFAULTS.write;
    const address = (pending.block - 2) * pending.data.length + this.pointer;
    const m = this.current();
    if (o.readProtected) return { timing: write, status: DfuStatus.ErrVendor };
    if (!m.layout.contains(address, pending.data.length)) return { timing: write, status: DfuStatus.ErrTarget };
    const offset = address - m.layout.start;
    if (/option/i.test(m.layout.name)) {
      if (address !== m.layout.start || pending.data.length !== m.bytes.length) return { timing: write, status: DfuStatus.ErrTarget };
      m.bytes.set(pending.data);
      this.log.push(`WRITE_OB ${hex32(address)} ${pending.data.length}`);
      return { timing: write, status: DfuStatus.Ok, resets: true };
    }
    if (address % (o.writeAlignment ?? 8) !== 0) return { timing: write, status: DfuStatus.ErrProg };
    if ((o.requireErased ?? true) && m.bytes.subarray(offset, offset + pending.data.length).some((b) => b !== 0xff)) {
      return { timing: write, status: DfuStatus.ErrWrite };
    }
    this.log.push(`WRITE ${hex32(address)} ${pending.data.length}`);
    for (let i = 0; i < pending.data.length; i++) {
      if (!this.isWriteProtected(m, address + i)) m.bytes[offset + i] = pending.data[i]!;
    }
    return { timing: write, status: DfuStatus.Ok };
  }

  private executeCommand(command: DecodedDfuseCommand): Outcome {
    const o = this.options;
    const timing = o.command ?? DEFAULTS.command;
    const m = this.current();
    this.log.push(formatDfuseCommand(command));
    switch (command.command) {
      case 'SET_ADDRESS':
        if (!m.layout.contains(command.address, 1)) return { timing, status: DfuStatus.ErrTarget };
        this.pointer = command.address;
        return { timing, status: DfuStatus.Ok };
      case 'ERASE': {
        const erase = o.erase ?? DEFAULTS.erase;
        const sector = m.layout.sectorAt(command.address);
        if (o.readProtected) return { timing: erase, status: DfuStatus.ErrVendor };
        if (!sector || !sector.segment.erasable) return { timing: erase, status: DfuStatus.ErrTarget };
        if (!this.isWriteProtected(m, sector.start)) m.bytes.fill(0xff, sector.start - m.layout.start, sector.start - m.layout.start + sector.size);
        return { timing: erase, status: DfuStatus.Ok, stuck: o.stuckEraseFrom !== undefined && command.address >= o.stuckEraseFrom };
      }
      case 'MASS_ERASE':
        if (o.readProtected) return { timing: o.massErase ?? DEFAULTS.massErase, status: DfuStatus.ErrVendor };
        for (const mem of this.memories) if (mem.layout.segments.every((s) => s.erasable)) mem.bytes.fill(0xff);
        return { timing: o.massErase ?? DEFAULTS.massErase, status: DfuStatus.Ok };
      case 'READ_UNPROTECT':
        for (const mem of this.memories) if (mem.layout.segments.every((s) => s.erasable)) mem.bytes.fill(0xff);
        return { timing: o.massErase ?? DEFAULTS.massErase, status: DfuStatus.Ok, resets: true };
      default:
        return { timing, status: DfuStatus.ErrTarget };
    }
  }

  private reply(pollTimeoutMs: number): GadgetReply {
    return { type: 'ack', data: encodeStatus({ status: this.status, pollTimeoutMs, state: this.state, iString: 0 }) };
  }

  private fail(status: DfuStatus): GadgetReply {
    this.state = DfuState.DfuError;
    this.status = status;
    return { type: 'stall' };
  }

  private stallAndError(): GadgetReply {
    return this.fail(DfuStatus.ErrStalledPkt);
  }

  private isWriteProtected(m: Memory, address: number): boolean {
    const sector = m.layout.sectorAt(address);
    return sector !== undefined && (this.options.writeProtected ?? []).includes(sector.start);
  }

  private current(): Memory {
    return this.memories[this.alt] ?? this.memories[0]!;
  }

  private memoryAt(address: number, length: number): Memory | undefined {
    return this.memories.find((m) => m.layout.contains(address, length));
  }
}
