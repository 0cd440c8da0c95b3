// PWR of the STM32H745 (RM0399 §7; CMSIS PWR_TypeDef, PWR_CR3_*, PWR_CSR1_*, PWR_D3CR_*): the
// supply configuration that can be written once per power-up, and the voltage-scaling flags
// the firmware waits for.
import type { ResetCause } from '../../contracts.js';
import { BasePeripheral } from '../mmio-peripheral.js';

/** PWR base (CMSIS: D3_AHB1PERIPH_BASE + 0x4800). */
export const PWR_BASE = 0x58024800;

/** Register offsets. */
export const PwrRegister = { CR1: 0x00, CSR1: 0x04, CR2: 0x08, CR3: 0x0c, CPUCR: 0x10, D3CR: 0x18, WKUPCR: 0x20, WKUPFR: 0x24, WKUPEPR: 0x28 } as const;

/** PWR_CR3 supply bits (CMSIS PWR_CR3_BYPASS/LDOEN/SMPSEN/SMPSEXTHP/SMPSLEVEL). */
export const SupplyBit = { BYPASS: 1 << 0, LDOEN: 1 << 1, SMPSEN: 1 << 2, SMPSEXTHP: 1 << 3, SMPSLEVEL: 3 << 4 } as const;
const SUPPLY_MASK = SupplyBit.BYPASS | SupplyBit.LDOEN | SupplyBit.SMPSEN | SupplyBit.SMPSEXTHP | SupplyBit.SMPSLEVEL;
const CSR1_ACTVOSRDY = 1 << 13;
const D3CR_VOSRDY = 1 << 13;

/**
 * Reset values (RM0399 §7.8; the SMPS variant's PWR_CR3 is 0x46, as tools/emulate.py and HAL
 * read it; confidence M).
 */
const RESET_VALUES: Readonly<Record<number, number>> = {
  [PwrRegister.CR1]: 0xf000c000,
  [PwrRegister.CR3]: 0x00000046,
  [PwrRegister.D3CR]: 0x00004000,
};

/** How the board feeds VCORE: which PWR_CR3 supply settings it works with. */
export interface SupplyWiring {
  readonly name: string;
  /** True when `supplyBits` (PWR_CR3 & 0x3F) powers the core on this board. */
  accepts(supplyBits: number): boolean;
}

/**
 * The NUCLEO-H745ZI-Q: the internal SMPS feeds VCORE directly (UM2408; ST's board files use
 * PWR_DIRECT_SMPS_SUPPLY = SMPSEN only). Any other value written locks the board until it is
 * powered with BOOT0 high and mass-erased (docs/stm32h7-facts.md §6; the exact accepted set
 * beyond direct SMPS is unconfirmed).
 */
export const DIRECT_SMPS_WIRING: SupplyWiring = Object.freeze({
  name: 'direct SMPS',
  accepts: (bits: number) => (bits & (SupplyBit.BYPASS | SupplyBit.LDOEN | SupplyBit.SMPSEN | SupplyBit.SMPSEXTHP)) === SupplyBit.SMPSEN,
});

/** Describes a supply setting the way RM0399 Table 32 names them. */
export function describeSupply(bits: number): string {
  const b = (bit: number): boolean => (bits & bit) !== 0;
  if (b(SupplyBit.BYPASS)) return 'external VCORE (bypass)';
  if (b(SupplyBit.SMPSEN) && b(SupplyBit.LDOEN)) return `SMPS feeding the LDO${b(SupplyBit.SMPSEXTHP) ? ' with external supply' : ''} (SMPSLEVEL ${(bits >> 4) & 3})`;
  if (b(SupplyBit.SMPSEN)) return 'direct SMPS';
  if (b(SupplyBit.LDOEN)) return 'LDO';
  return 'no regulator';
}

/**
 * PWR. The supply bits of PWR_CR3 take the first value written after power-on and ignore later
 * writes until power is removed (RM0399 §7.4). A value the board's wiring cannot work with
 * leaves ACTVOSRDY low and calls `onSupplyFault`: the chip stops, as a board does.
 */
export class PwrPeripheral extends BasePeripheral {
  private readonly values = new Map<number, number>();
  private latched = false;
  private faulted = false;

  constructor(private readonly wiring: SupplyWiring, private readonly onSupplyFault: (description: string) => void) {
    super('PWR', PWR_BASE, 0x400);
    this.reset('power-on');
  }

  /** True once the supply setting has been written since power-on. */
  get supplyLatched(): boolean {
    return this.latched;
  }

  /** True when the written supply setting does not suit the board. */
  get supplyFault(): boolean {
    return this.faulted;
  }

  /** The supply bits in force. */
  get supplyBits(): number {
    return (this.values.get(PwrRegister.CR3) ?? 0) & SUPPLY_MASK;
  }

  read32(offset: number): number {
    const o = offset & ~3;
    if (o === PwrRegister.CSR1) {
      const vos = ((this.values.get(PwrRegister.D3CR) ?? 0) >>> 14) & 3;
      return ((this.faulted ? 0 : CSR1_ACTVOSRDY) | (vos << 14)) >>> 0;
    }
    if (o === PwrRegister.D3CR) return ((this.values.get(o) ?? 0) | (this.faulted ? 0 : D3CR_VOSRDY)) >>> 0;
    if (o <= PwrRegister.WKUPEPR && o !== 0x14 && o !== 0x1c) return this.values.get(o) ?? 0;
    return this.unimplemented(o, false);
  }

  write32(offset: number, value: number): void {
    const o = offset & ~3;
    const v = value >>> 0;
    if (o === PwrRegister.CR3) {
      const now = this.values.get(o) ?? 0;
      if (this.latched) {
        this.values.set(o, ((now & SUPPLY_MASK) | (v & ~SUPPLY_MASK)) >>> 0);
        return;
      }
      this.latched = true;
      this.values.set(o, v);
      if (!this.wiring.accepts(v & SUPPLY_MASK)) {
        this.faulted = true;
        this.onSupplyFault(`PWR_CR3 was set to ${describeSupply(v & SUPPLY_MASK)} (0x${(v & SUPPLY_MASK).toString(16).padStart(2, '0')}) on a board wired for ${this.wiring.name}: the core has no valid supply`);
      }
      return;
    }
    if (o === PwrRegister.CSR1) return;
    if (o <= PwrRegister.WKUPEPR && o !== 0x14 && o !== 0x1c) {
      this.values.set(o, v);
      return;
    }
    this.unimplemented(o, true);
  }

  /** Registers back to reset values; the supply setting (and its fault) only at a power-on. */
  reset(cause: ResetCause): void {
    const cr3 = this.values.get(PwrRegister.CR3);
    this.values.clear();
    for (const [o, v] of Object.entries(RESET_VALUES)) this.values.set(Number(o), v);
    if (cause === 'power-on') {
      this.latched = false;
      this.faulted = false;
    } else if (cr3 !== undefined) {
      this.values.set(PwrRegister.CR3, cr3);
    }
  }
}
