import type { TimerHandle } from '../../clock/clock.js';
import type { GadgetReply, UsbGadget } from '../../usb/gadget.js';
import type { SetupPacket } from '../../usb/spec.js';
import type { BootloaderHost } from '../contracts.js';
import type { DeviceEffect, DfuseDeviceModel } from './dfuse-device-model.js';

/** What the session needs of the bootloader that runs it: the bus connection, kept idempotent there. */
export interface SessionLink {
  /** Plugs this session's device into the board's USB socket (once). */
  attach(): void;
  /** Takes it off (once). */
  detach(): void;
}

const SILENT: GadgetReply = { type: 'silent' };

/**
 * The bootloader's USB device on the chip: a {@link DfuseDeviceModel} driven by the chip's clock.
 * A request the model NAKs waits on the clock and is asked again (a newer SETUP replaces it, as in
 * the USB controller's buffer); the model's effects are carried out on the chip and the bus.
 */
export class DfuseSession implements UsbGadget {
  private requestSeq = 0;
  private timer: TimerHandle | undefined;
  private timerAt: number | undefined;

  constructor(readonly model: DfuseDeviceModel, private readonly host: BootloaderHost, private readonly link: SessionLink) {}

  control(setup: SetupPacket, data: Uint8Array | undefined): GadgetReply | Promise<GadgetReply> {
    return this.serve(setup, data, ++this.requestSeq);
  }

  busReset(): void {
    this.apply(this.model.busReset(this.host.clock.now()));
  }

  /** Ends the session: nothing more is answered and pending work (leave, reset) is dropped. */
  kill(): void {
    this.model.kill();
    this.timer?.cancel();
    this.timer = undefined;
    this.timerAt = undefined;
  }

  private serve(setup: SetupPacket, data: Uint8Array | undefined, seq: number): GadgetReply | Promise<GadgetReply> {
    const clock = this.host.clock;
    const step = this.model.control(setup, data, clock.now());
    this.apply(step.effects);
    const reply = step.reply;
    if (reply.type !== 'nak') return reply;
    return clock.sleep(reply.until - clock.now()).then(() => (seq === this.requestSeq ? this.serve(setup, data, seq) : SILENT));
  }

  private apply(effects: readonly DeviceEffect[]): void {
    for (const effect of effects) {
      switch (effect.type) {
        case 'attach': this.link.attach(); break;
        case 'detach': this.link.detach(); break;
        case 'restore-peripherals': this.host.restorePeripherals(effect.complete); break;
        case 'jump': this.host.jumpTo(effect.vectorTable); break;
        case 'system-reset': this.host.systemReset(effect.cause); break;
        case 'power-off': this.host.powerOff(); break;
      }
    }
    this.schedule();
  }

  /** Keeps one timer on the clock for the model's next deadline. */
  private schedule(): void {
    const at = this.model.nextDeadline();
    if (at === this.timerAt) return;
    this.timer?.cancel();
    this.timerAt = at;
    this.timer = at === undefined ? undefined : this.host.clock.setTimer(Math.max(0, at - this.host.clock.now()), () => {
      this.timer = undefined;
      this.timerAt = undefined;
      this.apply(this.model.advance(this.host.clock.now()));
    });
  }
}
