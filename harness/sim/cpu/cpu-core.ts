// The seam between the simulated chip and the CPU that executes its firmware. The chip sees
// registers, memory it maps in, register blocks it answers, and bounded runs that stop for a
// reason. Behind it: Unicorn 2 (unicorn-core.ts, the one FFI file); a test double could stand in.

/** The ARMv7-M registers the exception model and the runner read and write. */
export type CoreRegister =
  | 'r0' | 'r1' | 'r2' | 'r3' | 'r4' | 'r5' | 'r6' | 'r7' | 'r8' | 'r9' | 'r10' | 'r11' | 'r12'
  | 'sp' | 'lr' | 'pc' | 'msp' | 'psp' | 'xpsr' | 'ipsr' | 'primask' | 'basepri' | 'faultmask' | 'control';

/** How code may use a region of memory. Fetching from a region without `x` stops the run (a ROM hand-over, for instance). */
export type MemoryAccess = 'rwx' | 'rx' | 'r';

/** Host memory the core reads and writes directly: RAM, flash, system memory. Base and size are 4 KiB aligned. */
export interface MappedMemory {
  readonly name: string;
  readonly base: number;
  /** The bytes themselves; the core keeps a pointer to them, so they must never be replaced. */
  readonly bytes: Uint8Array;
  readonly access: MemoryAccess;
}

/** Register blocks the core reaches by loads and stores; called with absolute addresses. */
export interface MmioHandler {
  read(address: number, size: 1 | 2 | 4): number;
  write(address: number, size: 1 | 2 | 4, value: number): void;
}

/** Why an access or fetch failed in the core. */
export type CoreFaultKind =
  | 'fetch-unmapped' | 'fetch-protected' | 'read-unmapped' | 'write-unmapped' | 'write-protected'
  | 'read-protected' | 'unaligned' | 'undefined-instruction' | 'invalid-state' | 'other';

/** Why a bounded run returned. */
export type CoreStop =
  /** Every instruction of the budget ran. */
  | { kind: 'budget' }
  /** `svc`: the PC is past the instruction. */
  | { kind: 'svc' }
  /** A branch to an EXC_RETURN value (0xFFFFFFxx): the PC holds it without bit 0. */
  | { kind: 'exception-return' }
  /** `bkpt`: the PC is at the instruction. */
  | { kind: 'breakpoint' }
  /**
   * {@link CpuCore.requestStop} ended the run from inside a register access. The PC is the start
   * of the translation block that made it: that block runs again from its start when resumed.
   */
  | { kind: 'requested' }
  /** An address registered with {@link CpuCore.watchCode} is about to execute. */
  | { kind: 'watched'; address: number }
  /**
   * A fault. `address` is the data or fetch address when known. The PC is precise for fetch
   * faults and undefined instructions; for data faults Unicorn 2.0.1 leaves it at the start of
   * the translation block that faulted.
   */
  | { kind: 'fault'; fault: CoreFaultKind; address?: number; detail?: string };

/** What one bounded run did. */
export interface CoreRun {
  stop: CoreStop;
  /**
   * Instructions executed: exact when the budget ran out; otherwise the budget (an upper
   * bound), because Unicorn reports no count for a run it stopped early; 0 for a requested stop
   * (a poll loop, whose instructions are not worth counting).
   */
  executed: number;
}

/** One CPU core. Not thread-safe and not re-entrant: run() must not be called from a handler. */
export interface CpuCore {
  /** A short name of the engine, for messages ("Unicorn 2.0.1"). */
  readonly engine: string;
  mapMemory(memory: MappedMemory): void;
  /** Routes loads and stores in [base, base+size) to `handler`; base and size 4 KiB aligned. */
  mapMmio(base: number, size: number, handler: MmioHandler): void;
  readRegister(register: CoreRegister): number;
  writeRegister(register: CoreRegister, value: number): void;
  /** Stops runs just before any of `addresses` executes (replaces the previous set). */
  watchCode(addresses: readonly number[]): void;
  /**
   * Calls `onRead` with the address of every load from the [start, end) ranges (replaces the
   * previous set); the load itself completes normally. For flash words that report ECC errors.
   */
  watchReads(ranges: ReadonlyArray<readonly [number, number]>, onRead: (address: number) => void): void;
  /** Forgets translated code in [address, address+length): call after the host changed code bytes. */
  invalidateCode(address: number, length: number): void;
  /** Runs from `pc` (bit 0 set for Thumb) for at most `budget` instructions. */
  run(pc: number, budget: number): CoreRun;
  /**
   * From a register access inside {@link run}: end the run now. Only for a poll loop that has
   * read the same unchanged register over and over, whose block can safely run again.
   */
  requestStop(): void;
  /** Releases the engine; the core cannot be used afterwards. */
  close(): void;
}
