// Real clients meet a simulated board in wall time. The board models a busy flash by holding the
// host's next request in virtual time, and virtual time jumps: a mass erase the board counts as
// 8.8 s would answer a real client's early GETSTATUS in milliseconds. Under the USB emulation,
// with a real client, the pacer makes every such hold last its virtual duration in wall time
// (times a scale), and lets the board's clock catch up with the wall time the client spent
// between requests, so a client that sleeps bwPollTimeout finds the device as far on as a real
// one would be. In-process runs (the harness's own host on the virtual clock) do not pace.
import type { Clock } from '../clock/clock.js';

/** A clock that can be moved on by hand (the simulated board's VirtualClock). */
interface AdvanceableClock extends Clock {
  advance(ms: number): void;
}

function isAdvanceable(clock: Clock): clock is AdvanceableClock {
  return typeof (clock as Partial<AdvanceableClock>).advance === 'function';
}

/** When a request arrived, in both clocks. */
export interface Arrival {
  wall: number;
  virtual: number;
}

/** Paces a simulated board's device-busy time to the wall clock. */
export class BusyTimePacer {
  private anchor: Arrival | undefined;

  /**
   * @param board the simulated board's clock
   * @param wall real time (systemClock; injected for tests)
   * @param scale wall milliseconds per virtual millisecond; 1 is real time, 0.1 ten times faster
   */
  constructor(private readonly board: Clock, private readonly wall: Clock, readonly scale: number) {
    if (!(scale > 0) || !Number.isFinite(scale)) throw new RangeError(`busy-time scale must be a positive number, got ${scale}`);
  }

  /** A request arrives: the board catches up with the wall time since the last answer; returns the arrival time. */
  arrive(): Arrival {
    const wall = this.wall.now();
    if (this.anchor && isAdvanceable(this.board)) {
      const due = this.anchor.virtual + (wall - this.anchor.wall) / this.scale - this.board.now();
      if (due > 0) this.board.advance(due);
    }
    return { wall, virtual: this.board.now() };
  }

  /** The device has its answer: waits until the wall clock has spent `scale` ms per virtual ms it took. */
  async settle(arrival: Arrival): Promise<void> {
    const spent = this.board.now() - arrival.virtual;
    const wait = arrival.wall + spent * this.scale - this.wall.now();
    if (wait > 0) await this.wall.sleep(wait);
  }

  /** The answer went out: later requests count the client's time from here. */
  answered(): void {
    this.anchor = { wall: this.wall.now(), virtual: this.board.now() };
  }
}
