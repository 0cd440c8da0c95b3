// The STM32H745's Cortex-M7 executing firmware: the CPU core with the chip's memories mapped in,
// its System Control Space (SCB, NVIC, SysTick) on the memory map, the exception model, and the
// runner on the virtual clock. It tells the chip when the core asks for a system reset, reaches
// the ROM, or locks up; the chip decides what that means for the board.
import type { Clock } from '../../clock/clock.js';
import { hex32 } from '../../errors.js';
import type { CoreStop, CpuCore } from '../cpu/cpu-core.js';
import { CoreRunner, type TimedDevice } from '../cpu/core-runner.js';
import { ExceptionModel, FIRST_IRQ, type LockupState } from '../cpu/exception-model.js';
import { findWatchedInstructions, type WatchedInstruction } from '../cpu/thumb.js';
import { isSystemMemory } from './boot-config.js';
import { FLASH_INTERFACE_BASE } from './peripherals/flash-interface-peripheral.js';
import { NvicPeripheral } from './peripherals/nvic-peripheral.js';
import { ScbPeripheral } from './peripherals/scb-peripheral.js';
import { SysTickPeripheral } from './peripherals/systick-peripheral.js';
import type { Stm32h745MemoryMap } from './stm32h745-memory-map.js';

/** External interrupt lines of the STM32H745 (WAKEUP_PIN_IRQn = 149, CMSIS stm32h745xx.h). */
export const H745_IRQ_COUNT = 150;
/** Names of the interrupt lines a message may meet (CMSIS stm32h745xx.h IRQn_Type). */
const IRQ_NAMES: Readonly<Record<number, string>> = { 37: 'USART1', 38: 'USART2', 39: 'USART3', 101: 'OTG_FS' };

/** __NVIC_PRIO_BITS on STM32H7. */
export const H745_PRIORITY_BITS = 4;

/** Host memory the core maps: RAM and flash executable, system memory readable only. */
export interface CoreMemory {
  name: string;
  base: number;
  bytes: Uint8Array;
  access: 'rwx' | 'rx' | 'r';
}

/** What the executor tells the chip. */
export interface Cm7Events {
  /** AIRCR.SYSRESETREQ: the chip should reset (the core stops when it does). */
  systemReset(): void;
  /** The core is about to execute system memory at `pc` (the executor has stopped it). */
  romEntry(pc: number): void;
  /** The core locked up. */
  lockup(state: LockupState): void;
}

/** Options of {@link Cm7Executor}. */
export interface Cm7ExecutorOptions {
  core: CpuCore;
  clock: Clock;
  map: Stm32h745MemoryMap;
  memories: readonly CoreMemory[];
  /** The core clock now (RCC's c_ck). */
  coreHz(): number;
  /** Peripherals whose state moves with time, besides SysTick (USART3). */
  devices: readonly TimedDevice[];
  /** Where code may hold WFI/WFE and the instructions that unmask interrupts: scanned at each start. */
  codeForWaits(): ReadonlyArray<{ base: number; bytes: Uint8Array }>;
  /** Flash words (start addresses, 32 bytes each) whose ECC is broken: a load from one is reported to {@link onEccRead}. */
  eccErrorWords(): readonly number[];
  /** The core read a flash word with an ECC error (the flash interface flags it). */
  onEccRead(address: number): void;
  events: Cm7Events;
}

/** Bytes in one flash word, the unit ECC covers (RM0399 §4.3). */
const FLASH_WORD_BYTES = 32;
/** Granularity of the scan for watched instructions. */
const CODE_PAGE = 0x1000;
const FLASH_INTERFACE_END = FLASH_INTERFACE_BASE + 0x2000;

/** The CM7 executing code: reset, jump, halt; state for the ROM hand-over check. */
export class Cm7Executor {
  readonly exceptions: ExceptionModel;
  readonly runner: CoreRunner;
  readonly scb: ScbPeripheral;
  readonly nvic: NvicPeripheral;
  readonly systick: SysTickPeripheral;
  private resetRequested = false;
  private waitsScanned = false;
  /** Watched instructions per 4 KiB page of code, found again only where the flash changed. */
  private readonly sitePages = new Map<number, Map<number, WatchedInstruction>>();
  private readonly dirtyPages = new Set<number>();
  private allDirty = true;

  constructor(private readonly options: Cm7ExecutorOptions) {
    const { core, map } = options;
    this.exceptions = new ExceptionModel({ core, bus: map, irqCount: H745_IRQ_COUNT, priorityBits: H745_PRIORITY_BITS });
    this.scb = new ScbPeripheral(this.exceptions, { requestSystemReset: () => { this.resetRequested = true; } });
    this.nvic = new NvicPeripheral(this.exceptions);
    this.systick = new SysTickPeripheral({
      now: () => this.runner.now(),
      coreHz: () => options.coreHz(),
      pend: (n) => this.exceptions.setPending(n),
    });
    map.add(this.scb);
    map.add(this.nvic);
    map.add(this.systick);
    for (const m of options.memories) core.mapMemory(m);
    for (const [start, end] of map.deviceRanges) {
      core.mapMmio(start, end - start, {
        read: (address, size) => {
          const value = map.readDevice(address, size);
          // FLASH_SRx changes with the core's own flash loads (ECC flags): reading it is never waiting.
          if (address >= FLASH_INTERFACE_BASE && address < FLASH_INTERFACE_END) {
            this.runner.noteActivity();
            return value;
          }
          // A poll loop that skipped ahead to the event it waits for reads the register anew.
          return this.runner.noteRead(address, value) ? map.readDevice(address, size) : value;
        },
        write: (address, size, value) => {
          this.runner.noteWrite();
          map.writeDevice(address, size, value);
        },
      });
    }
    this.runner = new CoreRunner(core, this.exceptions, options.clock, {
      fetch16: (address) => {
        const m = map.findMemory(address, 2);
        return m ? map.peek(address, 2) : undefined;
      },
      coreHz: () => options.coreHz(),
      devices: [this.systick, ...options.devices],
      interceptStop: (stop, pc) => this.intercept(stop, pc),
      afterSlice: () => this.afterSlice(),
      onLockup: (state) => options.events.lockup(state),
      interruptsQuiet: () => this.interruptsQuiet(),
    });
  }

  /** The core's time in ms (fractional), or the clock's when it is not running. */
  now(): number {
    return this.runner.now();
  }

  /** Code bytes changed (a flash write): translated code there is dropped, WFI sites are found again. */
  codeChanged(address: number, length: number): void {
    this.options.core.invalidateCode(address, length);
    for (let page = address - (address % CODE_PAGE); page < address + length; page += CODE_PAGE) this.dirtyPages.add(page);
    this.waitsScanned = false;
  }

  /** A reset of the core: exception state cleared, SP and PC from the table at `vectorTable` (VTOR), then run. */
  resetAndRun(vectorTable: number): void {
    this.runner.halt();
    this.resetRequested = false;
    this.scanWaits();
    this.exceptions.reset(vectorTable);
    const lockup = this.exceptions.lockedUp;
    if (lockup) {
      this.options.events.lockup(lockup);
      return;
    }
    this.runner.start();
  }

  /** A bootloader's jump to `vectorTable`: SP and PC from it, Thread mode, no reset of anything else. */
  jumpAndRun(vectorTable: number): void {
    this.runner.halt();
    this.resetRequested = false;
    this.scanWaits();
    this.exceptions.jumpTo(vectorTable);
    this.runner.start();
  }

  /** Stops the core (reset, power-off, hand-over to the ROM). */
  halt(): void {
    this.runner.halt();
  }

  /** Stops for good and releases the CPU engine. */
  dispose(): void {
    this.runner.halt();
    this.options.core.close();
  }

  /** The interrupt line `irq` of a peripheral. */
  setIrqLine(irq: number, high: boolean): void {
    this.exceptions.setIrqLine(irq, high);
  }

  /** True when no interrupt can be taken whatever happens: PRIMASK set, or no NVIC line enabled and SysTick not interrupting. */
  interruptsQuiet(): boolean {
    if (!this.systick.interrupting && !this.exceptions.anyIrqEnabled()) return true;
    return (this.options.core.readRegister('primask') & 1) === 1;
  }

  /** Interrupts enabled and pending in the NVIC now. */
  enabledPendingIrqs(): number[] {
    const found: number[] = [];
    for (let irq = 0; irq < H745_IRQ_COUNT; irq++) {
      if (this.exceptions.isIrqEnabled(irq) && this.exceptions.isPending(FIRST_IRQ + irq)) found.push(irq);
    }
    return found;
  }

  /** A word of core state, for the ROM hand-over check and messages. */
  register(name: 'primask' | 'msp' | 'pc' | 'ipsr' | 'control'): number {
    return this.options.core.readRegister(name);
  }

  /** What the core is doing, for a message: in which handler, after which fault. */
  describeState(): string | undefined {
    const lockup = this.exceptions.lockedUp;
    if (lockup) return `the Cortex-M7 locked up: ${lockup.reason}`;
    if (!this.runner.isRunning) return undefined;
    const ipsr = this.options.core.readRegister('ipsr') & 0x1ff;
    const pc = this.options.core.readRegister('pc');
    const fault = this.exceptions.lastHardFault;
    if (ipsr >= 3 && ipsr <= 6) return `the Cortex-M7 is in its fault handler (exception ${ipsr}, PC ${hex32(pc)})${fault ? ` after ${fault.description}` : ''}`;
    if (ipsr >= FIRST_IRQ) {
      const irq = ipsr - FIRST_IRQ;
      const name = IRQ_NAMES[irq];
      return `the Cortex-M7 is in the handler of interrupt ${irq}${name ? ` (${name})` : ''} (PC ${hex32(pc)}); `
        + 'an interrupt left enabled and pending is taken as soon as interrupts are unmasked, before any jump (AN2606 §4.1: disable interrupts and clear pending ones)';
    }
    if (ipsr !== 0) return `the Cortex-M7 is in the handler of exception ${ipsr} (PC ${hex32(pc)})`;
    return undefined;
  }

  /** After the flash changed: find the WFI/WFE sites again and watch the words with ECC errors. */
  private scanWaits(): void {
    if (this.waitsScanned) return;
    for (const region of this.options.codeForWaits()) {
      for (let offset = 0; offset < region.bytes.length; offset += CODE_PAGE) {
        const page = region.base + offset;
        if (!this.allDirty && !this.dirtyPages.has(page) && this.sitePages.has(page)) continue;
        // One halfword past the page, for a 32-bit encoding that starts on its last halfword.
        const bytes = region.bytes.subarray(offset, Math.min(region.bytes.length, offset + CODE_PAGE + 2));
        const found = new Map([...findWatchedInstructions(bytes, page)].filter(([a]) => a < page + CODE_PAGE));
        this.sitePages.set(page, found);
      }
    }
    this.allDirty = false;
    this.dirtyPages.clear();
    const sites = new Map<number, WatchedInstruction>();
    for (const page of this.sitePages.values()) for (const [a, site] of page) sites.set(a, site);
    this.runner.setWatchSites(sites);
    const ranges: Array<[number, number]> = [];
    for (const word of this.options.eccErrorWords()) {
      const last = ranges.at(-1);
      if (last && last[1] === word) last[1] = word + FLASH_WORD_BYTES;
      else ranges.push([word, word + FLASH_WORD_BYTES]);
    }
    this.options.core.watchReads(ranges, (address) => this.options.onEccRead(address));
    this.waitsScanned = true;
  }

  private intercept(stop: CoreStop, pc: number): boolean {
    if (stop.kind !== 'fault' || stop.fault !== 'fetch-protected') return false;
    const at = stop.address ?? pc;
    if (!isSystemMemory(at)) return false;
    this.runner.halt();
    this.options.events.romEntry(at);
    return true;
  }

  private afterSlice(): boolean {
    for (const error of this.options.map.takeBusErrors()) {
      this.exceptions.raiseFault('write-unmapped', this.options.core.readRegister('pc'), error.address, error.reason);
    }
    if (!this.resetRequested) return false;
    this.resetRequested = false;
    // The chip's reset halts and restarts the core; until then its time is the reset's moment.
    this.options.events.systemReset();
    return true;
  }
}
