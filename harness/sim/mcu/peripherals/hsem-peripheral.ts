// The hardware semaphores (RM0399 §11; CMSIS HSEM_TypeDef): 32 semaphores the two cores take with
// a write (2-step) or a read of RLR (1-step), as ST's dual-core startup code does.
import { BasePeripheral } from '../mmio-peripheral.js';

/** HSEM base (CMSIS: D3_AHB1PERIPH_BASE + 0x6400). */
export const HSEM_BASE = 0x58026400;
/** The Cortex-M7's COREID on the STM32H745 (CMSIS HSEM_CPU1_COREID). */
export const CM7_COREID = 3;

const LOCK = 0x80000000;
const RLR = 0x80;
const COUNT = 32;

/** HSEM as the CM7 sees it; the CM4 (not executed) never holds a semaphore. */
export class HsemPeripheral extends BasePeripheral {
  private readonly r = new Uint32Array(COUNT);
  private ier = 0;

  constructor() {
    super('HSEM', HSEM_BASE, 0x400);
  }

  read32(offset: number): number {
    const o = offset & ~3;
    if (o < RLR) return this.r[o / 4]!;
    if (o < RLR + 4 * COUNT) {
      // 1-step lock: reading RLR takes a free semaphore for the reading core (PROCID 0).
      const n = (o - RLR) / 4;
      if ((this.r[n]! & LOCK) === 0) this.r[n] = (LOCK | (CM7_COREID << 8)) >>> 0;
      return this.r[n]!;
    }
    if (o === 0x100) return this.ier;
    if (o === 0x104 || o === 0x108 || o === 0x10c || o === 0x140 || o === 0x144) return 0;
    return this.unimplemented(o, false);
  }

  write32(offset: number, value: number): void {
    const o = offset & ~3;
    const v = value >>> 0;
    if (o < RLR) {
      const n = o / 4;
      const current = this.r[n]!;
      if ((v & LOCK) !== 0) {
        // 2-step lock: the write takes a free semaphore with the COREID and PROCID written.
        if ((current & LOCK) === 0) this.r[n] = (LOCK | (CM7_COREID << 8) | (v & 0xff)) >>> 0;
      } else if ((current & 0xffff) === ((CM7_COREID << 8) | (v & 0xff))) {
        this.r[n] = 0;
      }
      return;
    }
    if (o === 0x100) { this.ier = v; return; }
    if (o === 0x104 || o === 0x140 || o === 0x144) return;
    this.unimplemented(o, true);
  }

  reset(): void {
    this.r.fill(0);
    this.ier = 0;
  }
}
