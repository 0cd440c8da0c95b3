// The ARMv7-M exception model, which Unicorn 2 does not provide for M-profile cores: reset from
// the vector table, pending/active/enabled state and priorities of every exception, entry with
// stacking and EXC_RETURN, return with unstacking, fault escalation to HardFault, and lockup.
// References: ARMv7-M Architecture Reference Manual (DDI 0403E) B1.5 "ARMv7-M exception model"
// (B1.5.6 exception entry, B1.5.8 exception return, B1.5.15 unrecoverable exception cases) and
// B3.2 "System Control Space" for the fault status bits.
import { hex32 } from '../../errors.js';
import type { CoreFaultKind, CpuCore } from './cpu-core.js';

/** Exception numbers of the system exceptions (B1.5.2); interrupt n is 16 + n. */
export const Exception = {
  Reset: 1, NMI: 2, HardFault: 3, MemManage: 4, BusFault: 5, UsageFault: 6, SVCall: 11, DebugMonitor: 12, PendSV: 14, SysTick: 15,
} as const;

/** The first exception number of external interrupts. */
export const FIRST_IRQ = 16;

/** The word-wide memory the core stacks to and reads its vectors from; throws on a bus error. */
export interface ExceptionBus {
  read32(address: number): number;
  write32(address: number, value: number): void;
}

/** Options of {@link ExceptionModel}. */
export interface ExceptionModelOptions {
  core: CpuCore;
  bus: ExceptionBus;
  /** External interrupt lines (150 on the STM32H745: WAKEUP_PIN_IRQn = 149, CMSIS stm32h745xx.h). */
  irqCount: number;
  /** Implemented priority bits (4 on STM32H7: __NVIC_PRIO_BITS). */
  priorityBits: number;
}

/** A HardFault or lockup as the model recorded it, for messages. */
export interface FaultRecord {
  /** The configurable fault it started as, or 'hardfault' for a vector-table or escalation cause. */
  cause: string;
  /** Where the core was (approximate for data faults, see CoreStop). */
  pc: number;
  /** The data or fetch address involved, if known. */
  address: number | undefined;
  /** Human-readable account. */
  description: string;
}

// CFSR bits (B3.2.15): MemManage in [7:0], BusFault in [15:8], UsageFault in [31:16].
const CFSR = {
  IACCVIOL: 1 << 0, MSTKERR: 1 << 4, MMARVALID: 1 << 7,
  IBUSERR: 1 << 8, PRECISERR: 1 << 9, UNSTKERR: 1 << 11, STKERR: 1 << 12, BFARVALID: 1 << 15,
  UNDEFINSTR: 1 << 16, INVSTATE: 1 << 17, INVPC: 1 << 18, UNALIGNED: 1 << 24,
} as const;
// HFSR bits (B3.2.16).
const HFSR = { VECTTBL: 1 << 1, FORCED: 1 << 30, DEBUGEVT: 0x80000000 } as const;
// SHCSR enable bits (B3.2.13).
const SHCSR_ENABLE = { [Exception.MemManage]: 1 << 16, [Exception.BusFault]: 1 << 17, [Exception.UsageFault]: 1 << 18 } as Record<number, number>;

const FRAME_BYTES = 0x20;
const XPSR_T = 1 << 24;
const XPSR_ALIGN = 1 << 9;
const CONTROL_SPSEL = 1 << 1;

/** Why the model entered lockup: the core stops until a reset. */
export class LockupState {
  constructor(readonly reason: string, readonly pc: number) {}
}

/** The exception state of one Cortex-M core, driven between runs of the {@link CpuCore}. */
export class ExceptionModel {
  readonly exceptionCount: number;
  /** VTOR: where vectors are read. */
  vtor = 0;
  /** AIRCR.PRIGROUP. */
  priorityGroup = 0;
  /** SHCSR's enable bits for MemManage, BusFault and UsageFault. */
  shcsrEnables = 0;
  /** Fault status registers, as SCB shows them. */
  cfsr = 0;
  hfsr = 0;
  mmfar = 0;
  bfar = 0;
  private readonly pending: Uint8Array;
  private readonly active: Uint8Array;
  private readonly irqEnabled: Uint8Array;
  private readonly priority: Uint8Array;
  private readonly levelHigh: Uint8Array;
  private readonly priorityMask: number;
  private lockup: LockupState | undefined;
  private lastFault: FaultRecord | undefined;
  private readonly core: CpuCore;
  private readonly bus: ExceptionBus;

  constructor(options: ExceptionModelOptions) {
    this.core = options.core;
    this.bus = options.bus;
    this.exceptionCount = FIRST_IRQ + options.irqCount;
    this.pending = new Uint8Array(this.exceptionCount);
    this.active = new Uint8Array(this.exceptionCount);
    this.irqEnabled = new Uint8Array(options.irqCount);
    this.priority = new Uint8Array(this.exceptionCount);
    this.levelHigh = new Uint8Array(options.irqCount);
    this.priorityMask = (0xff << (8 - options.priorityBits)) & 0xff;
  }

  /** External interrupt lines. */
  get irqCount(): number {
    return this.irqEnabled.length;
  }

  /** Set when the core has locked up (B1.5.15); cleared by {@link reset}. */
  get lockedUp(): LockupState | undefined {
    return this.lockup;
  }

  /** The last HardFault or lockup cause, for messages. */
  get lastHardFault(): FaultRecord | undefined {
    return this.lastFault;
  }

  /**
   * A reset (power-on, system or core reset): every exception inactive and not pending, priorities
   * and enables cleared, VTOR set, then SP_main and the PC loaded from the vector table (B1.5.5).
   * A vector read that faults locks the core up.
   */
  reset(vtor: number): void {
    this.pending.fill(0);
    this.active.fill(0);
    this.irqEnabled.fill(0);
    this.priority.fill(0);
    this.levelHigh.fill(0);
    this.vtor = vtor >>> 0;
    this.priorityGroup = 0;
    this.shcsrEnables = 0;
    this.cfsr = 0;
    this.hfsr = 0;
    this.mmfar = 0;
    this.bfar = 0;
    this.lockup = undefined;
    this.lastFault = undefined;
    const c = this.core;
    c.writeRegister('ipsr', 0);
    c.writeRegister('control', 0);
    c.writeRegister('primask', 0);
    c.writeRegister('faultmask', 0);
    c.writeRegister('basepri', 0);
    let sp: number;
    let pc: number;
    try {
      sp = this.bus.read32(this.vtor);
      pc = this.bus.read32(this.vtor + 4);
    } catch (error) {
      this.enterLockup(`the reset vector at ${hex32(this.vtor)} cannot be read (${describe(error)})`, 0xeffffffe);
      return;
    }
    c.writeRegister('psp', 0);
    c.writeRegister('msp', sp & ~3);
    c.writeRegister('lr', 0xffffffff);
    c.writeRegister('pc', pc);
    if ((pc & 1) === 0) this.raiseFault('invalid-state', pc, undefined, `the reset vector ${hex32(pc)} has bit 0 clear (no Thumb state)`);
  }

  /** Loads SP_main and the PC from a vector table without a reset, as a bootloader's jump does. */
  jumpTo(vectorTable: number): void {
    const sp = this.bus.read32(vectorTable);
    const pc = this.bus.read32(vectorTable + 4);
    const c = this.core;
    this.active.fill(0);
    c.writeRegister('ipsr', 0);
    c.writeRegister('control', 0);
    c.writeRegister('msp', sp & ~3);
    c.writeRegister('pc', pc);
  }

  // ---- NVIC and SCB register views --------------------------------------------------------

  /** NVIC_ISER/ICER: enables or disables external interrupt `irq`. */
  setIrqEnabled(irq: number, enabled: boolean): void {
    if (irq < 0 || irq >= this.irqCount) return;
    this.irqEnabled[irq] = enabled ? 1 : 0;
  }

  isIrqEnabled(irq: number): boolean {
    return this.irqEnabled[irq] === 1;
  }

  /** True when any external interrupt is enabled in the NVIC. */
  anyIrqEnabled(): boolean {
    return this.irqEnabled.includes(1);
  }

  /** Makes exception `n` pending (NVIC_ISPR, ICSR.PENDSTSET/PENDSVSET/NMIPENDSET). */
  setPending(n: number): void {
    if (n > 0 && n < this.exceptionCount) this.pending[n] = 1;
  }

  /** Clears exception `n`'s pending state. */
  clearPending(n: number): void {
    if (n > 0 && n < this.exceptionCount) this.pending[n] = 0;
  }

  /** True when any exception is pending (the runner asks after every slice; most of the time none is). */
  private anyPending(): boolean {
    return this.pending.includes(1);
  }

  isPending(n: number): boolean {
    return this.pending[n] === 1;
  }

  isActive(n: number): boolean {
    return this.active[n] === 1;
  }

  /**
   * A peripheral's interrupt request line. Rising, it makes the interrupt pending; while it stays
   * high the interrupt pends again after its handler returns (level-sensitive, B3.4.1).
   */
  setIrqLine(irq: number, high: boolean): void {
    if (irq < 0 || irq >= this.irqCount) return;
    if (high && this.levelHigh[irq] === 0) this.pending[FIRST_IRQ + irq] = 1;
    this.levelHigh[irq] = high ? 1 : 0;
  }

  /** The 8-bit priority field of exception `n` as software reads it (only the implemented bits). */
  getPriority(n: number): number {
    return this.priority[n] ?? 0;
  }

  /** Writes exception `n`'s priority field; the fixed-priority exceptions ignore it. */
  setPriority(n: number, value: number): void {
    if (n < Exception.MemManage || n >= this.exceptionCount) return;
    this.priority[n] = value & this.priorityMask;
  }

  /** The exception with the lowest number among those active, as ICSR.VECTACTIVE shows the current one. */
  get currentException(): number {
    return this.core.readRegister('ipsr') & 0x1ff;
  }

  /** ICSR.VECTPENDING: the exception that would be taken next ignoring masks, 0 for none. */
  get highestPending(): number {
    return this.bestPending(false) ?? 0;
  }

  /** True when no exception other than the current one is active (ICSR.RETTOBASE). */
  get returnsToBase(): boolean {
    let count = 0;
    for (let n = 1; n < this.exceptionCount; n++) if (this.active[n]) count++;
    return count <= 1;
  }

  // ---- Taking exceptions ------------------------------------------------------------------

  /** True when an enabled pending exception has a high enough priority to be taken now (or to end WFI). */
  canTakePending(): boolean {
    return this.bestPending(true) !== undefined;
  }

  /**
   * Takes the pending exception that preempts the current priority, if any: stacks the context,
   * enters the handler. Returns true when one was taken (or the core locked up trying).
   */
  takePending(): boolean {
    if (this.lockup) return false;
    const n = this.bestPending(true);
    if (n === undefined) return false;
    this.enter(n);
    return true;
  }

  /** `svc` ran: SVCall, or HardFault when SVCall cannot preempt (B1.5.4 escalation). */
  supervisorCall(): void {
    if (this.groupPriority(Exception.SVCall) < this.executionPriority()) {
      this.pending[Exception.SVCall] = 1;
      this.takePending();
      return;
    }
    this.hfsr |= HFSR.FORCED;
    this.escalate({ cause: 'svc', pc: this.core.readRegister('pc'), address: undefined, description: 'SVC executed where SVCall cannot preempt' });
  }

  /** `bkpt` ran with no debugger attached: a HardFault (B1.5.15, DEBUGEVT). */
  breakpoint(): void {
    this.hfsr |= HFSR.DEBUGEVT;
    const pc = this.core.readRegister('pc');
    this.escalate({ cause: 'breakpoint', pc, address: undefined, description: `BKPT at ${hex32(pc)} with no debugger attached` });
  }

  /** The core faulted: the configurable fault if enabled and able to preempt, else HardFault; lockup at priority -1 or above. */
  raiseFault(kind: CoreFaultKind | 'invalid-return', pc: number, address: number | undefined, detail?: string): void {
    const { exception, bits, what } = classify(kind);
    this.cfsr |= bits;
    if (address !== undefined && exception === Exception.BusFault && kind !== 'fetch-unmapped') {
      this.bfar = address >>> 0;
      this.cfsr |= CFSR.BFARVALID;
    }
    if (address !== undefined && exception === Exception.MemManage) {
      this.mmfar = address >>> 0;
      this.cfsr |= CFSR.MMARVALID;
    }
    const description = `${what}${address === undefined ? '' : ` at ${hex32(address)}`}${detail ? ` (${detail})` : ''}, PC near ${hex32(pc)}`;
    const record: FaultRecord = { cause: what, pc: pc >>> 0, address, description };
    const enabled = (this.shcsrEnables & (SHCSR_ENABLE[exception] ?? 0)) !== 0;
    if (enabled && this.groupPriority(exception) < this.executionPriority()) {
      this.lastFault = record;
      this.pending[exception] = 1;
      this.takePending();
      return;
    }
    this.hfsr |= HFSR.FORCED;
    this.escalate(record);
  }

  /**
   * The core branched to an EXC_RETURN value (its PC holds it without bit 0). In Handler mode
   * this returns from the current exception (B1.5.8); in Thread mode it is an invalid branch.
   */
  exceptionReturn(): void {
    const c = this.core;
    const excReturn = (c.readRegister('pc') | 1) >>> 0;
    const returning = c.readRegister('ipsr') & 0x1ff;
    if (returning === 0 || !this.active[returning]) {
      this.raiseFault('invalid-return', excReturn, undefined, returning === 0 ? 'EXC_RETURN branched to in Thread mode' : `exception ${returning} is not active`);
      return;
    }
    const kind = excReturn & 0xf;
    if ((excReturn & 0x0ffffff0) !== 0x0ffffff0 || (kind !== 0x1 && kind !== 0x9 && kind !== 0xd)) {
      this.raiseFault('invalid-return', excReturn, undefined, `EXC_RETURN ${hex32(excReturn)} is not a valid return value`);
      return;
    }
    this.active[returning] = 0;
    const toThread = kind !== 0x1;
    const usePsp = kind === 0xd;
    const sp = c.readRegister(usePsp ? 'psp' : 'msp');
    const frame: number[] = [];
    try {
      for (let i = 0; i < 8; i++) frame.push(this.bus.read32(sp + 4 * i));
    } catch (error) {
      this.cfsr |= CFSR.UNSTKERR;
      this.hfsr |= HFSR.FORCED;
      this.escalate({ cause: 'unstacking', pc: excReturn, address: sp, description: `unstacking from ${hex32(sp)} failed (${describe(error)})` });
      return;
    }
    const xpsr = frame[7]! >>> 0;
    c.writeRegister(usePsp ? 'psp' : 'msp', sp + FRAME_BYTES + ((xpsr & XPSR_ALIGN) !== 0 ? 4 : 0));
    const regs = ['r0', 'r1', 'r2', 'r3', 'r12', 'lr'] as const;
    regs.forEach((r, i) => c.writeRegister(r, frame[i]!));
    c.writeRegister('ipsr', toThread ? 0 : xpsr & 0x1ff);
    if (toThread) {
      const control = c.readRegister('control');
      c.writeRegister('control', usePsp ? control | CONTROL_SPSEL : control & ~CONTROL_SPSEL);
    }
    c.writeRegister('xpsr', (xpsr & ~XPSR_ALIGN & ~0x1ff) | (toThread ? 0 : xpsr & 0x1ff) | XPSR_T);
    c.writeRegister('pc', frame[6]! | 1);
    if (this.levelHigh.length > 0 && returning >= FIRST_IRQ && this.levelHigh[returning - FIRST_IRQ]) this.pending[returning] = 1;
  }

  /** The execution priority now (B1.5.4): -3..255, lower is more urgent; 256 in Thread mode with no boost. */
  executionPriority(): number {
    let current = 256;
    for (let n = 1; n < this.exceptionCount; n++) if (this.active[n]) current = Math.min(current, this.groupPriority(n));
    const c = this.core;
    const basepri = c.readRegister('basepri') & 0xff;
    if (basepri !== 0) current = Math.min(current, this.groupOf(basepri & this.priorityMask));
    if ((c.readRegister('primask') & 1) !== 0) current = Math.min(current, 0);
    if ((c.readRegister('faultmask') & 1) !== 0) current = Math.min(current, -1);
    return current;
  }

  private escalate(record: FaultRecord): void {
    if (this.executionPriority() <= -1) {
      this.enterLockup(`${record.description}, while the core was already at HardFault or NMI priority`, record.pc);
      return;
    }
    this.lastFault = record;
    this.pending[Exception.HardFault] = 1;
    this.takePending();
  }

  private enterLockup(reason: string, pc: number): void {
    this.lockup = new LockupState(reason, pc >>> 0);
    this.lastFault = { cause: 'lockup', pc: pc >>> 0, address: undefined, description: reason };
  }

  private groupOf(raw: number): number {
    // Bits below PRIGROUP+1 are the subpriority and do not preempt (B1.5.4).
    return raw & ~((1 << (this.priorityGroup + 1)) - 1) & 0xff;
  }

  private groupPriority(n: number): number {
    if (n === Exception.Reset) return -3;
    if (n === Exception.NMI) return -2;
    if (n === Exception.HardFault) return -1;
    return this.groupOf(this.priority[n] ?? 0);
  }

  private isEnabled(n: number): boolean {
    if (n >= FIRST_IRQ) return this.irqEnabled[n - FIRST_IRQ] === 1;
    const bit = SHCSR_ENABLE[n];
    return bit === undefined || (this.shcsrEnables & bit) !== 0;
  }

  /** The pending exception to take next: highest priority, then lowest number; with `preempting`, only one that beats the execution priority. */
  private bestPending(preempting: boolean): number | undefined {
    if (!this.anyPending()) return undefined;
    let best: number | undefined;
    let bestGroup = Infinity;
    let bestSub = Infinity;
    for (let n = 1; n < this.exceptionCount; n++) {
      if (!this.pending[n] || !this.isEnabled(n)) continue;
      const group = this.groupPriority(n);
      const sub = n <= Exception.HardFault ? 0 : this.priority[n]! - group;
      // Ties go to the lower exception number: the loop runs upwards and only a strictly better one replaces.
      if (group < bestGroup || (group === bestGroup && sub < bestSub)) {
        best = n;
        bestGroup = group;
        bestSub = sub;
      }
    }
    if (best === undefined) return undefined;
    if (preempting && this.groupPriority(best) >= this.executionPriority()) return undefined;
    return best;
  }

  /** Exception entry (B1.5.6): push the frame, EXC_RETURN in LR, Handler mode on the main stack, PC from the vector. */
  private enter(n: number): void {
    const c = this.core;
    const ipsr = c.readRegister('ipsr') & 0x1ff;
    const control = c.readRegister('control');
    const fromThread = ipsr === 0;
    const framePsp = fromThread && (control & CONTROL_SPSEL) !== 0;
    const sp = c.readRegister(framePsp ? 'psp' : 'msp');
    const align = (sp & 4) !== 0;
    const frame = ((sp - FRAME_BYTES) & ~7) >>> 0;
    const returnAddress = c.readRegister('pc');
    const xpsr = c.readRegister('xpsr');
    const values = [c.readRegister('r0'), c.readRegister('r1'), c.readRegister('r2'), c.readRegister('r3'),
      c.readRegister('r12'), c.readRegister('lr'), returnAddress & ~1, (xpsr & ~XPSR_ALIGN) | (align ? XPSR_ALIGN : 0)];
    let stackError: unknown;
    for (let i = 0; i < values.length && stackError === undefined; i++) {
      try {
        this.bus.write32(frame + 4 * i, values[i]! >>> 0);
      } catch (error) {
        stackError = error;
      }
    }
    c.writeRegister(framePsp ? 'psp' : 'msp', frame);
    this.pending[n] = 0;
    if (stackError !== undefined) {
      this.cfsr |= CFSR.STKERR;
      // A derived fault while entering HardFault lets the entry carry on (B1.5.15 locks up only
      // at priority -1 or above); entering anything else, HardFault takes over.
      if (n !== Exception.HardFault && n !== Exception.NMI) {
        this.hfsr |= HFSR.FORCED;
        this.lastFault = { cause: 'stacking', pc: returnAddress, address: frame, description: `stacking exception ${n} to ${hex32(frame)} failed (${describe(stackError)})` };
        this.pending[n] = 1;
        this.pending[Exception.HardFault] = 1;
        n = Exception.HardFault;
        this.pending[n] = 0;
      }
    }
    let vector: number;
    try {
      vector = this.bus.read32(this.vtor + 4 * n);
    } catch (error) {
      this.hfsr |= HFSR.VECTTBL;
      if (n === Exception.HardFault || this.executionPriority() <= -1) {
        this.enterLockup(`the vector of exception ${n} at ${hex32(this.vtor + 4 * n)} cannot be read (${describe(error)})`, returnAddress);
        return;
      }
      this.lastFault = { cause: 'vector', pc: returnAddress, address: this.vtor + 4 * n, description: `vector read for exception ${n} failed` };
      this.pending[n] = 1;
      this.pending[Exception.HardFault] = 1;
      this.takePending();
      return;
    }
    this.active[n] = 1;
    if (fromThread) c.writeRegister('control', control & ~CONTROL_SPSEL);
    c.writeRegister('ipsr', n);
    c.writeRegister('lr', fromThread ? (framePsp ? 0xfffffffd : 0xfffffff9) : 0xfffffff1);
    c.writeRegister('xpsr', (xpsr & 0xf0000000) | XPSR_T | n);
    c.writeRegister('pc', vector);
    if ((vector & 1) === 0) this.raiseFault('invalid-state', vector, undefined, `the vector of exception ${n} is ${hex32(vector)}, bit 0 clear`);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Which configurable fault a core fault is, with its CFSR bits (B3.2.15). */
function classify(kind: CoreFaultKind | 'invalid-return'): { exception: number; bits: number; what: string } {
  switch (kind) {
    case 'fetch-unmapped': return { exception: Exception.BusFault, bits: CFSR.IBUSERR, what: 'instruction fetch bus error' };
    case 'fetch-protected': return { exception: Exception.MemManage, bits: CFSR.IACCVIOL, what: 'instruction fetch from a non-executable region' };
    case 'read-unmapped': return { exception: Exception.BusFault, bits: CFSR.PRECISERR, what: 'read bus error' };
    case 'write-unmapped': return { exception: Exception.BusFault, bits: CFSR.PRECISERR, what: 'write bus error' };
    case 'write-protected': return { exception: Exception.BusFault, bits: CFSR.PRECISERR, what: 'write to read-only memory' };
    case 'read-protected': return { exception: Exception.BusFault, bits: CFSR.PRECISERR, what: 'read of protected memory' };
    case 'unaligned': return { exception: Exception.UsageFault, bits: CFSR.UNALIGNED, what: 'unaligned access' };
    case 'undefined-instruction': return { exception: Exception.UsageFault, bits: CFSR.UNDEFINSTR, what: 'undefined instruction' };
    case 'invalid-state': return { exception: Exception.UsageFault, bits: CFSR.INVSTATE, what: 'invalid state (Thumb bit clear)' };
    case 'invalid-return': return { exception: Exception.UsageFault, bits: CFSR.INVPC, what: 'invalid exception return' };
    case 'other': return { exception: Exception.HardFault, bits: 0, what: 'processor fault' };
  }
}
