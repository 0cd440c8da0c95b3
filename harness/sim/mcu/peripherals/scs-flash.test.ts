// NVIC, SCB and the flash interface by register offset; the exception model behind the first two
// runs on a register file, not an emulator.
import { describe, expect, it } from 'vitest';
import type { CoreRegister, CoreRun, CpuCore } from '../../cpu/cpu-core.js';
import { Exception, ExceptionModel, FIRST_IRQ } from '../../cpu/exception-model.js';
import { FACTORY_OPTIONS, SimOptionBytes } from '../../option-bytes/sim-option-bytes.js';
import { FlashInterfacePeripheral, FlashKey } from './flash-interface-peripheral.js';
import { NvicPeripheral } from './nvic-peripheral.js';
import { CcrBit, CORTEX_M7_CPUID, ScbPeripheral, ScbRegister } from './scb-peripheral.js';

class Registers implements CpuCore {
  readonly engine = 'registers';
  private readonly r = new Map<CoreRegister, number>();
  mapMemory(): void {}
  mapMmio(): void {}
  readRegister(name: CoreRegister): number { return (this.r.get(name) ?? 0) >>> 0; }
  writeRegister(name: CoreRegister, v: number): void { this.r.set(name, v >>> 0); }
  watchCode(): void {}
  watchReads(): void {}
  invalidateCode(): void {}
  run(): CoreRun { throw new Error('no emulator'); }
  requestStop(): void {}
  close(): void {}
}

function scs() {
  const exceptions = new ExceptionModel({ core: new Registers(), bus: { read32: () => 0, write32: () => undefined }, irqCount: 150, priorityBits: 4 });
  let resets = 0;
  const scb = new ScbPeripheral(exceptions, { requestSystemReset: () => { resets++; } });
  const nvic = new NvicPeripheral(exceptions);
  return { exceptions, scb, nvic, resets: () => resets };
}

describe('NvicPeripheral', () => {
  it('sets and clears enables and pending bits per word, and packs four priorities per IPR word', () => {
    const { exceptions, nvic } = scs();
    nvic.write32(0x04, 1 << 7); // ISER1: IRQ 39 (USART3)
    expect(exceptions.isIrqEnabled(39)).toBe(true);
    nvic.write32(0x104, 1 << 7); // ISPR1
    expect(exceptions.isPending(FIRST_IRQ + 39)).toBe(true);
    expect(nvic.read32(0x184)).toBe(1 << 7);
    nvic.write32(0x184, 0xffffffff); // ICPR1
    nvic.write32(0x084, 0xffffffff); // ICER1
    expect(nvic.read32(0x004)).toBe(0);
    expect(exceptions.isPending(FIRST_IRQ + 39)).toBe(false);
    nvic.write32(0x300 + 36, 0x40302010); // IPR9: IRQ 36..39
    expect(exceptions.getPriority(FIRST_IRQ + 39)).toBe(0x40);
    expect(nvic.read32(0x300 + 36)).toBe(0x40302010);
  });
});

describe('ScbPeripheral', () => {
  it('reads the Cortex-M7 r1p1 CPUID and resets CCR with STKALIGN and the branch predictor on, caches off', () => {
    const { scb } = scs();
    expect(scb.read32(ScbRegister.CPUID)).toBe(CORTEX_M7_CPUID);
    expect(scb.read32(ScbRegister.CCR)).toBe(CcrBit.STKALIGN | CcrBit.BP);
    expect(scb.cachesEnabled).toEqual({ dcache: false, icache: false });
    scb.write32(ScbRegister.CCR, scb.read32(ScbRegister.CCR) | CcrBit.IC | CcrBit.DC);
    expect(scb.cachesEnabled).toEqual({ dcache: true, icache: true });
  });

  it('requests a system reset only for SYSRESETREQ written with the VECTKEY', () => {
    const s = scs();
    s.scb.write32(ScbRegister.AIRCR, 1 << 2);
    expect(s.resets()).toBe(0);
    s.scb.write32(ScbRegister.AIRCR, (0x05fa << 16) | (3 << 8) | (1 << 2));
    expect(s.resets()).toBe(1);
    expect(s.scb.read32(ScbRegister.AIRCR)).toBe(0xfa050300);
  });

  it('keeps VTOR, system handler priorities and pend bits in the exception model; fault status is write-one-to-clear', () => {
    const { exceptions, scb } = scs();
    scb.write32(ScbRegister.VTOR, 0x08000123);
    expect(exceptions.vtor).toBe(0x08000100);
    scb.write32(ScbRegister.SHPR3, 0xf0e00000);
    expect(exceptions.getPriority(Exception.SysTick)).toBe(0xf0);
    expect(exceptions.getPriority(Exception.PendSV)).toBe(0xe0);
    scb.write32(ScbRegister.ICSR, 1 << 26);
    expect(scb.read32(ScbRegister.ICSR) & (1 << 26)).toBe(1 << 26);
    expect((scb.read32(ScbRegister.ICSR) >>> 12) & 0x1ff).toBe(Exception.SysTick);
    exceptions.cfsr = 0x8200;
    scb.write32(ScbRegister.CFSR, 0x200);
    expect(scb.read32(ScbRegister.CFSR)).toBe(0x8000);
  });
});

describe('FlashInterfacePeripheral', () => {
  it('unlocks a bank with KEY1 then KEY2; a wrong key is a bus error and locks it until reset', () => {
    const errors: string[] = [];
    const flash = new FlashInterfacePeripheral(new SimOptionBytes(), (_a, reason) => errors.push(reason));
    expect(flash.read32(0x0c) & 1).toBe(1);
    flash.write32(0x04, FlashKey.KEY1);
    flash.write32(0x04, FlashKey.KEY2);
    expect(flash.isLocked(1)).toBe(false);
    flash.write32(0x104, 0x12345678);
    expect(errors[0]).toMatch(/wrong unlock sequence on FLASH_KEYR2/);
    flash.write32(0x104, FlashKey.KEY1);
    flash.write32(0x104, FlashKey.KEY2);
    expect(flash.isLocked(2)).toBe(true);
    flash.reset('software');
    expect(flash.isLocked(1)).toBe(true);
  });

  it('shows the option bytes in force at OPTSR_CUR and BOOT4_CUR', () => {
    const flash = new FlashInterfacePeripheral(new SimOptionBytes(), () => undefined);
    expect(flash.read32(0x1c)).toBe(FACTORY_OPTIONS.optsr);
    expect(flash.read32(0x48)).toBe(FACTORY_OPTIONS.boot4);
    expect(flash.read32(0x00)).toBe(0x37);
  });

  it('reports a single ECC error in SR and ECC_FA until cleared through CCR', () => {
    const flash = new FlashInterfacePeripheral(new SimOptionBytes(), () => undefined);
    flash.reportEccError(1, 0x123);
    expect(flash.read32(0x10) & (1 << 25)).toBe(1 << 25);
    expect(flash.read32(0x60)).toBe(0x123);
    flash.write32(0x14, 1 << 25);
    expect(flash.read32(0x10) & (1 << 25)).toBe(0);
  });
});
