// The System Control Block and its neighbours in the System Control Space (ARMv7-M ARM B3.2;
// Cortex-M7 TRM §3 for CPUID, the cache identification registers and the cache maintenance
// operations): ICSR, VTOR, AIRCR with SYSRESETREQ, CCR with the cache enables, the system
// handler priorities and fault status, and the debug halting registers a firmware may read.
import { Exception, type ExceptionModel } from '../../cpu/exception-model.js';
import { BasePeripheral } from '../mmio-peripheral.js';

/** CPUID of the STM32H745's Cortex-M7 r1p1 (RM0399 §62; Cortex-M7 TRM "CPUID"). */
export const CORTEX_M7_CPUID = 0x411fc271;
/** SCB's first register in the System Control Space. */
export const SCB_BASE = 0xe000ed00;

/** Offsets from SCB_BASE. */
export const ScbRegister = {
  CPUID: 0x00, ICSR: 0x04, VTOR: 0x08, AIRCR: 0x0c, SCR: 0x10, CCR: 0x14, SHPR1: 0x18, SHPR2: 0x1c, SHPR3: 0x20, SHCSR: 0x24,
  CFSR: 0x28, HFSR: 0x2c, DFSR: 0x30, MMFAR: 0x34, BFAR: 0x38, AFSR: 0x3c, CLIDR: 0x78, CTR: 0x7c, CCSIDR: 0x80, CSSELR: 0x84, CPACR: 0x88,
  DHCSR: 0xf0, DEMCR: 0xfc, STIR: 0x200, FPCCR: 0x234, FPCAR: 0x238, FPDSCR: 0x23c,
  ICIALLU: 0x250, DCCSW: 0x26c, DCCISW: 0x274, BPIALL: 0x278,
} as const;

/** CCR bits (B3.2.8; Cortex-M7: DC bit 16, IC bit 17, BP bit 18). */
export const CcrBit = { STKALIGN: 1 << 9, DC: 1 << 16, IC: 1 << 17, BP: 1 << 18 } as const;
const AIRCR_VECTKEY = 0x05fa;
const AIRCR_SYSRESETREQ = 1 << 2;
const ICSR = { PENDSTCLR: 1 << 25, PENDSTSET: 1 << 26, PENDSVCLR: 1 << 27, PENDSVSET: 1 << 28, NMIPENDSET: 0x80000000, RETTOBASE: 1 << 11, ISRPENDING: 1 << 22 } as const;
const CCR_RESET = CcrBit.STKALIGN | CcrBit.BP;
/** CLIDR/CTR/CCSIDR of the H7's 16 KiB 4-way D-cache and 16 KiB 2-way I-cache with 32-byte lines (Cortex-M7 TRM §4.6). */
const CLIDR = 0x09000003;
const CTR = 0x8303c003;
const CCSIDR_DCACHE = 0xf00fe019;
const CCSIDR_ICACHE = 0xf01fe009;

/** What the SCB asks of the chip. */
export interface ScbWiring {
  /** AIRCR.SYSRESETREQ was written with the key: a system reset follows. */
  requestSystemReset(): void;
}

/**
 * SCB. Fault status registers are write-one-to-clear; SHCSR's enables, VTOR and PRIGROUP live in
 * the exception model so exception entry uses them; the caches are only their CCR enable bits
 * (no cache is modelled, so maintenance operations are accepted and do nothing).
 */
export class ScbPeripheral extends BasePeripheral {
  private ccr = CCR_RESET;
  private scr = 0;
  private csselr = 0;
  private cpacr = 0;
  private demcr = 0;
  private fp = new Map<number, number>();

  constructor(private readonly exceptions: ExceptionModel, private readonly wiring: ScbWiring) {
    super('SCB', SCB_BASE, 0x300);
  }

  /** CCR's D-cache and I-cache enables. */
  get cachesEnabled(): { dcache: boolean; icache: boolean } {
    return { dcache: (this.ccr & CcrBit.DC) !== 0, icache: (this.ccr & CcrBit.IC) !== 0 };
  }

  read32(offset: number): number {
    const ex = this.exceptions;
    switch (offset & ~3) {
      case ScbRegister.CPUID: return CORTEX_M7_CPUID;
      case ScbRegister.ICSR: {
        const pending = ex.highestPending;
        let icsr = ex.currentException | (pending << 12);
        if (ex.returnsToBase) icsr |= ICSR.RETTOBASE;
        if (pending >= 16) icsr |= ICSR.ISRPENDING;
        if (ex.isPending(Exception.SysTick)) icsr |= ICSR.PENDSTSET;
        if (ex.isPending(Exception.PendSV)) icsr |= ICSR.PENDSVSET;
        if (ex.isPending(Exception.NMI)) icsr |= ICSR.NMIPENDSET;
        return icsr >>> 0;
      }
      case ScbRegister.VTOR: return ex.vtor;
      case ScbRegister.AIRCR: return ((0xfa05 << 16) | (ex.priorityGroup << 8)) >>> 0;
      case ScbRegister.SCR: return this.scr;
      case ScbRegister.CCR: return this.ccr;
      case ScbRegister.SHPR1: case ScbRegister.SHPR2: case ScbRegister.SHPR3: {
        const first = 4 + ((offset & ~3) - ScbRegister.SHPR1);
        let word = 0;
        for (let i = 0; i < 4; i++) word |= ex.getPriority(first + i) << (8 * i);
        return word >>> 0;
      }
      case ScbRegister.SHCSR: {
        const bit = (n: number, b: number): number => (ex.isActive(n) ? 1 << b : 0);
        const pendingBit = (n: number, b: number): number => (ex.isPending(n) ? 1 << b : 0);
        return (ex.shcsrEnables | bit(Exception.MemManage, 0) | bit(Exception.BusFault, 1) | bit(Exception.UsageFault, 3)
          | bit(Exception.SVCall, 7) | bit(Exception.PendSV, 10) | bit(Exception.SysTick, 11)
          | pendingBit(Exception.UsageFault, 12) | pendingBit(Exception.MemManage, 13) | pendingBit(Exception.BusFault, 14) | pendingBit(Exception.SVCall, 15)) >>> 0;
      }
      case ScbRegister.CFSR: return ex.cfsr >>> 0;
      case ScbRegister.HFSR: return ex.hfsr >>> 0;
      case ScbRegister.MMFAR: return ex.mmfar;
      case ScbRegister.BFAR: return ex.bfar;
      case ScbRegister.DFSR: case ScbRegister.AFSR: return 0;
      case ScbRegister.CLIDR: return CLIDR;
      case ScbRegister.CTR: return CTR;
      case ScbRegister.CCSIDR: return (this.csselr & 1) !== 0 ? CCSIDR_ICACHE : CCSIDR_DCACHE;
      case ScbRegister.CSSELR: return this.csselr;
      case ScbRegister.CPACR: return this.cpacr;
      // No debugger is attached to a simulated board: DHCSR reads 0 (C_DEBUGEN clear).
      case ScbRegister.DHCSR: return 0;
      case ScbRegister.DEMCR: return this.demcr;
      case ScbRegister.FPCCR: case ScbRegister.FPCAR: case ScbRegister.FPDSCR: return this.fp.get(offset & ~3) ?? (offset === ScbRegister.FPCCR ? 0xc0000000 : 0);
      default:
        if ((offset & ~3) >= ScbRegister.ICIALLU && (offset & ~3) <= ScbRegister.BPIALL) return 0;
        return this.unimplemented(offset & ~3, false);
    }
  }

  write32(offset: number, value: number): void {
    const ex = this.exceptions;
    const v = value >>> 0;
    const o = offset & ~3;
    switch (o) {
      case ScbRegister.ICSR:
        if (v & ICSR.PENDSTSET) ex.setPending(Exception.SysTick);
        if (v & ICSR.PENDSTCLR) ex.clearPending(Exception.SysTick);
        if (v & ICSR.PENDSVSET) ex.setPending(Exception.PendSV);
        if (v & ICSR.PENDSVCLR) ex.clearPending(Exception.PendSV);
        if (v & ICSR.NMIPENDSET) ex.setPending(Exception.NMI);
        return;
      case ScbRegister.VTOR: ex.vtor = v & 0xffffff80; return;
      case ScbRegister.AIRCR:
        // Writes without the key are ignored (B3.2.6).
        if (v >>> 16 !== AIRCR_VECTKEY) return;
        ex.priorityGroup = (v >>> 8) & 7;
        if (v & AIRCR_SYSRESETREQ) this.wiring.requestSystemReset();
        return;
      case ScbRegister.SCR: this.scr = v & 0x16; return;
      case ScbRegister.CCR: this.ccr = (v & 0x0007031b) | CcrBit.STKALIGN; return;
      case ScbRegister.SHPR1: case ScbRegister.SHPR2: case ScbRegister.SHPR3: {
        const first = 4 + (o - ScbRegister.SHPR1);
        for (let i = 0; i < 4; i++) ex.setPriority(first + i, (v >>> (8 * i)) & 0xff);
        return;
      }
      case ScbRegister.SHCSR: ex.shcsrEnables = v & 0x70000; return;
      case ScbRegister.CFSR: ex.cfsr = (ex.cfsr & ~v) >>> 0; return;
      case ScbRegister.HFSR: ex.hfsr = (ex.hfsr & ~v) >>> 0; return;
      case ScbRegister.MMFAR: ex.mmfar = v; return;
      case ScbRegister.BFAR: ex.bfar = v; return;
      case ScbRegister.CSSELR: this.csselr = v & 0xf; return;
      case ScbRegister.CPACR: this.cpacr = v & 0x00f00000; return;
      case ScbRegister.DEMCR: this.demcr = v; return;
      case ScbRegister.STIR: ex.setPending(16 + (v & 0x1ff)); return;
      case ScbRegister.FPCCR: case ScbRegister.FPCAR: case ScbRegister.FPDSCR: this.fp.set(o, v); return;
      case ScbRegister.DHCSR: return;
      default:
        if (o >= ScbRegister.ICIALLU && o <= ScbRegister.BPIALL) return;
        this.unimplemented(o, true);
    }
  }

  reset(): void {
    this.ccr = CCR_RESET;
    this.scr = 0;
    this.csselr = 0;
    this.cpacr = 0;
    this.demcr = 0;
    this.fp.clear();
  }
}
