// The exception model's bookkeeping without an emulator: a register file stands in for the core,
// an array for memory. Priorities, masking, stacking layout and lockup follow ARMv7-M B1.5.
import { describe, expect, it } from 'vitest';
import type { CoreRegister, CoreRun, CpuCore } from './cpu-core.js';
import { Exception, ExceptionModel, FIRST_IRQ } from './exception-model.js';
import { findWatchedInstructions, isBranchToSelf, thumbInstructionSize } from './thumb.js';

/** Registers only; nothing executes. */
class RegisterFile implements CpuCore {
  readonly engine = 'register file';
  readonly regs = new Map<CoreRegister, number>();
  mapMemory(): void {}
  mapMmio(): void {}
  readRegister(r: CoreRegister): number {
    if (r === 'sp') return this.readRegister((this.regs.get('control') ?? 0) & 2 && !(this.regs.get('ipsr') ?? 0) ? 'psp' : 'msp');
    return (this.regs.get(r) ?? 0) >>> 0;
  }
  writeRegister(r: CoreRegister, v: number): void {
    this.regs.set(r, v >>> 0);
    if (r === 'ipsr') this.regs.set('xpsr', ((this.regs.get('xpsr') ?? 0) & ~0x1ff) | (v & 0x1ff));
  }
  watchCode(): void {}
  watchReads(): void {}
  invalidateCode(): void {}
  run(): CoreRun { throw new Error('not an emulator'); }
  requestStop(): void {}
  close(): void {}
}

function setup(): { core: RegisterFile; memory: DataView; model: ExceptionModel } {
  const bytes = new Uint8Array(0x2000);
  const memory = new DataView(bytes.buffer);
  const bus = {
    read32: (a: number) => { if (a >= 0x2000) throw new Error('bus error'); return memory.getUint32(a, true); },
    write32: (a: number, v: number) => { if (a < 0x1000 || a >= 0x2000) throw new Error('bus error'); memory.setUint32(a, v, true); },
  };
  // Vector table at 0: MSP 0x1800, reset 0x101, each exception n's handler at 0x200 + 4n (Thumb).
  memory.setUint32(0, 0x1800, true);
  memory.setUint32(4, 0x101, true);
  for (let n = 2; n < 16 + 8; n++) memory.setUint32(4 * n, (0x200 + 4 * n) | 1, true);
  const core = new RegisterFile();
  const model = new ExceptionModel({ core, bus, irqCount: 8, priorityBits: 4 });
  model.reset(0);
  return { core, memory, model };
}

describe('ExceptionModel', () => {
  it('reset loads SP_main and PC from the vector table, everything else cleared', () => {
    const { core, model } = setup();
    expect(core.readRegister('msp')).toBe(0x1800);
    expect(core.readRegister('pc')).toBe(0x101);
    expect(model.executionPriority()).toBe(256);
  });

  it('entry stacks r0-r3, r12, lr, the return address and xPSR, 8-byte aligned with the alignment bit', () => {
    const { core, memory, model } = setup();
    core.writeRegister('msp', 0x1804);
    for (const [i, r] of (['r0', 'r1', 'r2', 'r3', 'r12', 'lr'] as const).entries()) core.writeRegister(r, 0x100 + i);
    core.writeRegister('pc', 0x0abc);
    core.writeRegister('xpsr', 0x01000000);
    model.setIrqEnabled(2, true);
    model.setPending(FIRST_IRQ + 2);
    expect(model.takePending()).toBe(true);
    // 0x1804 - 0x20 rounded down to 8: 0x17E0, and bit 9 of the stacked xPSR says 4 bytes were skipped.
    expect(core.readRegister('msp')).toBe(0x17e0);
    const frame = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => memory.getUint32(0x17e0 + 4 * i, true));
    expect(frame).toEqual([0x100, 0x101, 0x102, 0x103, 0x104, 0x105, 0x0abc, 0x01000200]);
    expect(core.readRegister('lr')).toBe(0xfffffff9);
    expect(core.readRegister('ipsr')).toBe(FIRST_IRQ + 2);
    expect(core.readRegister('pc')).toBe((0x200 + 4 * (FIRST_IRQ + 2)) | 1);
    // Return: the frame comes back and the stack pointer is where it was.
    core.writeRegister('pc', 0xfffffff8);
    model.exceptionReturn();
    expect(core.readRegister('msp')).toBe(0x1804);
    expect(core.readRegister('pc')).toBe(0x0abd);
    expect(core.readRegister('ipsr')).toBe(0);
    expect(core.readRegister('r12')).toBe(0x104);
  });

  it('a higher-priority interrupt preempts a running handler; an equal one waits; PRIMASK and BASEPRI mask', () => {
    const { core, model } = setup();
    for (const irq of [0, 1, 2]) model.setIrqEnabled(irq, true);
    model.setPriority(FIRST_IRQ + 0, 0x80);
    model.setPriority(FIRST_IRQ + 1, 0x80);
    model.setPriority(FIRST_IRQ + 2, 0x40);
    model.setPending(FIRST_IRQ + 0);
    model.takePending();
    expect(model.currentException).toBe(FIRST_IRQ + 0);
    model.setPending(FIRST_IRQ + 1);
    expect(model.canTakePending()).toBe(false);
    model.setPending(FIRST_IRQ + 2);
    expect(model.canTakePending()).toBe(true);
    core.writeRegister('basepri', 0x40);
    expect(model.canTakePending()).toBe(false);
    core.writeRegister('basepri', 0);
    core.writeRegister('primask', 1);
    expect(model.canTakePending()).toBe(false);
    // The low nibble is not implemented: writes keep only the upper four bits.
    model.setPriority(FIRST_IRQ + 3, 0x5a);
    expect(model.getPriority(FIRST_IRQ + 3)).toBe(0x50);
  });

  it('a fault with MemManage, BusFault and UsageFault disabled escalates to HardFault (FORCED), and one at priority -1 locks up', () => {
    const { core, model } = setup();
    core.writeRegister('pc', 0x300);
    model.raiseFault('read-unmapped', 0x300, 0x60000000);
    expect(model.currentException).toBe(Exception.HardFault);
    expect(model.hfsr >>> 0).toBe(0x40000000);
    expect(model.bfar).toBe(0x60000000);
    expect(model.cfsr & 0x8200).toBe(0x8200);
    model.raiseFault('undefined-instruction', 0x240, undefined);
    expect(model.lockedUp?.reason).toMatch(/undefined instruction.*already at HardFault/);
  });

  it('a stack pointer outside RAM still enters HardFault (a stacking error, not lockup)', () => {
    const { core, model } = setup();
    core.writeRegister('msp', 0xfffffffc);
    model.raiseFault('fetch-protected', 0xfffffffe, 0xfffffffe);
    expect(model.lockedUp).toBeUndefined();
    expect(model.currentException).toBe(Exception.HardFault);
    expect(model.cfsr & (1 << 12)).not.toBe(0);
  });

  it('a vector that cannot be read at reset locks the core up', () => {
    const core = new RegisterFile();
    const model = new ExceptionModel({ core, bus: { read32: () => { throw new Error('bus error'); }, write32: () => undefined }, irqCount: 1, priorityBits: 4 });
    model.reset(0x1fff0000);
    expect(model.lockedUp?.reason).toMatch(/reset vector at 0x1FFF0000 cannot be read/);
  });

  it('SVC from a handler that SVCall cannot preempt is a HardFault', () => {
    const { model } = setup();
    model.setIrqEnabled(0, true);
    model.setPending(FIRST_IRQ);
    model.takePending();
    model.supervisorCall();
    expect(model.currentException).toBe(Exception.HardFault);
  });
});

describe('Thumb helpers', () => {
  it('tells 16-bit from 32-bit encodings, finds WFI/WFE, CPSIE and MSR to mask registers, and branches to self', () => {
    expect(thumbInstructionSize(0xbf30)).toBe(2);
    expect(thumbInstructionSize(0xf3af)).toBe(4);
    expect(thumbInstructionSize(0xe7fe)).toBe(2);
    expect(isBranchToSelf(0xe7fe, undefined)).toBe(true);
    expect(isBranchToSelf(0xf7ff, 0xbffe)).toBe(true);
    expect(isBranchToSelf(0xe7fd, undefined)).toBe(false);
    // wfi; nop; wfi.w; wfe; cpsie i; msr basepri, r3
    const code = Uint8Array.from([0x30, 0xbf, 0x00, 0xbf, 0xaf, 0xf3, 0x03, 0x80, 0x20, 0xbf, 0x62, 0xb6, 0x83, 0xf3, 0x11, 0x88]);
    expect([...findWatchedInstructions(code, 0x08000000)]).toEqual([
      [0x08000000, { kind: 'wait', size: 2 }], [0x08000004, { kind: 'wait', size: 4 }], [0x08000008, { kind: 'wait', size: 2 }],
      [0x0800000a, { kind: 'cpsie', size: 2, mask: 'primask' }], [0x0800000c, { kind: 'msr', size: 4, register: 'basepri', rn: 3 }],
    ]);
  });
});
