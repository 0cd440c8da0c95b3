import { BusFaultError } from './bus-fault.js';

/** One SRAM region of the STM32H745 (CMSIS D1_DTCMRAM_BASE, D1_AXISRAM_BASE, D2_AHBSRAM_BASE, D3_SRAM_BASE). */
export interface SramRegion {
  name: string;
  start: number;
  size: number;
}

/** The SRAM the simulated chip models; contents survive system resets and vanish at power-off. */
export const H745_SRAM_REGIONS: readonly SramRegion[] = Object.freeze([
  { name: 'DTCM', start: 0x20000000, size: 128 * 1024 },
  { name: 'AXI SRAM', start: 0x24000000, size: 512 * 1024 },
  { name: 'SRAM1-3', start: 0x30000000, size: 288 * 1024 },
  { name: 'SRAM4', start: 0x38000000, size: 64 * 1024 },
]);

const PAGE = 4096;

/**
 * The chip's SRAM, stored sparsely in 4 KiB pages so an idle board costs almost no host memory.
 * Never-written RAM reads as 0 (the real chip holds noise after power-on; the test app only
 * trusts its 64-bit magic, which noise would not match).
 */
export class Sram {
  private readonly pages = new Map<number, Uint8Array>();

  constructor(readonly regions: readonly SramRegion[] = H745_SRAM_REGIONS) {}

  /** True when [address, address+length) lies inside one region. */
  contains(address: number, length: number): boolean {
    return this.regions.some((r) => address >= r.start && address + length <= r.start + r.size);
  }

  /** Copies bytes out of RAM. */
  read(address: number, length: number): Uint8Array {
    this.check(address, length);
    const out = new Uint8Array(length);
    for (let i = 0; i < length;) {
      const at = address + i;
      const page = Math.floor(at / PAGE);
      const offset = at % PAGE;
      const take = Math.min(PAGE - offset, length - i);
      const data = this.pages.get(page);
      if (data) out.set(data.subarray(offset, offset + take), i);
      i += take;
    }
    return out;
  }

  /** Copies bytes into RAM. */
  write(address: number, bytes: Uint8Array): void {
    this.check(address, bytes.length);
    for (let i = 0; i < bytes.length;) {
      const at = address + i;
      const page = Math.floor(at / PAGE);
      const offset = at % PAGE;
      const take = Math.min(PAGE - offset, bytes.length - i);
      let data = this.pages.get(page);
      if (!data) { data = new Uint8Array(PAGE); this.pages.set(page, data); }
      data.set(bytes.subarray(i, i + take), offset);
      i += take;
    }
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
    this.pages.clear();
  }

  /** Host bytes the pages take. */
  memoryFootprintBytes(): number {
    return this.pages.size * PAGE;
  }

  private check(address: number, length: number): void {
    if (!Number.isInteger(address) || !Number.isInteger(length) || length < 0 || !this.contains(address, length)) {
      throw new BusFaultError(address, `${length} bytes are not inside one SRAM region`);
    }
  }
}
