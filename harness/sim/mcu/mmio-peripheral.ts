// A peripheral as the memory map sees it (rp2040js's shape): 32-bit registers by offset from
// its own base, and a reset. Narrower accesses are built from the word access here, so each
// peripheral models only what its reference manual section describes.
import type { ResetCause } from '../contracts.js';

/** A register block at a fixed base, reached through {@link Stm32h745MemoryMap}. */
export interface MmioPeripheral {
  readonly name: string;
  readonly base: number;
  /** Bytes of address space it answers. */
  readonly size: number;
  read32(offset: number): number;
  write32(offset: number, value: number): void;
  /** A read with no side effect (a debugger's view; the merge for byte and halfword writes). */
  peek32?(offset: number): number;
  /** Back to reset values; `cause` lets state that survives some resets (PWR's supply lock, RSR flags) stay. */
  reset(cause: ResetCause): void;
}

/** An access to a register the model does not implement. */
export interface UnmodelledAccess {
  peripheral: string;
  offset: number;
  write: boolean;
}

/**
 * Common ground: unknown offsets read 0 and ignore writes, and each one is recorded once so a
 * test (or the bench) can see what firmware touched that the model does not know.
 */
export abstract class BasePeripheral implements MmioPeripheral {
  /** Unimplemented registers touched since the last reset of the log. */
  readonly unmodelled: UnmodelledAccess[] = [];
  private readonly seen = new Set<string>();

  constructor(readonly name: string, readonly base: number, readonly size: number) {}

  abstract read32(offset: number): number;
  abstract write32(offset: number, value: number): void;
  abstract reset(cause: ResetCause): void;

  peek32(offset: number): number {
    return this.read32(offset);
  }

  /** Records an access to a register this model leaves out; reads of it give 0. */
  protected unimplemented(offset: number, write: boolean): number {
    const key = `${offset}:${write ? 'w' : 'r'}`;
    if (!this.seen.has(key)) {
      this.seen.add(key);
      this.unmodelled.push({ peripheral: this.name, offset, write });
    }
    return 0;
  }
}

/** A peripheral the chip has but the simulator does not model: reads 0, writes are ignored (and recorded). */
export class UnimplementedPeripheral extends BasePeripheral {
  read32(offset: number): number {
    return this.unimplemented(offset, false);
  }

  write32(offset: number, _value: number): void {
    this.unimplemented(offset, true);
  }

  reset(): void {}
}

/**
 * Plain read/write registers with reset values, for peripherals whose registers only hold what
 * software writes as far as the firmware can tell (SYSCFG, DBGMCU's freeze bits).
 */
export class RegisterFilePeripheral extends BasePeripheral {
  private readonly values = new Map<number, number>();

  /** `resetValues` by offset; `readOnly` offsets ignore writes. */
  constructor(name: string, base: number, size: number, private readonly resetValues: Readonly<Record<number, number>> = {},
    private readonly readOnly: ReadonlySet<number> = new Set()) {
    super(name, base, size);
    this.reset();
  }

  read32(offset: number): number {
    return this.values.get(offset & ~3) ?? 0;
  }

  write32(offset: number, value: number): void {
    if (this.readOnly.has(offset & ~3)) return;
    this.values.set(offset & ~3, value >>> 0);
  }

  reset(): void {
    this.values.clear();
    for (const [offset, value] of Object.entries(this.resetValues)) this.values.set(Number(offset), value >>> 0);
  }
}

/** Reads `size` bytes at byte `lane` of a little-endian word. */
export function extractLane(word: number, lane: number, size: 1 | 2 | 4): number {
  if (size === 4) return word >>> 0;
  const mask = size === 1 ? 0xff : 0xffff;
  return (word >>> (lane * 8)) & mask;
}

/** Puts `value` (`size` bytes) into byte `lane` of `word`. */
export function mergeLane(word: number, lane: number, size: 1 | 2 | 4, value: number): number {
  if (size === 4) return value >>> 0;
  const mask = (size === 1 ? 0xff : 0xffff) << (lane * 8);
  return ((word & ~mask) | ((value << (lane * 8)) & mask)) >>> 0;
}
