const PAGE = 1024;

/**
 * The SRAM the bootloader lets a host read and write (AN2606 Table 226 ranges), kept sparse:
 * only pages written cost memory. Unwritten RAM reads 0 (its content after reset is undefined).
 */
export class BootloaderRam {
  private readonly pages = new Map<number, Uint8Array>();

  /** Stores bytes at `address`. */
  write(address: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const at = address + i;
      const key = Math.floor(at / PAGE);
      let page = this.pages.get(key);
      if (!page) {
        page = new Uint8Array(PAGE);
        this.pages.set(key, page);
      }
      page[at - key * PAGE] = data[i]!;
    }
  }

  /** Copies `length` bytes from `address`. */
  read(address: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) {
      const at = address + i;
      const key = Math.floor(at / PAGE);
      out[i] = this.pages.get(key)?.[at - key * PAGE] ?? 0;
    }
    return out;
  }

  /** Forgets everything, as Read Unprotect on an unprotected chip does. */
  clear(): void {
    this.pages.clear();
  }
}
