// RCC, PWR and a GPIO port by register offset, without a core (rp2040js's peripheral tests).
import { describe, expect, it } from 'vitest';
import { GpioPort } from '../../gpio/gpio-port.js';
import { Rcc } from '../../rcc/rcc.js';
import { UnimplementedPeripheral } from '../mmio-peripheral.js';
import { GpioPortPeripheral } from './gpio-port-peripheral.js';
import { DIRECT_SMPS_WIRING, PwrPeripheral, PwrRegister, SupplyBit } from './pwr-peripheral.js';
import { RccPeripheral, RccRegister } from './rcc-peripheral.js';

describe('RccPeripheral', () => {
  it('comes out of reset on the 64 MHz HSI with every clock enable off', () => {
    const rcc = new RccPeripheral(new Rcc());
    expect(rcc.read32(RccRegister.CR) & 0x25).toBe(0x25);
    expect(rcc.read32(RccRegister.CFGR)).toBe(0);
    expect(rcc.coreClockHz()).toBe(64_000_000);
    expect(rcc.pclk1Hz()).toBe(64_000_000);
    expect(rcc.usart234578KernelHz()).toBe(64_000_000);
    for (let o = RccRegister.AHB3ENR; o <= 0xf4; o += 4) expect(rcc.read32(o)).toBe(0);
  });

  it('answers the CM7 enable registers at both RCC_xxxENR and RCC_C1_xxxENR, keeping the CM4 set apart', () => {
    const rcc = new RccPeripheral(new Rcc());
    rcc.write32(0x140, 0x7ff); // RCC_C1_AHB4ENR
    expect(rcc.read32(RccRegister.AHB4ENR)).toBe(0x7ff);
    expect(rcc.isEnabled('AHB4', 3)).toBe(true);
    rcc.write32(0x1a0, 1); // RCC_C2_AHB4ENR
    expect(rcc.read32(0x140)).toBe(0x7ff);
    expect(rcc.read32(0x1a0)).toBe(1);
  });

  it('raises ready flags as oscillators and PLLs are switched on, and follows SW with SWS', () => {
    const rcc = new RccPeripheral(new Rcc());
    rcc.write32(RccRegister.CR, rcc.read32(RccRegister.CR) | (1 << 24) | (1 << 16));
    expect(rcc.read32(RccRegister.CR) & ((1 << 25) | (1 << 17))).toBe((1 << 25) | (1 << 17));
    expect(rcc.anyPllOn()).toBe(true);
    // PLL1 from HSI: 64 MHz / M 4 * N 50 / P 2 = 400 MHz; the core divided by 2 through D1CPRE.
    rcc.write32(RccRegister.PLLCKSELR, 4 << 4);
    rcc.write32(RccRegister.PLL1DIVR, (49 & 0x1ff) | (1 << 9));
    rcc.write32(RccRegister.D1CFGR, 8 << 8);
    rcc.write32(RccRegister.CFGR, 3);
    expect(rcc.read32(RccRegister.CFGR) & 0x3f).toBe(0x1b);
    expect(rcc.coreClockHz()).toBe(200_000_000);
  });

  it('resets a connected peripheral through its reset bit and keeps the reset flags separate', () => {
    const flags = new Rcc();
    const rcc = new RccPeripheral(flags);
    let resets = 0;
    const target = new UnimplementedPeripheral('X', 0x40004800, 0x400);
    target.reset = () => { resets++; };
    rcc.connectReset('APB1L', 18, target);
    rcc.write32(RccRegister.APB1LRSTR, 1 << 18);
    rcc.write32(RccRegister.APB1LRSTR, 0);
    expect(resets).toBe(1);
    expect(rcc.read32(RccRegister.C1_RSR)).toBe(0x00fe0000);
    rcc.write32(RccRegister.C1_RSR, 1 << 16);
    expect(rcc.read32(RccRegister.RSR)).toBe(0);
  });
});

describe('PwrPeripheral', () => {
  it('takes the first supply write after power-on, ignores later ones, and reports ACTVOSRDY', () => {
    const faults: string[] = [];
    const pwr = new PwrPeripheral(DIRECT_SMPS_WIRING, (d) => faults.push(d));
    expect(pwr.read32(PwrRegister.CR3)).toBe(0x46);
    expect(pwr.read32(PwrRegister.CSR1) & (1 << 13)).not.toBe(0);
    pwr.write32(PwrRegister.CR3, SupplyBit.SMPSEN);
    pwr.write32(PwrRegister.CR3, SupplyBit.LDOEN);
    expect(pwr.supplyBits).toBe(SupplyBit.SMPSEN);
    expect(faults).toEqual([]);
    pwr.reset('software');
    expect(pwr.supplyLatched).toBe(true);
    expect(pwr.read32(PwrRegister.CR3) & 0x3f).toBe(SupplyBit.SMPSEN);
  });

  it('locks the chip when the setting does not suit the direct-SMPS board, until power-on', () => {
    const faults: string[] = [];
    const pwr = new PwrPeripheral(DIRECT_SMPS_WIRING, (d) => faults.push(d));
    pwr.write32(PwrRegister.CR3, SupplyBit.LDOEN);
    expect(faults[0]).toMatch(/LDO \(0x02\) on a board wired for direct SMPS/);
    expect(pwr.read32(PwrRegister.CSR1) & (1 << 13)).toBe(0);
    pwr.reset('pin');
    expect(pwr.supplyFault).toBe(true);
    pwr.reset('power-on');
    expect(pwr.supplyFault).toBe(false);
    expect(pwr.read32(PwrRegister.CSR1) & (1 << 13)).not.toBe(0);
  });
});

describe('GpioPortPeripheral', () => {
  it('reads 0 and ignores writes while RCC does not clock the port; the state is the board\'s GpioPort', () => {
    const rcc = new RccPeripheral(new Rcc());
    const port = new GpioPort('B', 0x58020400);
    const gpio = new GpioPortPeripheral(port, 1, rcc);
    expect(gpio.read32(0x00)).toBe(0);
    gpio.write32(0x18, 1);
    expect(port.snapshot().ODR).toBe(0);
    rcc.write32(RccRegister.AHB4ENR, 1 << 1);
    expect(gpio.read32(0x00)).toBe(0xfffffebf);
    gpio.write32(0x18, 1);
    expect(port.snapshot().ODR).toBe(1);
    rcc.write32(RccRegister.AHB4ENR, 0);
    expect(gpio.read32(0x14)).toBe(0);
    expect(port.snapshot().ODR).toBe(1);
  });
});
