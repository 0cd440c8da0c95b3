// Faults a spec can arm on the simulated bootloader: the ways real DFU sessions go wrong, as
// users of DFU tools reported them. Leave racing its GETSTATUS (particle-iot/device-os#599; ST's
// DFU_Leave stops USB first, STMicroelectronics/stm32-mw-usb-device#23) or never happening
// (micropython#5693); an early GETSTATUS answered with a STALL (qmk/qmk_firmware#17890; dfu-util
// src/dfuse.c retries it for the STM32L4); a bwPollTimeout far shorter than the work (dfu-util
// src/dfuse.c, the STM32F405's mass erase); the device dropping off the bus mid-session and power
// lost mid-flash (arduino/dfu-utils-cross#7). Each is one-shot unless armed with `times`, and
// its handle says whether and when it fired.
import type { BankNumber } from '../contracts.js';
import { DfuRequest } from '../../dfu-wire/dfu.js';
import type { SetupPacket } from '../../usb/spec.js';

/** Whether an armed fault has fired, and when (virtual ms of the board's clock). */
export interface FaultHandle {
  readonly description: string;
  /** Times it fired so far. */
  readonly firedCount: number;
  readonly fired: boolean;
  /** Virtual time of the first firing. */
  readonly firedAt: number | undefined;
  /** Stops it from firing again. */
  disarm(): void;
}

/**
 * Which control transfer a fault hits, counted from when it was armed. Without `request` every
 * control transfer counts (the bus's own enumeration reads included); with it, only DFU class
 * requests with that bRequest (or standard requests, with `standard: true`).
 */
export interface TransferTrigger {
  request?: number;
  standard?: boolean;
  /** 1-based; default 1 (the next matching transfer). */
  nth?: number;
}

/** How many times a fault fires; default 1. */
export interface Repeat {
  times?: number;
}

/** What a disconnect fault does after dropping the device off the bus. */
export interface DisconnectOptions extends Repeat {
  /** Re-attach (a fresh enumeration, DFU state back to dfuIDLE) after this long; default: stay off until the board restarts the bootloader. */
  reattachAfterMs?: number;
}

/** Kinds of flash work the lying-poll fault can target. */
export type BusyOperation = 'set-address' | 'sector-erase' | 'mass-erase' | 'write' | 'read-unprotect';

class ArmedFault implements FaultHandle {
  firedCount = 0;
  firedAt: number | undefined;
  private armed = true;

  constructor(readonly description: string, private readonly times: number) {}

  get fired(): boolean {
    return this.firedCount > 0;
  }

  get active(): boolean {
    return this.armed && this.firedCount < this.times;
  }

  disarm(): void {
    this.armed = false;
  }

  fire(now: number): void {
    this.firedCount += 1;
    this.firedAt ??= now;
  }
}

class TransferCounter {
  private seen = 0;
  constructor(private readonly trigger: TransferTrigger) {}

  /** Counts one UPLOAD data block (the caller knows it is one); true when this is the one to hit. */
  hitUpload(): boolean {
    this.seen += 1;
    return this.seen >= (this.trigger.nth ?? 1);
  }

  /** Counts `setup` if it matches; true when this is the transfer to hit (and every later nth one when repeating). */
  hit(setup: SetupPacket): boolean {
    const t = this.trigger;
    if (t.request !== undefined) {
      const isClass = (setup.bmRequestType & 0x60) === 0x20;
      const isStandard = (setup.bmRequestType & 0x60) === 0;
      if (setup.bRequest !== t.request || (t.standard ? !isStandard : !isClass)) return false;
    }
    this.seen += 1;
    return this.seen >= (t.nth ?? 1);
  }
}

/** What the bootloader does when a transfer fault fires. */
export type TransferFaultAction = { type: 'stall' } | { type: 'ignore' } | { type: 'disconnect'; reattachAfterMs: number | undefined };

/**
 * The faults armed on one simulated bootloader. Specs arm them; the bootloader consults them
 * at the matching point of the protocol and marks them fired.
 */
export class BootloaderFaults {
  private readonly transfer: Array<{ fault: ArmedFault; counter: TransferCounter; action: TransferFaultAction }> = [];
  private readonly firstStatus: Array<{ fault: ArmedFault; stalls: number }> = [];
  private readonly skipBusy: Array<{ fault: ArmedFault; on: 'command' | 'data' | undefined }> = [];
  private readonly shortUploads: Array<{ fault: ArmedFault; counter: TransferCounter; bytes: number }> = [];
  private readonly leaveStays: ArmedFault[] = [];
  private readonly pollLies: Array<{ fault: ArmedFault; reportMs: number; busyMs: number | undefined; on: BusyOperation | undefined }> = [];
  private readonly programCuts: Array<{ fault: ArmedFault; remaining: number }> = [];
  private readonly eraseCuts: Array<{ fault: ArmedFault; bank: BankNumber; sector: number; fraction: number }> = [];
  private readonly leaveRaces: ArmedFault[] = [];

  /** The device drops off the bus instead of answering the chosen transfer. */
  disconnectAt(trigger: TransferTrigger, options: DisconnectOptions = {}): FaultHandle {
    const fault = new ArmedFault(`disconnect at ${describeTrigger(trigger)}`, options.times ?? 1);
    this.transfer.push({ fault, counter: new TransferCounter(trigger), action: { type: 'disconnect', reattachAfterMs: options.reattachAfterMs } });
    return fault;
  }

  /** The device STALLs the chosen transfer without acting on it (its DFU state does not change). */
  stallAt(trigger: TransferTrigger, options: Repeat = {}): FaultHandle {
    const fault = new ArmedFault(`STALL at ${describeTrigger(trigger)}`, options.times ?? 1);
    this.transfer.push({ fault, counter: new TransferCounter(trigger), action: { type: 'stall' } });
    return fault;
  }

  /** The device ACKs the chosen (OUT) transfer and does nothing with it: a CLRSTATUS that does not clear, a DNLOAD that is dropped. */
  ignoreAt(trigger: TransferTrigger, options: Repeat = {}): FaultHandle {
    const fault = new ArmedFault(`ignore ${describeTrigger(trigger)}`, options.times ?? 1);
    this.transfer.push({ fault, counter: new TransferCounter(trigger), action: { type: 'ignore' } });
    return fault;
  }

  /**
   * STALLs the first GETSTATUS after a DfuSe command or write, before executing it (seen on the
   * STM32L4 ROM; dfu-util retries such a stall 3 times). `stalls` GETSTATUS in a row are stalled
   * per command (default 1), for `times` commands (default 1).
   */
  stallFirstGetStatusAfterCommand(options: Repeat & { stalls?: number } = {}): FaultHandle {
    const stalls = options.stalls ?? 1;
    const fault = new ArmedFault(`STALL of the first ${stalls === 1 ? 'GETSTATUS' : `${stalls} GETSTATUS`} after a command`, options.times ?? 1);
    this.firstStatus.push({ fault, stalls });
    return fault;
  }

  /**
   * The first GETSTATUS after a DNLOAD (of a command, of a data block, or either) answers with the
   * outcome at once, never showing dfuDNBUSY: what dfu-util has accepted for data blocks since an
   * STM32U5 bootloader was seen doing it (dfu-util src/dfuse.c).
   */
  skipBusyState(options: Repeat & { on?: 'command' | 'data' } = {}): FaultHandle {
    const fault = new ArmedFault(`no dfuDNBUSY after a ${options.on ?? 'command or data'} DNLOAD`, options.times ?? 1);
    this.skipBusy.push({ fault, on: options.on });
    return fault;
  }

  /** The chosen UPLOAD data block (counted among data blocks since armed) answers with only `bytes` bytes: a short frame. */
  shortUpload(trigger: { nth?: number }, bytes: number, options: Repeat = {}): FaultHandle {
    const fault = new ArmedFault(`short UPLOAD #${trigger.nth ?? 1} of ${bytes} bytes`, options.times ?? 1);
    this.shortUploads.push({ fault, counter: new TransferCounter({ request: DfuRequest.Upload, ...trigger }), bytes });
    return fault;
  }

  /** Leave: the device answers dfuMANIFEST and then never leaves; it waits for a USB reset in dfuMANIFEST-WAIT-RESET. */
  leaveNeverHappens(options: Repeat = {}): FaultHandle {
    const fault = new ArmedFault('leave never happens', options.times ?? 1);
    this.leaveStays.push(fault);
    return fault;
  }

  /** The next busy operation (of kind `on`, or any) reports `reportMs` as bwPollTimeout while staying busy for `busyMs` (default: its real time). */
  lyingPollTimeout(options: { reportMs: number; busyMs?: number; on?: BusyOperation } & Repeat): FaultHandle {
    const fault = new ArmedFault(`bwPollTimeout ${options.reportMs} ms${options.busyMs === undefined ? '' : ` while busy ${options.busyMs} ms`}${options.on ? ` on ${options.on}` : ''}`, options.times ?? 1);
    this.pollLies.push({ fault, reportMs: options.reportMs, busyMs: options.busyMs, on: options.on });
    return fault;
  }

  /** Power fails once `bytes` more bytes have been programmed: the flash is left half-written and the board goes dark. */
  powerLossAfterBytes(bytes: number): FaultHandle {
    const fault = new ArmedFault(`power loss after ${bytes} programmed bytes`, 1);
    this.programCuts.push({ fault, remaining: bytes });
    return fault;
  }

  /** Power fails part-way through the erase of `sector` in `bank` (`fraction` of it erased, default half). */
  powerLossDuringErase(bank: BankNumber, sector: number, fraction = 0.5): FaultHandle {
    const fault = new ArmedFault(`power loss during erase of bank ${bank} sector ${sector}`, 1);
    this.eraseCuts.push({ fault, bank, sector, fraction });
    return fault;
  }

  /** Leave: the device drops off the bus right after the zero-length DNLOAD, before answering the GETSTATUS. */
  leaveRace(options: Repeat = {}): FaultHandle {
    const fault = new ArmedFault('leave races the GETSTATUS', options.times ?? 1);
    this.leaveRaces.push(fault);
    return fault;
  }

  /** Every fault armed so far. */
  all(): FaultHandle[] {
    return [...this.transfer.map((t) => t.fault), ...this.firstStatus.map((f) => f.fault), ...this.pollLies.map((p) => p.fault),
      ...this.programCuts.map((p) => p.fault), ...this.eraseCuts.map((e) => e.fault), ...this.leaveRaces, ...this.skipBusy.map((b) => b.fault),
      ...this.shortUploads.map((u) => u.fault), ...this.leaveStays];
  }

  /** For the bootloader: a transfer fault that hits `setup`, if any. Every active trigger counts the transfer. */
  onTransfer(setup: SetupPacket, now: number): TransferFaultAction | undefined {
    let action: TransferFaultAction | undefined;
    for (const t of this.transfer) {
      if (!t.fault.active || !t.counter.hit(setup) || action) continue;
      t.fault.fire(now);
      action = t.action;
    }
    return action;
  }

  /** For the bootloader, at a DNLOAD: how many GETSTATUS in a row to stall before executing it (0 for none). */
  onCommandStalls(now: number): number {
    const armed = this.firstStatus.find((f) => f.fault.active);
    if (!armed) return 0;
    armed.fault.fire(now);
    return armed.stalls;
  }

  /** For the bootloader: true when the GETSTATUS after this DNLOAD (a command or a data block) must skip dfuDNBUSY. */
  onDownload(kind: 'command' | 'data', now: number): boolean {
    return this.take(this.skipBusy.find((b) => b.fault.active && (b.on === undefined || b.on === kind))?.fault, now);
  }

  /** For the bootloader: a byte count this UPLOAD is cut to, if a short-upload fault hits it. */
  onUpload(now: number): number | undefined {
    let bytes: number | undefined;
    for (const u of this.shortUploads) {
      // Every UPLOAD counts, so each trigger's nth is among all UPLOADs since it was armed.
      if (!u.fault.active || !u.counter.hitUpload() || bytes !== undefined) continue;
      u.fault.fire(now);
      bytes = u.bytes;
    }
    return bytes;
  }

  /** For the bootloader: true when the leave must answer dfuMANIFEST and then not happen. */
  onLeaveStays(now: number): boolean {
    return this.take(this.leaveStays.find((f) => f.active), now);
  }

  /** For the bootloader: a lie about the poll timeout of `operation`, if armed. */
  onBusy(operation: BusyOperation, now: number): { reportMs: number; busyMs: number | undefined } | undefined {
    const lie = this.pollLies.find((p) => p.fault.active && (p.on === undefined || p.on === operation));
    if (!lie) return undefined;
    lie.fault.fire(now);
    return { reportMs: lie.reportMs, busyMs: lie.busyMs };
  }

  /** For the bootloader: how many of `length` bytes get programmed before power fails, or undefined if it does not. */
  onProgram(length: number, now: number): number | undefined {
    const cut = this.programCuts.find((p) => p.fault.active);
    if (!cut) return undefined;
    if (cut.remaining >= length) {
      cut.remaining -= length;
      return undefined;
    }
    cut.fault.fire(now);
    return cut.remaining;
  }

  /** For the bootloader: the fraction of the sector erased before power fails, or undefined. */
  onSectorErase(bank: BankNumber, sector: number, now: number): number | undefined {
    const cut = this.eraseCuts.find((e) => e.fault.active && e.bank === bank && e.sector === sector);
    if (!cut) return undefined;
    cut.fault.fire(now);
    return cut.fraction;
  }

  /** For the bootloader: true when the leave must race its GETSTATUS. */
  onLeave(now: number): boolean {
    return this.take(this.leaveRaces.find((f) => f.active), now);
  }

  private take(fault: ArmedFault | undefined, now: number): boolean {
    if (!fault) return false;
    fault.fire(now);
    return true;
  }
}

function describeTrigger(t: TransferTrigger): string {
  const nth = t.nth ?? 1;
  if (t.request === undefined) return `control transfer #${nth}`;
  return `${t.standard ? 'standard' : 'DFU'} request 0x${t.request.toString(16)} #${nth}`;
}
