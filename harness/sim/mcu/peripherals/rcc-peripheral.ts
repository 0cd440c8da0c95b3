// RCC of the STM32H745 (RM0399 §8; offsets and bits from CMSIS stm32h745xx.h RCC_TypeDef and
// RCC_CR_*/RCC_CFGR_*/RCC_PLL*/RCC_D*CFGR_* definitions): oscillators with their ready flags,
// the system clock switch, the PLLs and prescalers as far as the core and USART3 clocks
// depend on them, the peripheral reset and enable registers, and the reset status flags.
import type { ResetCause } from '../../contracts.js';
import { RCC_BASE, type Rcc } from '../../rcc/rcc.js';
import { BasePeripheral, type MmioPeripheral } from '../mmio-peripheral.js';

/** Register offsets from RCC_BASE (0x58024400). */
export const RccRegister = {
  CR: 0x00, HSICFGR: 0x04, CRRCR: 0x08, CSICFGR: 0x0c, CFGR: 0x10, D1CFGR: 0x18, D2CFGR: 0x1c, D3CFGR: 0x20,
  PLLCKSELR: 0x28, PLLCFGR: 0x2c, PLL1DIVR: 0x30, PLL1FRACR: 0x34, PLL2DIVR: 0x38, PLL2FRACR: 0x3c, PLL3DIVR: 0x40, PLL3FRACR: 0x44,
  D1CCIPR: 0x4c, D2CCIP1R: 0x50, D2CCIP2R: 0x54, D3CCIPR: 0x58, CIER: 0x60, CIFR: 0x64, CICR: 0x68, BDCR: 0x70, CSR: 0x74,
  AHB3RSTR: 0x7c, AHB1RSTR: 0x80, AHB2RSTR: 0x84, AHB4RSTR: 0x88, APB3RSTR: 0x8c, APB1LRSTR: 0x90, APB1HRSTR: 0x94, APB2RSTR: 0x98, APB4RSTR: 0x9c,
  GCR: 0xa0, D3AMR: 0xa8, RSR: 0xd0,
  AHB3ENR: 0xd4, AHB1ENR: 0xd8, AHB2ENR: 0xdc, AHB4ENR: 0xe0, APB3ENR: 0xe4, APB1LENR: 0xe8, APB1HENR: 0xec, APB2ENR: 0xf0, APB4ENR: 0xf4,
  C1_RSR: 0x130, C1_AHB3ENR: 0x134, C2_RSR: 0x190, C2_AHB3ENR: 0x194,
} as const;

/** The buses whose clocks RCC enables and whose peripherals it resets, in enable-register order. */
export const RCC_BUSES = ['AHB3', 'AHB1', 'AHB2', 'AHB4', 'APB3', 'APB1L', 'APB1H', 'APB2', 'APB4'] as const;
/** One of {@link RCC_BUSES}. */
export type RccBus = (typeof RCC_BUSES)[number];

const RESET_REGISTER: Readonly<Record<RccBus, number>> = {
  AHB3: RccRegister.AHB3RSTR, AHB1: RccRegister.AHB1RSTR, AHB2: RccRegister.AHB2RSTR, AHB4: RccRegister.AHB4RSTR,
  APB3: RccRegister.APB3RSTR, APB1L: RccRegister.APB1LRSTR, APB1H: RccRegister.APB1HRSTR, APB2: RccRegister.APB2RSTR, APB4: RccRegister.APB4RSTR,
};

// RCC_CR bits.
const CR = {
  HSION: 1 << 0, HSIRDY: 1 << 2, HSIDIV_SHIFT: 3, HSIDIV: 3 << 3, HSIDIVF: 1 << 5, CSION: 1 << 7, CSIRDY: 1 << 8,
  RC48ON: 1 << 12, RC48RDY: 1 << 13, D1CKRDY: 1 << 14, D2CKRDY: 1 << 15, HSEON: 1 << 16, HSERDY: 1 << 17,
  PLL1ON: 1 << 24, PLL1RDY: 1 << 25, PLL2ON: 1 << 26, PLL2RDY: 1 << 27, PLL3ON: 1 << 28, PLL3RDY: 1 << 29,
} as const;
const CR_STATUS = CR.HSIRDY | CR.HSIDIVF | CR.CSIRDY | CR.RC48RDY | CR.D1CKRDY | CR.D2CKRDY | CR.HSERDY | CR.PLL1RDY | CR.PLL2RDY | CR.PLL3RDY;
/** Each oscillator's ON bit and its ready flag, which the model raises as soon as it is switched on. */
const READY_FOLLOWS: ReadonlyArray<readonly [number, number]> = [
  [CR.HSION, CR.HSIRDY], [CR.CSION, CR.CSIRDY], [CR.RC48ON, CR.RC48RDY], [CR.HSEON, CR.HSERDY],
  [CR.PLL1ON, CR.PLL1RDY], [CR.PLL2ON, CR.PLL2RDY], [CR.PLL3ON, CR.PLL3RDY],
];

/**
 * Reset values (RM0399 §8.7, as CMSIS and HAL's RCC_DeInit restore them; confidence M): HSI on
 * and ready, undivided; PLL dividers at their documented defaults; every clock enable off.
 */
const RESET_VALUES: Readonly<Record<number, number>> = {
  [RccRegister.CR]: CR.HSION | CR.HSIRDY | CR.HSIDIVF,
  [RccRegister.PLLCKSELR]: 0x02020200,
  [RccRegister.PLLCFGR]: 0x01ff0000,
  [RccRegister.PLL1DIVR]: 0x01010280,
  [RccRegister.PLL2DIVR]: 0x01010280,
  [RccRegister.PLL3DIVR]: 0x01010280,
};

/** Oscillator frequencies: HSI 64 MHz, CSI 4 MHz, HSE 8 MHz from the ST-LINK's MCO on the NUCLEO (docs/stm32h7-facts.md §6, M), LSE 32.768 kHz. */
export const OSCILLATOR_HZ = { hsi: 64_000_000, csi: 4_000_000, hse: 8_000_000, lse: 32_768 } as const;

/** D1CPRE/HPRE encoding: 0xxx divides by 1, then 2, 4, 8, 16, 64, 128, 256, 512. */
function ahbDivider(field: number): number {
  return field < 8 ? 1 : [2, 4, 8, 16, 64, 128, 256, 512][field - 8]!;
}

/** D2PPRE1 and the other APB prescalers: 0xx divides by 1, then 2, 4, 8, 16. */
function apbDivider(field: number): number {
  return field < 4 ? 1 : 2 ** (field - 3);
}

/**
 * The RCC. The CM7's enable registers answer at both RCC_xxxENR and RCC_C1_xxxENR (the CPU1
 * view; RM0399 §8.5.1, confidence M); the CM4's RCC_C2_xxxENR are kept apart. The three RSR
 * addresses share the reset flags of {@link Rcc}.
 */
export class RccPeripheral extends BasePeripheral {
  private readonly values = new Map<number, number>();
  private readonly enables = new Map<RccBus, number>();
  private readonly cm4Enables = new Map<RccBus, number>();
  private readonly resetTargets = new Map<string, MmioPeripheral>();
  private readonly enableListeners = new Set<() => void>();

  constructor(private readonly flags: Rcc) {
    super('RCC', RCC_BASE, 0x400);
    this.reset('power-on');
  }

  /** Peripheral `target` is reset while bit `bit` of `bus`'s reset register is set (and when it is released). */
  connectReset(bus: RccBus, bit: number, target: MmioPeripheral): void {
    this.resetTargets.set(`${bus}:${bit}`, target);
  }

  /** True while the CM7 has bit `bit` of `bus`'s clock enable set. */
  isEnabled(bus: RccBus, bit: number): boolean {
    return ((this.enables.get(bus) ?? 0) >>> bit & 1) === 1;
  }

  /** The CM7's enable register of `bus`. */
  enableRegister(bus: RccBus): number {
    return this.enables.get(bus) ?? 0;
  }

  /** Calls `listener` after every write to a clock enable register. */
  onEnableChange(listener: () => void): () => void {
    this.enableListeners.add(listener);
    return () => this.enableListeners.delete(listener);
  }

  /** Register value by offset, with the status bits the model derives. */
  read32(offset: number): number {
    const o = offset & ~3;
    if (o === RccRegister.RSR || o === RccRegister.C1_RSR || o === RccRegister.C2_RSR) return this.flags.read32(RCC_BASE + o);
    const bus = this.enableBus(o);
    if (bus) return bus.cm4 ? this.cm4Enables.get(bus.bus) ?? 0 : this.enables.get(bus.bus) ?? 0;
    if (o === RccRegister.CR) return this.cr();
    if (o === RccRegister.CFGR) {
      const cfgr = this.values.get(o) ?? 0;
      return ((cfgr & ~0x38) | ((cfgr & 7) << 3)) >>> 0;
    }
    if (o === RccRegister.CSR) {
      const csr = this.values.get(o) ?? 0;
      return (csr & 1) !== 0 ? (csr | 2) >>> 0 : csr & ~2; // LSIRDY follows LSION
    }
    if (this.isKnown(o)) return this.values.get(o) ?? 0;
    return this.unimplemented(o, false);
  }

  write32(offset: number, value: number): void {
    const o = offset & ~3;
    const v = value >>> 0;
    if (o === RccRegister.RSR || o === RccRegister.C1_RSR || o === RccRegister.C2_RSR) {
      this.flags.write32(RCC_BASE + o, v);
      return;
    }
    const bus = this.enableBus(o);
    if (bus) {
      (bus.cm4 ? this.cm4Enables : this.enables).set(bus.bus, v);
      for (const l of [...this.enableListeners]) l();
      return;
    }
    const resetBus = (Object.entries(RESET_REGISTER) as [RccBus, number][]).find(([, at]) => at === o)?.[0];
    if (resetBus) {
      this.values.set(o, v);
      // A peripheral held in reset sits at its reset values; releasing it leaves them there.
      for (const [key, target] of this.resetTargets) {
        const [b, bit] = key.split(':');
        if (b === resetBus && ((v >>> Number(bit)) & 1) === 1) target.reset('software');
      }
      return;
    }
    if (o === RccRegister.CR) {
      // HSI stays on while it clocks the system (RM0399: HSION cannot be cleared then).
      const keepHsi = this.systemClockSource() === 0 ? CR.HSION : 0;
      this.values.set(o, ((v & ~CR_STATUS) | keepHsi) >>> 0);
      return;
    }
    if (this.isKnown(o)) {
      this.values.set(o, v);
      return;
    }
    this.unimplemented(o, true);
  }

  reset(cause: ResetCause): void {
    const bdcr = this.values.get(RccRegister.BDCR);
    this.values.clear();
    for (const [o, v] of Object.entries(RESET_VALUES)) this.values.set(Number(o), v);
    // The backup domain (BDCR) survives every reset but a power-on (RM0399 §8.4.5).
    if (cause !== 'power-on' && bdcr !== undefined) this.values.set(RccRegister.BDCR, bdcr);
    this.enables.clear();
    this.cm4Enables.clear();
    for (const l of [...this.enableListeners]) l();
  }

  /** CFGR.SWS: 0 HSI, 1 CSI, 2 HSE, 3 PLL1. */
  systemClockSource(): number {
    return (this.values.get(RccRegister.CFGR) ?? 0) & 7;
  }

  /** True while PLL1, PLL2 or PLL3 is on. */
  anyPllOn(): boolean {
    return ((this.values.get(RccRegister.CR) ?? 0) & (CR.PLL1ON | CR.PLL2ON | CR.PLL3ON)) !== 0;
  }

  /** sys_ck in Hz. */
  systemClockHz(): number {
    switch (this.systemClockSource()) {
      case 1: return OSCILLATOR_HZ.csi;
      case 2: return OSCILLATOR_HZ.hse;
      case 3: return this.pllOutputHz(1, 'p');
      default: return this.hsiHz();
    }
  }

  /** The Cortex-M7 clock (c_ck = sys_ck / D1CPRE). */
  coreClockHz(): number {
    return this.systemClockHz() / ahbDivider(((this.values.get(RccRegister.D1CFGR) ?? 0) >>> 8) & 0xf);
  }

  /** rcc_pclk1: the D2 APB1 clock. */
  pclk1Hz(): number {
    const hclk = this.coreClockHz() / ahbDivider((this.values.get(RccRegister.D1CFGR) ?? 0) & 0xf);
    return hclk / apbDivider(((this.values.get(RccRegister.D2CFGR) ?? 0) >>> 4) & 7);
  }

  /** The kernel clock of USART2/3/4/5/7/8 (D2CCIP2R.USART28SEL); undefined for a source the model cannot tell. */
  usart234578KernelHz(): number | undefined {
    switch ((this.values.get(RccRegister.D2CCIP2R) ?? 0) & 7) {
      case 0: return this.pclk1Hz();
      case 1: return this.pllOutputHz(2, 'q');
      case 2: return this.pllOutputHz(3, 'q');
      case 3: return this.hsiHz();
      case 4: return OSCILLATOR_HZ.csi;
      case 5: return OSCILLATOR_HZ.lse;
      default: return undefined;
    }
  }

  private hsiHz(): number {
    return OSCILLATOR_HZ.hsi >>> ((((this.values.get(RccRegister.CR) ?? 0) & CR.HSIDIV) >>> CR.HSIDIV_SHIFT));
  }

  /** PLLn's output (P, Q or R) from PLLCKSELR's source and DIVMn and PLLnDIVR (fractional part ignored). */
  private pllOutputHz(n: 1 | 2 | 3, output: 'p' | 'q' | 'r'): number {
    const cksel = this.values.get(RccRegister.PLLCKSELR) ?? 0;
    const source = [this.hsiHz(), OSCILLATOR_HZ.csi, OSCILLATOR_HZ.hse, 0][cksel & 3]!;
    const divm = (cksel >>> [4, 12, 20][n - 1]!) & 0x3f;
    const divr = this.values.get([RccRegister.PLL1DIVR, RccRegister.PLL2DIVR, RccRegister.PLL3DIVR][n - 1]!) ?? 0;
    if (divm === 0) return 0;
    const vco = (source / divm) * ((divr & 0x1ff) + 1);
    const shift = { p: 9, q: 16, r: 24 }[output];
    return vco / (((divr >>> shift) & 0x7f) + 1);
  }

  private cr(): number {
    let cr = this.values.get(RccRegister.CR) ?? 0;
    for (const [on, ready] of READY_FOLLOWS) cr = (cr & on) !== 0 ? cr | ready : cr & ~ready;
    // The divider change completes at once; both domains' clocks are running.
    return (cr | CR.HSIDIVF | CR.D1CKRDY | CR.D2CKRDY) >>> 0;
  }

  private enableBus(o: number): { bus: RccBus; cm4: boolean } | undefined {
    for (const [first, cm4] of [[RccRegister.AHB3ENR, false], [RccRegister.C1_AHB3ENR, false], [RccRegister.C2_AHB3ENR, true]] as const) {
      const index = (o - first) / 4;
      if (Number.isInteger(index) && index >= 0 && index < RCC_BUSES.length) return { bus: RCC_BUSES[index]!, cm4 };
    }
    return undefined;
  }

  private isKnown(o: number): boolean {
    return (o >= RccRegister.CR && o <= RccRegister.D3CFGR) || (o >= RccRegister.PLLCKSELR && o <= RccRegister.PLL3FRACR)
      || (o >= RccRegister.D1CCIPR && o <= RccRegister.D3CCIPR) || (o >= RccRegister.CIER && o <= RccRegister.CICR)
      || o === RccRegister.BDCR || o === RccRegister.CSR || (o >= RccRegister.AHB3RSTR && o <= RccRegister.GCR)
      || o === RccRegister.D3AMR || (o >= 0xfc && o <= 0x11c) || (o >= 0x15c && o <= 0x17c) || (o >= 0x1bc && o <= 0x1dc);
  }
}
