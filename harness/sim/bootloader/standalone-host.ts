// A bootloader on the bench without the rest of the board: the chip's real flash and option
// bytes, a USB socket, and a log of what the bootloader did to the chip. Tests of the bootloader,
// and of DFU hosts against it, use it where a whole simulated board would only add noise.
import type { Clock } from '../../clock/clock.js';
import { UsbSocket, type UsbGadget } from '../../usb/gadget.js';
import type { BootloaderHost, ResetCause } from '../contracts.js';
import { createUserMemories, type UserMemoriesOptions } from '../flash/user-memories.js';
import type { SimFlash } from '../flash/sim-flash.js';
import type { SimOptionBytes } from '../option-bytes/sim-option-bytes.js';

/** One thing the bootloader did to the chip, at virtual time `t`. */
export type ChipEvent = [t: number, what: 'attach' | 'detach' | 'claim-pins' | 'restore' | 'jump' | 'reset' | 'power-off', arg?: unknown];

/** What the chip stops when the bootloader leaves, resets or loses power. */
export interface StoppableCode {
  stop(): void;
}

/** Options of {@link StandaloneBootloaderHost}. */
export interface StandaloneHostOptions extends UserMemoriesOptions {
  /** Port path of the USB socket; default "1-1". */
  portPath?: string;
  /** A socket to plug into instead of a new one (one a test's application gadget uses too). */
  socket?: UsbSocket;
}

/**
 * The chip around a bootloader, as little as a bench-top run needs. A jump, a system reset or a
 * power loss stops the bootloader and is logged; nothing else runs afterwards.
 */
export class StandaloneBootloaderHost implements BootloaderHost {
  readonly socket: UsbSocket;
  readonly flash: SimFlash;
  readonly optionBytes: SimOptionBytes;
  readonly events: ChipEvent[] = [];
  /** The code to stop on a jump, reset or power loss (the bootloader under test). */
  code: StoppableCode | undefined;

  constructor(readonly clock: Clock, options: StandaloneHostOptions = {}) {
    const { portPath, socket, ...memories } = options;
    this.socket = socket ?? new UsbSocket(portPath ?? '1-1');
    ({ flash: this.flash, optionBytes: this.optionBytes } = createUserMemories(memories));
  }

  attachUsb(gadget: UsbGadget): void { this.log('attach'); this.socket.plug(gadget); }
  detachUsb(): void { this.log('detach'); this.socket.unplug(); }
  claimUsbPins(): void { this.log('claim-pins'); }
  restorePeripherals(complete: boolean): void { this.log('restore', complete); }
  jumpTo(vectorTable: number): void { this.log('jump', vectorTable); this.code?.stop(); }
  systemReset(cause: ResetCause): void { this.log('reset', cause); this.code?.stop(); this.optionBytes.loadAtReset(); }
  powerOff(): void { this.log('power-off'); this.code?.stop(); }

  /** The events of one kind, in order. */
  eventsOf(what: ChipEvent[1]): ChipEvent[] {
    return this.events.filter((e) => e[1] === what);
  }

  private log(what: ChipEvent[1], arg?: unknown): void {
    this.events.push(arg === undefined ? [this.clock.now(), what] : [this.clock.now(), what, arg]);
  }
}
