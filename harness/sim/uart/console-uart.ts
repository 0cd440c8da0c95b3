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

/** One direction of the line: bytes leave one after the other, each taking a frame time. */
class UartDirection {
  private busyUntil = 0;
  private readonly inFlight = new Set<TimerHandle>();
  private readonly listeners = new Set<(bytes: Uint8Array) => void>();
  private readonly idleWaiters: Array<() => void> = [];

  constructor(private readonly clock: Clock, private readonly byteTimeMs: number) {}

  /** Queues bytes; returns the virtual time at which the last stop bit ends. */
  send(bytes: Uint8Array, notBefore = 0): number {
    const start = Math.max(this.clock.now(), this.busyUntil, notBefore);
    const end = start + bytes.length * this.byteTimeMs;
    this.busyUntil = end;
    const copy = bytes.slice();
    // The virtual clock counts whole milliseconds; deliver at the first tick after the last stop bit.
    const handle = this.clock.setTimer(Math.max(0, Math.ceil(end - this.clock.now())), () => {
      this.inFlight.delete(handle);
      for (const l of [...this.listeners]) l(copy);
      this.settle();
    });
    this.inFlight.add(handle);
    return end;
  }

  /** Drops bytes not yet delivered (the transmitter was reset). */
  abort(): void {
    for (const h of this.inFlight) h.cancel();
    this.inFlight.clear();
    this.busyUntil = Math.min(this.busyUntil, this.clock.now());
    this.settle();
  }

  listen(listener: (bytes: Uint8Array) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
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

  /** Resolves once everything the target sent has reached the host. */
  transmitted(): Promise<void> {
    return this.tx.idle();
  }

  /** The target's receiver: calls `listener` with bytes from the host; returns an unsubscribe. */
  onReceive(listener: (bytes: Uint8Array) => void): () => void {
    return this.rx.listen(listener);
  }

  /** The target's USART was reset: bytes still queued in it never leave. */
  resetTransmitter(): void {
    this.tx.abort();
  }

  /** Puts garbage on the line towards the host, `afterMs` from now (a glitch, a reset transient). */
  injectNoise(bytes: Uint8Array | string, afterMs = 0): void {
    const data = typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes;
    this.tx.send(data, this.clock.now() + afterMs);
  }
}
