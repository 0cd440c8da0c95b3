import { BusFaultError } from './bus-fault.js';

/** One SRAM region of the STM32H745 (CMSIS D1_ITCMRAM_BASE, D1_DTCMRAM_BASE, D1_AXISRAM_BASE, D2_AHBSRAM_BASE, D3_SRAM_BASE). */
export interface SramRegion {
  name: string;
  start: number;
  size: number;
}

/**
 * The RAM the simulated chip models (RM0399 §2.3 memory map); contents survive system resets
 * and vanish at power-off. ITCM and DTCM are the Cortex-M7's tightly coupled memories.
 */
export const H745_SRAM_REGIONS: readonly SramRegion[] = Object.freeze([
  { name: 'ITCM', start: 0x00000000, size: 64 * 1024 },
  { name: 'DTCM', start: 0x20000000, size: 128 * 1024 },
  { name: 'AXI SRAM', start: 0x24000000, size: 512 * 1024 },
  { name: 'SRAM1-3', start: 0x30000000, size: 288 * 1024 },
  { name: 'SRAM4', start: 0x38000000, size: 64 * 1024 },
]);

/**
 * The chip's SRAM, one array per region, allocated when first written (or when an executing core
 * maps it), so an idle simulated board costs almost no host memory. Never-written RAM reads as 0
 * (the real chip holds noise after power-on; the test app only trusts its 64-bit magic, which
 * noise would not match). Arrays are cleared in place, never replaced: a core may hold them.
 */
export class Sram {
  private readonly arrays = new Map<SramRegion, Uint8Array>();

  constructor(readonly regions: readonly SramRegion[] = H745_SRAM_REGIONS) {}

  /** True when [address, address+length) lies inside one region. */
  contains(address: number, length: number): boolean {
    return this.regionAt(address, length) !== undefined;
  }

  /** The bytes of region `name`, allocated if needed; they stay the same array for the board's life. */
  regionBytes(name: string): Uint8Array {
    const region = this.regions.find((r) => r.name === name);
    if (!region) throw new RangeError(`no SRAM region named ${name}`);
    return this.array(region);
  }

  /** Copies bytes out of RAM. */
  read(address: number, length: number): Uint8Array {
    const region = this.check(address, length);
    const data = this.arrays.get(region);
    return data ? data.slice(address - region.start, address - region.start + length) : new Uint8Array(length);
  }

  /** Copies bytes into RAM. */
  write(address: number, bytes: Uint8Array): void {
    const region = this.check(address, bytes.length);
    this.array(region).set(bytes, address - region.start);
  }

  /** A little-endian 64-bit word (the H7's ECC RAM commits 64-bit writes whole). */
  readU64(address: number): bigint {
    const b = this.read(address, 8);
    return new DataView(b.buffer).getBigUint64(0, true);
  }

  /** Writes a little-endian 64-bit word. */
  writeU64(address: number, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, value), true);
    this.write(address, b);
  }

  /** Power is gone: everything is lost. */
  clear(): void {
    for (const data of this.arrays.values()) data.fill(0);
  }

  /** Host bytes the allocated regions take. */
  memoryFootprintBytes(): number {
    let total = 0;
    for (const data of this.arrays.values()) total += data.byteLength;
    return total;
  }

  private array(region: SramRegion): Uint8Array {
    let data = this.arrays.get(region);
    if (!data) {
      data = new Uint8Array(region.size);
      this.arrays.set(region, data);
    }
    return data;
  }

  private regionAt(address: number, length: number): SramRegion | undefined {
    return this.regions.find((r) => address >= r.start && address + length <= r.start + r.size);
  }

  private check(address: number, length: number): SramRegion {
    const region = Number.isInteger(address) && Number.isInteger(length) && length >= 0 ? this.regionAt(address, length) : undefined;
    if (!region) throw new BusFaultError(address, `${length} bytes are not inside one SRAM region`);
    return region;
  }
}
