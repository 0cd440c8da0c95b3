// The STM32H745's address space as the Cortex-M7 sees it (RM0399 §2.3, Table 7), in one place:
// the memories, then one table of peripherals looked up by base. The executing core, the
// exception model's stacking and the debug port all go through it, so what the firmware, the
// probe and the specs see is one state.
import type { MemoryAccess } from '../cpu/cpu-core.js';
import type { ResetCause } from '../contracts.js';
import { BusFaultError } from './bus-fault.js';
import { extractLane, mergeLane, UnimplementedPeripheral, type MmioPeripheral, type UnmodelledAccess } from './mmio-peripheral.js';

/** A memory in the map; reads and writes take absolute addresses. */
export interface MemoryDevice {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  /** What the core may do there (`r`: a write is a bus error; no `x`: a fetch stops the core). */
  readonly access: MemoryAccess;
  read(address: number, length: number): Uint8Array;
  write(address: number, bytes: Uint8Array): void;
}

/**
 * Address ranges where the STM32H745 has peripherals (RM0399 Table 7: D2 APB1/APB2/AHB1 with the
 * USB OTG cores, D2 AHB2, D1 APB3/AHB3, D3 APB4/AHB4, the debug components, and the Cortex-M7
 * private peripheral bus). A register the simulator does not model reads 0 there; outside them
 * an access is a bus error, as in the reserved gaps of the real map.
 */
export const H745_DEVICE_RANGES: ReadonlyArray<readonly [number, number]> = Object.freeze([
  [0x40000000, 0x400c0000], [0x48020000, 0x48023000], [0x50000000, 0x50004000], [0x51000000, 0x52009000],
  [0x58000000, 0x58007000], [0x58020000, 0x58028000], [0x5c000000, 0x5c010000], [0xe0000000, 0xe0100000],
] as const);

const UNMODELLED_BLOCK = 0x400;

/** Where an error the bus raised outside of the core's own access went. */
export interface PendingBusError {
  address: number;
  reason: string;
}

/** Options of {@link Stm32h745MemoryMap}. */
export interface MemoryMapOptions {
  memories: readonly MemoryDevice[];
  peripherals: readonly MmioPeripheral[];
  deviceRanges?: ReadonlyArray<readonly [number, number]>;
}

/** The whole map: memories, peripherals by base, unmodelled device space, and bus errors. */
export class Stm32h745MemoryMap {
  readonly memories: readonly MemoryDevice[];
  readonly deviceRanges: ReadonlyArray<readonly [number, number]>;
  private readonly table: MmioPeripheral[];
  private readonly filler = new Map<number, UnimplementedPeripheral>();
  private readonly busErrors: PendingBusError[] = [];
  private lastHit: MmioPeripheral | undefined;

  constructor(options: MemoryMapOptions) {
    this.memories = options.memories;
    this.deviceRanges = options.deviceRanges ?? H745_DEVICE_RANGES;
    this.table = [...options.peripherals].sort((a, b) => a.base - b.base);
  }

  /** Adds a peripheral (the core's System Control Space joins when a core executes). */
  add(peripheral: MmioPeripheral): void {
    this.lastHit = undefined;
    this.table.push(peripheral);
    this.table.sort((a, b) => a.base - b.base);
  }

  /** The modelled peripherals, by base address. */
  get peripherals(): readonly MmioPeripheral[] {
    return this.table;
  }

  /** The memory holding [address, address+length), if any. */
  findMemory(address: number, length = 1): MemoryDevice | undefined {
    return this.memories.find((m) => address >= m.base && address + length <= m.base + m.size);
  }

  /**
   * The peripheral answering `address`: a modelled one, or an unmodelled block of device space
   * (which reads 0 and records what was touched); undefined outside device space.
   */
  findPeripheral(address: number): MmioPeripheral | undefined {
    const a = address >>> 0;
    let lo = 0;
    let hi = this.table.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const p = this.table[mid]!;
      if (a < p.base) hi = mid - 1;
      else if (a >= p.base + p.size) lo = mid + 1;
      else return p;
    }
    if (!this.isDeviceSpace(a)) return undefined;
    const block = a - (a % UNMODELLED_BLOCK);
    let filler = this.filler.get(block);
    if (!filler) {
      filler = new UnimplementedPeripheral(`unmodelled@0x${block.toString(16).padStart(8, '0')}`, block, UNMODELLED_BLOCK);
      this.filler.set(block, filler);
    }
    return filler;
  }

  /** True inside the chip's peripheral address ranges. */
  isDeviceSpace(address: number): boolean {
    return this.deviceRanges.some(([s, e]) => address >= s && address < e);
  }

  /** A load from device space (the core's register accesses); skips the memory lookup. */
  readDevice(address: number, size: 1 | 2 | 4): number {
    const p = this.peripheralFor(address);
    const offset = address - p.base;
    return size === 4 && (offset & 3) === 0 ? p.read32(offset) : extractLane(p.read32(offset & ~3), offset & 3, size);
  }

  /** A store to device space. */
  writeDevice(address: number, size: 1 | 2 | 4, value: number): void {
    const p = this.peripheralFor(address);
    const offset = address - p.base;
    if (size === 4) {
      p.write32(offset & ~3, value >>> 0);
      return;
    }
    const current = p.peek32 ? p.peek32(offset & ~3) : 0;
    p.write32(offset & ~3, mergeLane(current, offset & 3, size, value));
  }

  /** A load of `size` bytes, as the core makes it; throws {@link BusFaultError} where nothing answers. */
  read(address: number, size: 1 | 2 | 4): number {
    const memory = this.findMemory(address, size);
    if (memory) return littleEndian(memory.read(address, size));
    return this.readDevice(address, size);
  }

  /** A read without side effects (a debugger's view). */
  peek(address: number, size: 1 | 2 | 4): number {
    const memory = this.findMemory(address, size);
    if (memory) return littleEndian(memory.read(address, size));
    const p = this.peripheralFor(address);
    const offset = address - p.base;
    const word = p.peek32 ? p.peek32(offset & ~3) : p.read32(offset & ~3);
    return extractLane(word, offset & 3, size);
  }

  /** A store of `size` bytes; byte and halfword stores to a register merge into its current word. */
  write(address: number, size: 1 | 2 | 4, value: number): void {
    const memory = this.findMemory(address, size);
    if (memory) {
      if (memory.access === 'r' || memory.access === 'rx') throw new BusFaultError(address, `${memory.name} is read-only to the core`);
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i++) bytes[i] = (value >>> (8 * i)) & 0xff;
      memory.write(address, bytes);
      return;
    }
    this.writeDevice(address, size, value);
  }

  /** Word access for the exception model's stacking and vector reads. */
  read32(address: number): number {
    return this.read(address, 4);
  }

  write32(address: number, value: number): void {
    this.write(address, 4, value);
  }

  /** Every peripheral back to reset values (memories keep their contents). */
  reset(cause: ResetCause): void {
    for (const p of this.table) p.reset(cause);
    this.busErrors.length = 0;
  }

  /** A peripheral answered an access with a bus error (a wrong key sequence): the core takes it after the access. */
  reportBusError(address: number, reason: string): void {
    this.busErrors.push({ address: address >>> 0, reason });
  }

  /** Bus errors raised since the last call. */
  takeBusErrors(): PendingBusError[] {
    return this.busErrors.splice(0);
  }

  /** Registers the simulator does not model that code touched, across every peripheral. */
  unmodelledAccesses(): UnmodelledAccess[] {
    const all: UnmodelledAccess[] = [];
    for (const p of [...this.table, ...this.filler.values()]) {
      const log = (p as Partial<{ unmodelled: UnmodelledAccess[] }>).unmodelled;
      if (log) all.push(...log);
    }
    return all;
  }

  private peripheralFor(address: number): MmioPeripheral {
    // Firmware polls one register at a time: the last block found answers most lookups.
    const last = this.lastHit;
    if (last && address >= last.base && address < last.base + last.size) return last;
    const p = this.findPeripheral(address);
    if (p) this.lastHit = p;
    if (!p) throw new BusFaultError(address, 'nothing is mapped there (a reserved address of the STM32H745)');
    return p;
  }
}

function littleEndian(bytes: Uint8Array): number {
  let v = 0;
  for (let i = bytes.length - 1; i >= 0; i--) v = (v << 8) | bytes[i]!;
  return v >>> 0;
}
