// The NVIC's registers (ARMv7-M ARM B3.4.2): set/clear enable, set/clear pending, active bits and
// priority bytes, as views on the exception model's state.
import { FIRST_IRQ, type ExceptionModel } from '../../cpu/exception-model.js';
import { BasePeripheral } from '../mmio-peripheral.js';

/** NVIC_ISER0. */
export const NVIC_BASE = 0xe000e100;
const ISER = 0x000;
const ICER = 0x080;
const ISPR = 0x100;
const ICPR = 0x180;
const IABR = 0x200;
const IPR = 0x300;
const IPR_END = 0x3f0;

/** ISER/ICER/ISPR/ICPR/IABR (8 words each) and IPR (60 words), for the exception model's interrupts. */
export class NvicPeripheral extends BasePeripheral {
  constructor(private readonly exceptions: ExceptionModel) {
    super('NVIC', NVIC_BASE, 0x400);
  }

  read32(offset: number): number {
    const o = offset & ~3;
    if (o >= IPR && o < IPR_END) {
      let word = 0;
      for (let i = 0; i < 4; i++) word |= this.exceptions.getPriority(FIRST_IRQ + (o - IPR) + i) << (8 * i);
      return word >>> 0;
    }
    const group = this.group(o);
    if (!group) return this.unimplemented(o, false);
    let word = 0;
    for (let bit = 0; bit < 32; bit++) {
      const irq = group.first + bit;
      if (irq >= this.exceptions.irqCount) break;
      const on = group.kind === 'enable' ? this.exceptions.isIrqEnabled(irq)
        : group.kind === 'pending' ? this.exceptions.isPending(FIRST_IRQ + irq) : this.exceptions.isActive(FIRST_IRQ + irq);
      if (on) word |= 1 << bit;
    }
    return word >>> 0;
  }

  write32(offset: number, value: number): void {
    const o = offset & ~3;
    if (o >= IPR && o < IPR_END) {
      for (let i = 0; i < 4; i++) this.exceptions.setPriority(FIRST_IRQ + (o - IPR) + i, (value >>> (8 * i)) & 0xff);
      return;
    }
    const group = this.group(o);
    if (!group || group.kind === 'active') {
      if (!group) this.unimplemented(o, true);
      return;
    }
    for (let bit = 0; bit < 32; bit++) {
      if (((value >>> bit) & 1) === 0) continue;
      const irq = group.first + bit;
      if (group.kind === 'enable') this.exceptions.setIrqEnabled(irq, group.set);
      else if (group.set) this.exceptions.setPending(FIRST_IRQ + irq);
      else this.exceptions.clearPending(FIRST_IRQ + irq);
    }
  }

  /** The model's state is reset by the core's reset. */
  reset(): void {}

  private group(o: number): { kind: 'enable' | 'pending' | 'active'; set: boolean; first: number } | undefined {
    for (const [start, kind, set] of [[ISER, 'enable', true], [ICER, 'enable', false], [ISPR, 'pending', true], [ICPR, 'pending', false], [IABR, 'active', true]] as const) {
      if (o >= start && o < start + 0x20) return { kind, set, first: ((o - start) / 4) * 32 };
    }
    return undefined;
  }
}
