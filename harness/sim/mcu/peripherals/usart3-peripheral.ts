// USART3 of the STM32H745 (RM0399 §48; CMSIS USART_TypeDef, USART_CR1_*, USART_ISR_*), wired
// to the ST-LINK virtual COM port: the same ConsoleUart the simulated application writes to,
// so serialport and the console client see one link whichever side speaks.
import type { ResetCause } from '../../contracts.js';
import type { TimedDevice } from '../../cpu/core-runner.js';
import type { ConsoleUart } from '../../uart/console-uart.js';
import { BasePeripheral } from '../mmio-peripheral.js';
import type { RccPeripheral } from './rcc-peripheral.js';

/** USART3 base (CMSIS: D2_APB1PERIPH_BASE + 0x4800). */
export const USART3_BASE = 0x40004800;
/** USART3's line in the NVIC (CMSIS USART3_IRQn). */
export const USART3_IRQ = 39;
/** Its bit in RCC_APB1LENR and RCC_APB1LRSTR. */
export const USART3_RCC_BIT = 18;

/** Register offsets. */
export const UsartRegister = {
  CR1: 0x00, CR2: 0x04, CR3: 0x08, BRR: 0x0c, GTPR: 0x10, RTOR: 0x14, RQR: 0x18, ISR: 0x1c, ICR: 0x20, RDR: 0x24, TDR: 0x28, PRESC: 0x2c,
} as const;

/** CR1 and ISR bits. */
export const UsartBit = {
  UE: 1 << 0, RE: 1 << 2, TE: 1 << 3, RXNEIE: 1 << 5, TCIE: 1 << 6, TXEIE: 1 << 7, OVER8: 1 << 15,
  PE: 1 << 0, FE: 1 << 1, NE: 1 << 2, ORE: 1 << 3, RXNE: 1 << 5, TC: 1 << 6, TXE: 1 << 7, TEACK: 1 << 21, REACK: 1 << 22,
} as const;
const CR3_EIE = 1 << 0;
const RQR_RXFRQ = 1 << 3;
const PRESC_DIVIDERS = [1, 2, 4, 6, 8, 10, 12, 16, 32, 64, 128, 256];
/** Beyond this baud-rate error the ST-LINK reads framing garbage (a UART tolerates about ±4 % in all). */
const BAUD_TOLERANCE = 0.04;

/** What the USART needs from the chip. */
export interface Usart3Wiring {
  uart: ConsoleUart;
  rcc: RccPeripheral;
  /** The core's time in ms (fractional). */
  now(): number;
  /** USART3's interrupt request line. */
  setIrq(high: boolean): void;
  /** Tells the core something arrives at `at` (a sleeping core wakes). */
  wake(at: number): void;
}

/**
 * USART3 without its FIFO (FIFOEN is not modelled): one receive data register, so a byte that
 * arrives while RXNE is still set is lost with ORE set, exactly what firmware that polls too
 * late sees; one transmit data register in front of the shift register, TXE and TC following
 * the bit times on the line. A baud rate that misses the line's 115200 by more than 4 % turns
 * what crosses into garbage (FE on the receive side).
 */
export class Usart3Peripheral extends BasePeripheral implements TimedDevice {
  private cr1 = 0;
  private cr2 = 0;
  private cr3 = 0;
  private brr = 0;
  private gtpr = 0;
  private rtor = 0;
  private presc = 0;
  private rdr = 0;
  private rxne = false;
  private errors = 0;
  private arrivals: Array<{ byte: number; at: number }> = [];
  private lastStart = -Infinity;
  private lastEnd = -Infinity;
  private tcClearedAt = -Infinity;
  private irqHigh = false;

  constructor(private readonly wiring: Usart3Wiring) {
    super('USART3', USART3_BASE, 0x400);
    wiring.uart.onReceiveScheduled((bytes, startMs, byteTimeMs) => this.incoming(bytes, startMs, byteTimeMs));
  }

  read32(offset: number): number {
    if (!this.clocked()) return 0;
    const t = this.wiring.now();
    this.receiveUntil(t);
    const o = offset & ~3;
    let value: number;
    if (o === UsartRegister.RDR) {
      value = this.rdr;
      this.rxne = false;
    } else {
      value = this.peekAt(o, t);
    }
    this.updateIrq(t);
    return value;
  }

  override peek32(offset: number): number {
    return this.clocked() ? this.peekAt(offset & ~3, this.wiring.now()) : 0;
  }

  write32(offset: number, value: number): void {
    if (!this.clocked()) return;
    const t = this.wiring.now();
    this.receiveUntil(t);
    const v = value >>> 0;
    switch (offset & ~3) {
      case UsartRegister.CR1: this.cr1 = v; break;
      case UsartRegister.CR2: this.cr2 = v; break;
      case UsartRegister.CR3: this.cr3 = v; break;
      case UsartRegister.BRR: this.brr = v & 0xffff; break;
      case UsartRegister.GTPR: this.gtpr = v & 0xffff; break;
      case UsartRegister.RTOR: this.rtor = v; break;
      case UsartRegister.PRESC: this.presc = v & 0xf; break;
      case UsartRegister.RQR: if (v & RQR_RXFRQ) this.rxne = false; break;
      case UsartRegister.ICR:
        this.errors &= ~(v & (UsartBit.PE | UsartBit.FE | UsartBit.NE | UsartBit.ORE));
        if (v & UsartBit.TC) this.tcClearedAt = t;
        break;
      case UsartRegister.TDR: this.transmit(v & 0xff, t); break;
      case UsartRegister.ISR: case UsartRegister.RDR: break;
      default: this.unimplemented(offset & ~3, true);
    }
    this.updateIrq(t);
  }

  reset(_cause?: ResetCause): void {
    this.cr1 = this.cr2 = this.cr3 = this.brr = this.gtpr = this.rtor = this.presc = 0;
    this.rdr = 0;
    this.rxne = false;
    this.errors = 0;
    this.arrivals = [];
    this.lastStart = this.lastEnd = this.tcClearedAt = -Infinity;
    if (this.irqHigh) {
      this.irqHigh = false;
      this.wiring.setIrq(false);
    }
  }

  nextEventAfter(t: number): number | undefined {
    let next = Infinity;
    const first = this.arrivals[0];
    if (first && first.at > t) next = first.at;
    if (this.lastStart > t && this.lastStart < next) next = this.lastStart;
    if (this.lastEnd > t && this.lastEnd < next) next = this.lastEnd;
    return next === Infinity ? undefined : next;
  }

  advanceTo(t: number): void {
    this.receiveUntil(t);
    this.updateIrq(t);
  }

  /** The baud rate BRR gives with the kernel clock now, or undefined when it cannot be told. */
  baudRate(): number | undefined {
    const kernel = this.wiring.rcc.usart234578KernelHz();
    if (kernel === undefined || this.brr === 0) return undefined;
    const f = kernel / (PRESC_DIVIDERS[this.presc] ?? 256);
    return (this.cr1 & UsartBit.OVER8) !== 0 ? (2 * f) / (((this.brr & 0xfff0) | ((this.brr & 7) << 1)) || 1) : f / this.brr;
  }

  private peekAt(o: number, t: number): number {
    switch (o) {
      case UsartRegister.CR1: return this.cr1;
      case UsartRegister.CR2: return this.cr2;
      case UsartRegister.CR3: return this.cr3;
      case UsartRegister.BRR: return this.brr;
      case UsartRegister.GTPR: return this.gtpr;
      case UsartRegister.RTOR: return this.rtor;
      case UsartRegister.PRESC: return this.presc;
      case UsartRegister.ISR: return this.isr(t);
      case UsartRegister.RDR: return this.rdr;
      case UsartRegister.RQR: case UsartRegister.ICR: case UsartRegister.TDR: return 0;
      default: return this.unimplemented(o, false);
    }
  }

  private isr(t: number): number {
    const enabled = (this.cr1 & UsartBit.UE) !== 0;
    let isr = this.errors;
    if (this.rxne) isr |= UsartBit.RXNE;
    if (!enabled || (this.cr1 & UsartBit.TE) === 0 || t >= this.lastStart) isr |= UsartBit.TXE;
    if (this.transmissionComplete(t)) isr |= UsartBit.TC;
    if (enabled && (this.cr1 & UsartBit.TE)) isr |= UsartBit.TEACK;
    if (enabled && (this.cr1 & UsartBit.RE)) isr |= UsartBit.REACK;
    return isr >>> 0;
  }

  /** TC: the last frame has left and ICR.TCCF has not cleared the flag since (set out of reset). */
  private transmissionComplete(t: number): boolean {
    if (t < this.lastEnd) return false;
    if (this.lastEnd === -Infinity) return this.tcClearedAt === -Infinity;
    return this.tcClearedAt < this.lastEnd;
  }

  private clocked(): boolean {
    return this.wiring.rcc.isEnabled('APB1L', USART3_RCC_BIT);
  }

  private receiving(): boolean {
    return this.clocked() && (this.cr1 & (UsartBit.UE | UsartBit.RE)) === (UsartBit.UE | UsartBit.RE);
  }

  private baudMatches(): boolean {
    const baud = this.baudRate();
    const line = 10_000 / this.wiring.uart.byteTimeMs;
    return baud !== undefined && Math.abs(baud / line - 1) <= BAUD_TOLERANCE;
  }

  private incoming(bytes: Uint8Array, startMs: number, byteTimeMs: number): void {
    if (bytes.length === 0) return;
    bytes.forEach((byte, i) => this.arrivals.push({ byte, at: startMs + (i + 1) * byteTimeMs }));
    this.arrivals.sort((a, b) => a.at - b.at);
    this.wiring.wake(startMs + byteTimeMs);
  }

  /** Bytes whose stop bit has passed by `t` land in RDR, or overrun it. */
  private receiveUntil(t: number): void {
    while (this.arrivals.length > 0 && this.arrivals[0]!.at <= t) {
      const { byte } = this.arrivals.shift()!;
      if (!this.receiving()) continue;
      if (this.rxne) {
        this.errors |= UsartBit.ORE;
        continue;
      }
      if (!this.baudMatches()) this.errors |= UsartBit.FE;
      this.rdr = this.baudMatches() ? byte : 0xff;
      this.rxne = true;
    }
  }

  private transmit(byte: number, t: number): void {
    if ((this.cr1 & (UsartBit.UE | UsartBit.TE)) !== (UsartBit.UE | UsartBit.TE)) return;
    const start = Math.max(t, this.lastEnd);
    this.lastStart = start;
    this.lastEnd = this.wiring.uart.transmitFrom(start, Uint8Array.of(this.baudMatches() ? byte : 0xff));
  }

  private updateIrq(t: number): void {
    const cr1 = this.cr1;
    if (!this.irqHigh && (cr1 & (UsartBit.RXNEIE | UsartBit.TXEIE | UsartBit.TCIE)) === 0 && (this.cr3 & CR3_EIE) === 0) return;
    const isr = this.isr(t);
    const high = ((cr1 & UsartBit.RXNEIE) !== 0 && (isr & (UsartBit.RXNE | UsartBit.ORE)) !== 0)
      || ((cr1 & UsartBit.TXEIE) !== 0 && (isr & UsartBit.TXE) !== 0)
      || ((cr1 & UsartBit.TCIE) !== 0 && (isr & UsartBit.TC) !== 0)
      || ((this.cr3 & CR3_EIE) !== 0 && (isr & (UsartBit.FE | UsartBit.NE | UsartBit.ORE)) !== 0);
    if (high !== this.irqHigh) {
      this.irqHigh = high;
      this.wiring.setIrq(high);
    }
  }
}
