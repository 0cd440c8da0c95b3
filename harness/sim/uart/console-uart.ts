import type { Clock, TimerHandle } from '../../clock/clock.js';

/** Options for {@link ConsoleUart}. */
export interface ConsoleUartOptions {
  /** Default 115200 (the test application's console). */
  baudRate?: number;
  /** Bits on the wire per byte: 8N1 is start + 8 data + stop = 10. */
  frameBits?: number;
}

/** The host's end of the console: what the ST-LINK virtual COM port forwards. */
export interface ConsoleHostEnd {
  /** Sends bytes towards the target's RX pin. */
  write(bytes: Uint8Array): void;
  /** Calls `listener` with bytes from the target's TX pin; returns an unsubscribe. */
  onData(listener: (bytes: Uint8Array) => void): () => void;
  /** Resolves once every byte the host wrote has reached the target. */
  drain(): Promise<void>;
}

/** Given bytes as they arrive, with when each one's stop bit ended (virtual ms, finer than the clock's tick). */
export type ReceiveListener = (bytes: Uint8Array, arrivals: readonly number[]) => void;

/** Told of bytes when they are queued: byte i's stop bit ends at startMs + (i + 1) · byteTimeMs. */
export type ScheduledListener = (bytes: Uint8Array, startMs: number, byteTimeMs: number) => void;

/** Bytes that reach the far end together at the tick `at`, each chunk with the time its last stop bit ends. */
interface Delivery {
  at: number;
  handle: TimerHandle;
  chunks: Array<{ bytes: Uint8Array; end: number }>;
}

/** One direction of the line: bytes leave one after the other, each taking a frame time. */
class UartDirection {
  private busyUntil = 0;
  private readonly inFlight = new Set<TimerHandle>();
  private readonly deliveries = new Map<TimerHandle, Delivery>();
  private lastDelivery: Delivery | undefined;
  private readonly listeners = new Set<ReceiveListener>();
  private readonly scheduledListeners = new Set<ScheduledListener>();
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly clock: Clock, private readonly byteTimeMs: number) {}

  /** Queues bytes; returns the virtual time at which the last stop bit ends. */
  send(bytes: Uint8Array, notBefore = 0): number {
    return this.sendFrom(Math.max(this.clock.now(), this.busyUntil, notBefore), bytes);
  }

  /**
   * Queues bytes whose first start bit is at `startMs` exactly (not before the line is free),
   * even slightly in the past: a transmitter with a finer clock than the virtual one schedules
   * its own bytes. Delivery is never before now.
   */
  sendFrom(startMs: number, bytes: Uint8Array): number {
    const start = Math.max(startMs, this.busyUntil);
    const end = start + bytes.length * this.byteTimeMs;
    this.busyUntil = end;
    for (const l of [...this.scheduledListeners]) l(bytes, start, this.byteTimeMs);
    // The virtual clock counts whole milliseconds; deliver at the first tick after the last stop bit.
    const delay = Math.max(0, Math.ceil(end - this.clock.now()));
    const at = this.clock.now() + delay;
    const last = this.lastDelivery;
    if (last && last.at === at && this.inFlight.has(last.handle)) {
      // Bytes due in the same tick travel together: one timer, not one per byte.
      last.chunks.push({ bytes: bytes.slice(), end });
      return end;
    }
    const delivery: Delivery = { at, handle: { cancel: () => undefined }, chunks: [{ bytes: bytes.slice(), end }] };
    const handle = this.clock.setTimer(delay, () => {
      this.inFlight.delete(handle);
      this.deliveries.delete(handle);
      const parts = delivery.chunks.map((c) => c.bytes);
      const data = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      // When each byte's stop bit ended: the chunk's end, less a byte time for each byte after it.
      const arrivals = delivery.chunks.flatMap((c) => Array.from(c.bytes, (_b, i) => c.end - (c.bytes.length - 1 - i) * this.byteTimeMs));
      if (data.length > 0) for (const l of [...this.listeners]) l(data, arrivals);
      this.settle();
    });
    delivery.handle = handle;
    this.lastDelivery = delivery;
    this.deliveries.set(handle, delivery);
    this.inFlight.add(handle);
    return end;
  }

  /**
   * The transmitter was reset at `atMs` (default now): bytes whose stop bit had not passed by
   * then never arrive; those already on the line in full still do, at their tick.
   */
  abort(atMs = this.clock.now()): void {
    for (const handle of [...this.inFlight]) {
      const delivery = this.deliveries.get(handle);
      if (delivery) delivery.chunks = delivery.chunks.filter((c) => c.end <= atMs);
      if (delivery && delivery.chunks.length > 0) continue;
      handle.cancel();
      this.inFlight.delete(handle);
      this.deliveries.delete(handle);
    }
    this.busyUntil = Math.min(this.busyUntil, Math.max(atMs, this.clock.now()));
    this.settle();
  }

  listen(listener: ReceiveListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tells `listener` of bytes as they are queued, with when each starts, before they arrive. */
  listenScheduled(listener: ScheduledListener): () => void {
    this.scheduledListeners.add(listener);
    return () => this.scheduledListeners.delete(listener);
  }

  idle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private settle(): void {
    if (this.inFlight.size > 0) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }
}

/**
 * The console UART between the target (USART3) and the ST-LINK's virtual COM port, with
 * 8N1 byte timing on the virtual clock (about 86.8 µs per byte at 115200) in both
 * directions, and noise injection on the target-to-host direction.
 */
export class ConsoleUart {
  readonly byteTimeMs: number;
  readonly host: ConsoleHostEnd;
  private readonly tx: UartDirection;
  private readonly rx: UartDirection;

  constructor(private readonly clock: Clock, options: ConsoleUartOptions = {}) {
    const baud = options.baudRate ?? 115200;
    this.byteTimeMs = ((options.frameBits ?? 10) / baud) * 1000;
    this.tx = new UartDirection(clock, this.byteTimeMs);
    this.rx = new UartDirection(clock, this.byteTimeMs);
    this.host = {
      write: (bytes) => { this.rx.send(bytes); },
      onData: (listener) => this.tx.listen(listener),
      drain: () => this.rx.idle(),
    };
  }

  /** The target transmits; returns the virtual time its last byte has left. */
  transmit(bytes: Uint8Array | string): number {
    return this.tx.send(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /**
   * The target transmits bytes whose first start bit is at `startMs` on its own (finer) clock;
   * returns when the last stop bit ends.
   */
  transmitFrom(startMs: number, bytes: Uint8Array): number {
    return this.tx.sendFrom(startMs, bytes);
  }

  /** Resolves once everything the target sent has reached the host. */
  transmitted(): Promise<void> {
    return this.tx.idle();
  }

  /** The target's receiver: calls `listener` with bytes from the host as they arrive; returns an unsubscribe. */
  onReceive(listener: ReceiveListener): () => void {
    return this.rx.listen(listener);
  }

  /**
   * The target's receiver as a register model needs it: told of each host write when it is
   * queued, with the time every byte will have arrived, so it can be read at the right moment.
   */
  onReceiveScheduled(listener: ScheduledListener): () => void {
    return this.rx.listenScheduled(listener);
  }

  /** The target's USART was reset at `atMs` (default now): bytes not fully sent by then never arrive. */
  resetTransmitter(atMs?: number): void {
    this.tx.abort(atMs);
  }

  /** Puts garbage on the line towards the host, `afterMs` from now (a glitch, a reset transient). */
  injectNoise(bytes: Uint8Array | string, afterMs = 0): void {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    this.tx.send(data, this.clock.now() + afterMs);
  }
}
