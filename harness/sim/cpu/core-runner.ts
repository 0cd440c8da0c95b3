// Runs a CpuCore on the simulator's virtual clock, in bounded slices, the way rp2040js's
// Simulator does: instructions become cycles, cycles become time, and a core that only waits
// (WFI, or polling a register that cannot change before the next event) skips to that event
// instead of spinning. The event loop is never held for more than one virtual millisecond of
// execution.
//
// Timing is an approximation, documented in the README: one instruction is one cycle of the
// core clock (64 MHz HSI after reset); the Cortex-M7's dual issue, flash wait states and
// caches are not modelled. Within a slice time stands still for the peripherals.
import type { Clock, TimerHandle } from '../../clock/clock.js';
import type { CoreRun, CoreStop, CpuCore } from './cpu-core.js';
import type { ExceptionModel, LockupState } from './exception-model.js';
import { isBranchToSelf, type WatchedInstruction } from './thumb.js';

/** A peripheral whose state changes with time (a UART shifting bits, SysTick counting). */
export interface TimedDevice {
  /** The next time (ms, later than `t`) at which the device changes by itself, or undefined. */
  nextEventAfter(t: number): number | undefined;
  /** Brings the device to time `t`, raising the interrupt lines due by then. */
  advanceTo(t: number): void;
}

/** What the chip gives the runner. */
export interface CoreRunnerHost {
  /** The halfword the core would fetch at `address`; undefined where nothing is mapped. */
  fetch16(address: number): number | undefined;
  /** The core clock now, in Hz. */
  coreHz(): number;
  readonly devices: readonly TimedDevice[];
  /** A stop the chip handles itself, such as a fetch from system memory (the ROM hand-over); true when it did (it halts the runner). */
  interceptStop(stop: CoreStop, pc: number): boolean;
  /** After every slice; true when the chip has taken over (a system reset request) and halted or restarted the runner. */
  afterSlice(): boolean;
  /** The core locked up (ARMv7-M B1.5.15); it stays halted until a reset. */
  onLockup(state: LockupState): void;
  /** True when no interrupt can be taken however time moves (none enabled, or PRIMASK set): a poll loop may then skip ahead inside a slice. */
  interruptsQuiet(): boolean;
}

/** Slice sizes in instructions: small after a wait so a poll loop is recognised early, growing while code computes. */
const MIN_SLICE = 32;
const MAX_SLICE = 32_768;
/** How long a core waiting on registers sleeps with no event in sight before it runs again (virtual ms). */
const IDLE_RECHECK_MS = 100;
/** Longest slice while a poll loop is skipping from event to event. */
const SKIPPING_SLICE = 1024;
/** A poll loop: registers read at least this many times since anything last changed, in this slice… */
const POLL_READS = 4;
/** …at least once per this many instructions of half the slice. */
const POLL_DENSITY = 32;

/** Counters for `npm run bench`. */
export interface RunnerStats {
  instructions: number;
  slices: number;
  sleeps: number;
  mmioReads: number;
  mmioWrites: number;
  /** Times a poll loop inside a slice was moved on to the event it waited for. */
  skips: number;
  /** Wall-clock ms spent inside the core. */
  wallMs: number;
}

type RunnerState = 'halted' | 'running' | 'sleeping';

/**
 * Drives one core on a {@link Clock}. Its own time, {@link now}, is finer than the clock's
 * whole milliseconds and may lead it by up to one millisecond (a frame) or trail it by as
 * much after a wake-up; peripherals read it to time what the core sees.
 */
export class CoreRunner {
  readonly stats: RunnerStats = { instructions: 0, slices: 0, sleeps: 0, mmioReads: 0, mmioWrites: 0, skips: 0, wallMs: 0 };
  private state: RunnerState = 'halted';
  private time = 0;
  /** Since when the core has only been waiting (polling or WFI); a wake-up may move time back to here. */
  private idleSince: number | undefined;
  private timer: TimerHandle | undefined;
  private budget = MIN_SLICE;
  private watchSites = new Map<number, WatchedInstruction>();
  /** WFI waiting to complete: the PC moves past it when the core wakes. */
  private sleepingOnWait: { address: number; size: 2 | 4 } | undefined;
  // Poll detection: reads of one register that found it as it was, since the last write or change.
  private lastAddress = -1;
  private lastValue = -1;
  private calmReads = 0;
  private calmInSlice = 0;
  private accessesInSlice = 0;
  /** Set while the core runs a slice: the end of the current frame (a skip never goes past it). */
  private sliceFrameEnd: number | undefined;
  private sliceBudget = 0;

  constructor(
    private readonly core: CpuCore,
    private readonly exceptions: ExceptionModel,
    private readonly clock: Clock,
    private readonly host: CoreRunnerHost,
  ) {}

  /** The core's time in ms (fractional). */
  now(): number {
    return this.state === 'halted' ? this.clock.now() : this.time;
  }

  /** True while the core executes or waits for an event (not halted by a reset, the ROM or lockup). */
  get isRunning(): boolean {
    return this.state !== 'halted';
  }

  /** True while the core waits for an event. */
  get isSleeping(): boolean {
    return this.state === 'sleeping';
  }

  /**
   * Instructions the runner carries out itself, by address (the chip finds them in its code):
   * WFI/WFE sleep until an event; CPSIE and MSR to a mask register are executed here so that an
   * interrupt they unmask is taken before the next instruction, as on the core.
   */
  setWatchSites(sites: ReadonlyMap<number, WatchedInstruction>): void {
    this.watchSites = new Map(sites);
    this.core.watchCode([...sites.keys()]);
  }

  /** Starts executing at the core's current PC from the clock's now. */
  start(): void {
    this.halt();
    this.time = this.clock.now();
    this.budget = MIN_SLICE;
    this.idleSince = undefined;
    this.lastAddress = -1;
    this.state = 'running';
    this.schedule(0);
  }

  /** Stops executing (reset, power-off, hand-over to the ROM); pending timers are cancelled. */
  halt(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.sleepingOnWait = undefined;
    this.state = 'halted';
  }

  /**
   * Something the core may be waiting for happens at `at` ms (a byte arrives, a line changes).
   * A core that ran ahead of the clock while it only waited is taken back to `at`, so it sees the
   * event when it happened rather than when the clock got there.
   */
  wake(at = this.clock.now()): void {
    if (this.state !== 'sleeping') return;
    this.timer?.cancel();
    this.timer = undefined;
    this.time = Math.max(this.idleSince ?? this.time, at);
    this.state = 'running';
    this.schedule(0);
  }

  /**
   * The MMIO bus saw a read: repeated unchanged reads are how a poll loop is recognised. When the
   * loop has polled long enough and nothing can interrupt it, time moves to the next device event
   * (within the frame) right away; returns true then, and the caller reads the register again.
   */
  noteRead(address: number, value: number): boolean {
    this.stats.mmioReads++;
    this.accessesInSlice++;
    // Calm: the same register as last time, unchanged. Code that reads many registers once each
    // (a dump of GPIO) is working, not waiting, even when none of them changed.
    if (address !== this.lastAddress || this.lastValue !== value) {
      this.lastAddress = address;
      this.lastValue = value;
      this.calmReads = 0;
      this.calmInSlice = 0;
      return false;
    }
    this.calmReads++;
    this.calmInSlice++;
    const frameEnd = this.sliceFrameEnd;
    if (frameEnd === undefined || this.calmReads < POLL_READS || !this.host.interruptsQuiet()) return false;
    const next = this.nextDeviceEvent();
    if (next === undefined || next >= frameEnd) {
      // Nothing can change before the frame ends: end the slice rather than poll out its budget,
      // once enough reads say it is a tight loop however the slice is spread.
      if (this.calmInSlice * POLL_DENSITY >= this.sliceBudget && this.calmInSlice >= POLL_READS) {
        this.core.requestStop();
      }
      return false;
    }
    this.time = next;
    for (const device of this.host.devices) device.advanceTo(next);
    this.calmReads = 0;
    this.calmInSlice = 0;
    this.stats.skips++;
    return true;
  }

  /** The MMIO bus saw a write: the code is doing something, not just waiting. */
  noteWrite(): void {
    this.stats.mmioWrites++;
    this.noteActivity();
  }

  /**
   * A read of a register that can change through what the code itself does between reads (a
   * flash status after flash loads): it never counts as waiting.
   */
  noteActivity(): void {
    this.accessesInSlice++;
    this.calmReads = 0;
    this.calmInSlice = 0;
    this.lastAddress = -1;
  }

  private schedule(delayMs: number): void {
    this.timer = this.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      this.runFrame();
    });
  }

  private cyclesPerMs(): number {
    return this.host.coreHz() / 1000;
  }

  private runFrame(): void {
    if (this.state !== 'running') return;
    const started = performance.now();
    try {
      this.frame();
    } finally {
      this.stats.wallMs += performance.now() - started;
    }
  }

  private frame(): void {
    const frameStart = this.clock.now();
    const frameEnd = frameStart + 1;
    for (;;) {
      for (const device of this.host.devices) device.advanceTo(this.time);
      if (this.sleepingOnWait) {
        if (!this.exceptions.canTakePending() && !this.exceptions.lockedUp) {
          if (!this.sleepUntilEvent(frameEnd)) return;
          continue;
        }
        this.finishWait();
      }
      this.exceptions.takePending();
      const lockup = this.exceptions.lockedUp;
      if (lockup) {
        this.halt();
        this.host.onLockup(lockup);
        return;
      }
      if (this.time >= frameEnd) {
        this.schedule(Math.max(1, Math.floor(this.time) - frameStart));
        return;
      }
      const perMs = this.cyclesPerMs();
      // A device event bounds the slice, so the interrupt it may raise is taken on time; with no
      // interrupt possible, only the frame does (a poll loop skips to events inside the slice).
      const quiet = this.host.interruptsQuiet();
      const next = quiet ? undefined : this.nextDeviceEvent();
      const limit = next !== undefined && next < frameEnd ? next : frameEnd;
      const budget = Math.max(1, Math.min(this.budget, Math.ceil((limit - this.time) * perMs)));
      const sliceStart = this.time;
      this.calmInSlice = 0;
      this.accessesInSlice = 0;
      const pc = this.core.readRegister('pc');
      const skipsBefore = this.stats.skips;
      this.sliceFrameEnd = quiet ? frameEnd : undefined;
      this.sliceBudget = budget;
      let run: CoreRun;
      try {
        run = this.core.run(pc | 1, budget);
      } finally {
        this.sliceFrameEnd = undefined;
      }
      this.stats.slices++;
      this.stats.instructions += run.executed;
      const skipped = this.stats.skips !== skipsBefore;
      // Skips inside the slice may have moved time further than its instructions alone.
      this.time = Math.max(this.time, sliceStart + run.executed / perMs);
      if (this.handleStop(run.stop)) return;
      // The host may reset or hand over the chip here; it halts or restarts the runner itself.
      if (this.host.afterSlice() || this.state !== 'running') return;
      if (run.stop.kind === 'requested') {
        // The slice ended in a poll loop with nothing due in this frame. Such a loop is found
        // inside a slice of any length, so the next one need not start short.
        this.budget = Math.min(SKIPPING_SLICE, this.budget * 2);
        this.idleSince ??= sliceStart;
        if (!this.sleepUntilEvent(frameEnd)) return;
        continue;
      }
      if (run.stop.kind !== 'budget') {
        this.budget = MIN_SLICE;
        this.idleSince = run.stop.kind === 'watched' && this.sleepingOnWait ? this.time : undefined;
        continue;
      }
      if (skipped) {
        // A poll loop that moved on by itself: keep going in longer slices, but not so long that a
        // wait with nothing left to happen in this frame polls for long before it is noticed.
        this.idleSince = undefined;
        this.budget = Math.min(SKIPPING_SLICE, this.budget * 2);
        continue;
      }
      if (this.isWaiting(budget)) {
        this.budget = MIN_SLICE;
        this.idleSince ??= sliceStart;
        if (!this.sleepUntilEvent(frameEnd)) return;
        continue;
      }
      this.idleSince = undefined;
      // Some polling, but spread thin: look closer with a short slice before deciding.
      this.budget = this.calmInSlice >= POLL_READS ? MIN_SLICE : Math.min(MAX_SLICE, this.budget * 2);
    }
  }

  /**
   * True when the slice ended waiting: since its last register change it only re-read registers
   * that did not change, densely (a poll loop, not code that reads a status now and then), or
   * it sits on `b .`.
   */
  private isWaiting(budget: number): boolean {
    if (this.calmReads >= POLL_READS && this.calmInSlice >= POLL_READS && this.calmInSlice * POLL_DENSITY * 2 >= budget) return true;
    if (this.accessesInSlice !== 0) return false;
    const pc = this.core.readRegister('pc') & ~1;
    const first = this.host.fetch16(pc);
    if (first === undefined) return false;
    return isBranchToSelf(first, this.host.fetch16(pc + 2));
  }

  /** Handles a stop other than the budget; true when the runner must leave the frame. */
  private handleStop(stop: CoreStop): boolean {
    const ex = this.exceptions;
    switch (stop.kind) {
      case 'budget': case 'requested': return false;
      case 'svc': ex.supervisorCall(); return false;
      case 'exception-return': ex.exceptionReturn(); return false;
      case 'breakpoint': ex.breakpoint(); return false;
      case 'watched': {
        const site = this.watchSites.get(stop.address);
        if (site?.kind === 'wait') this.sleepingOnWait = { address: stop.address, size: site.size };
        else if (site) this.unmask(stop.address, site);
        return false;
      }
      case 'fault': {
        const pc = this.core.readRegister('pc');
        if (this.host.interceptStop(stop, pc)) return true;
        ex.raiseFault(stop.fault, pc, stop.address, stop.detail);
        return false;
      }
    }
  }

  /** Carries out CPSIE or MSR to a mask register (ARMv7-M B5.2) and moves past it. */
  private unmask(address: number, site: Exclude<WatchedInstruction, { kind: 'wait' }>): void {
    const c = this.core;
    const privileged = (c.readRegister('ipsr') & 0x1ff) !== 0 || (c.readRegister('control') & 1) === 0;
    if (privileged) {
      if (site.kind === 'cpsie') {
        c.writeRegister(site.mask, 0);
      } else {
        const names = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'r11', 'r12', 'sp', 'lr', 'pc'] as const;
        const value = c.readRegister(names[site.rn]!);
        if (site.register === 'primask' || site.register === 'faultmask') c.writeRegister(site.register, value & 1);
        else if (site.register === 'basepri') c.writeRegister('basepri', value & 0xff);
        else {
          // BASEPRI_MAX only ever raises the masking (a lower non-zero value, B5.2.3).
          const now = c.readRegister('basepri') & 0xff;
          const next = value & 0xff;
          if (next !== 0 && (now === 0 || next < now)) c.writeRegister('basepri', next);
        }
      }
    }
    c.writeRegister('pc', (address + site.size) | 1);
  }

  private finishWait(): void {
    const wait = this.sleepingOnWait!;
    this.sleepingOnWait = undefined;
    this.core.writeRegister('pc', (wait.address + wait.size) | 1);
  }

  /** The earliest change any device makes by itself after the core's time. */
  private nextDeviceEvent(): number | undefined {
    let next: number | undefined;
    for (const device of this.host.devices) {
      const at = device.nextEventAfter(this.time);
      if (at !== undefined && at > this.time && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  /**
   * Nothing happens until the next device event: jump to it within this frame, or sleep on the
   * clock until it (or a wake). Returns false when the frame is over.
   */
  private sleepUntilEvent(frameEnd: number): boolean {
    this.stats.sleeps++;
    const next = this.nextDeviceEvent();
    if (next !== undefined && next < frameEnd) {
      this.time = next;
      return true;
    }
    this.state = 'sleeping';
    // A wait recognised by its reads is looked at again now and then, in case code that only
    // looked like polling was working: it is then held up by at most this long. WFI waits for good.
    const at = next ?? (this.sleepingOnWait ? undefined : this.time + IDLE_RECHECK_MS);
    if (at !== undefined) {
      const delay = Math.max(1, Math.floor(at) - this.clock.now());
      this.timer = this.clock.setTimer(delay, () => {
        this.timer = undefined;
        this.time = Math.max(this.time, at);
        this.state = 'running';
        this.runFrame();
      });
    }
    return false;
  }
}
