import type { SetupPacket } from './spec.js';

/**
 * How a device answers one control transfer. `disconnected` means the device dropped off the
 * bus before answering (a reset, a leave); `silent` means it never answers (the host times out).
 */
export type GadgetReply =
  | { type: 'ack'; data?: Uint8Array }
  | { type: 'stall' }
  | { type: 'silent' }
  | { type: 'disconnected' };

/**
 * The device side of USB: what a simulated device implements so that a bus (in-process, or a
 * libusb emulation) can present it to host software. Standard requests such as GET_DESCRIPTOR
 * and SET_INTERFACE arrive here too, exactly as on the wire.
 */
export interface UsbGadget {
  /**
   * Handles one control transfer. `data` is the OUT data stage (absent for IN transfers); an IN
   * reply longer than `setup.wLength` is truncated by the bus, as a real host controller does.
   */
  control(setup: SetupPacket, data: Uint8Array | undefined): GadgetReply | Promise<GadgetReply>;
  /** The host drove a bus reset on this port. */
  busReset(): void;
}

/**
 * A USB socket that a board plugs a gadget into: the bootloader appears on it at entry and goes
 * at leave. Buses watch connectors to learn about attach and detach.
 */
export interface UsbConnector {
  /** Stable physical location, like libusb's port path ("1-4.2"). */
  readonly portPath: string;
  /** The gadget enumerated on this socket now, if any. */
  current(): UsbGadget | undefined;
  /** Calls `listener` whenever the gadget on this socket changes; returns an unsubscribe. */
  watch(listener: (gadget: UsbGadget | undefined) => void): () => void;
}

/** A plain {@link UsbConnector}: whoever owns it plugs and unplugs gadgets. */
export class UsbSocket implements UsbConnector {
  private gadget: UsbGadget | undefined;
  private readonly listeners = new Set<(gadget: UsbGadget | undefined) => void>();

  constructor(readonly portPath: string) {}

  current(): UsbGadget | undefined {
    return this.gadget;
  }

  watch(listener: (gadget: UsbGadget | undefined) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Attaches `gadget`, replacing whatever was there. */
  plug(gadget: UsbGadget): void {
    if (this.gadget === gadget) return;
    this.gadget = gadget;
    for (const l of [...this.listeners]) l(gadget);
  }

  /** Detaches whatever is plugged in. */
  unplug(): void {
    if (!this.gadget) return;
    this.gadget = undefined;
    for (const l of [...this.listeners]) l(undefined);
  }
}
