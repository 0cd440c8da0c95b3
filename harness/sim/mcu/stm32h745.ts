// The STM32H745 as a state machine: power, resets, boot selection for both cores, the jump
// paths between the application and the ROM bootloader, and the BootloaderHost seam. Its
// address space is one memory map with one class per peripheral; the Cortex-M7 runs either
// the TypeScript model of the test application or, in executed mode, the image itself.
import type { Clock } from '../../clock/clock.js';
import { hex32 } from '../../errors.js';
import type { UsbGadget, UsbSocket } from '../../usb/gadget.js';
import type { BootloaderHost, FlashChange, FlashMemory, OptionBytesStore, ResetCause } from '../contracts.js';
import { DFU_MAGIC, DFU_MAGIC_ADDRESS } from '../app/dfu-magic.js';
import {
  DEFAULT_APP_CONNECT_DELAY_MS, DfuRuntimeDevice, type DfuRuntimeFaults, type DfuRuntimeSettings,
} from '../app/dfu-runtime-interface.js';
import { announcedIdentity, UNKNOWN_IMAGE_IDENTITY, VERSION_BLOCK_OFFSET, VERSION_BLOCK_SIZE } from '../../image/version-block.js';
import { imageVectorProblem } from '../../image/vector-table.js';
import { TestApplication, type Cm4State, type TestAppHost, type TestAppSettings } from '../app/test-application.js';
import type { Boot0Source } from '../boot0/boot0-source.js';
import type { RomEntryBehaviour } from '../bootloader/profiles.js';
import type { CpuCore } from '../cpu/cpu-core.js';
import type { LockupState } from '../cpu/exception-model.js';
import { GpioBank, type PinName } from '../gpio/gpio-bank.js';
import { Rcc } from '../rcc/rcc.js';
import type { ConsoleUart } from '../uart/console-uart.js';
import { isSystemMemory, SYSTEM_MEMORY, type BootConfig } from './boot-config.js';
import { ChipTimers } from './chip-timers.js';
import { Cm7Executor, type CoreMemory } from './cm7-executor.js';
import { RegisterFilePeripheral, type MmioPeripheral } from './mmio-peripheral.js';
import { FlashInterfacePeripheral } from './peripherals/flash-interface-peripheral.js';
import { GpioPortPeripheral } from './peripherals/gpio-port-peripheral.js';
import { HsemPeripheral } from './peripherals/hsem-peripheral.js';
import { DIRECT_SMPS_WIRING, PwrPeripheral, type SupplyWiring } from './peripherals/pwr-peripheral.js';
import { RCC_BUSES, RccPeripheral } from './peripherals/rcc-peripheral.js';
import { USART3_IRQ, USART3_RCC_BIT, Usart3Peripheral } from './peripherals/usart3-peripheral.js';
import { blockingProblems, checkRomHandOver, type RomEntryProblem } from './rom-entry.js';
import { Sram } from './sram.js';
import { Stm32h745MemoryMap, type MemoryDevice } from './stm32h745-memory-map.js';
import { buildSystemMemory, type RomVector } from './system-memory.js';

/** The code the ROM holds, as the chip starts and stops it (a SystemBootloader). */
export interface SystemMemoryCode {
  start(): void;
  stop(): void;
}

/** What the Cortex-M7 is doing. */
export type Cm7State = 'off' | 'app' | 'bootloader' | 'lockup';

/** How the Cortex-M7 runs code from user flash. */
export type Cm7Execution =
  /** The TypeScript model of the test application (harness/sim/app/test-application.ts). */
  | { kind: 'modelled' }
  /** The image's own instructions on a CPU core, with the ROM's behaviour when entered from it. */
  | { kind: 'executed'; core: CpuCore; romEntry: RomEntryBehaviour };

/** Options for {@link Stm32h745}. */
export interface Stm32h745Options {
  clock: Clock;
  flash: FlashMemory;
  optionBytes: OptionBytesStore;
  /** Reads the boot-relevant option values (the option bytes' current values). */
  bootConfig: () => BootConfig;
  boot0: Boot0Source;
  uart: ConsoleUart;
  usb: UsbSocket;
  /** Builds the ROM bootloader for one run; called each time the chip enters system memory. */
  createBootloader: (host: BootloaderHost) => SystemMemoryCode;
  /** Time from the bootloader's connect to the device being on the bus; read at each attach. */
  reEnumerationDelayMs: () => number;
  app?: TestAppSettings;
  /** The pin wired to the BOOT0 RC circuit, if any; its output level charges the capacitor. */
  boot0ChargePin?: PinName;
  /** Called after every reset's registers are set, before the core starts (board faults hook in). */
  onReset?: (cause: ResetCause) => void;
  /** Default the TypeScript model. */
  cm7?: Cm7Execution;
  /** The words system memory holds for code that reads it (the ROM's tables and ID byte). */
  systemMemory?: { vector: RomVector; bootloaderId: number };
  /** How the board supplies VCORE; default the NUCLEO-H745ZI-Q's direct SMPS. */
  supplyWiring?: SupplyWiring;
  /**
   * The application's own USB device with a DFU run-time interface, when the board's application
   * offers one: it enumerates on `usb` while the CM7 runs the application (harness/sim/app/dfu-runtime-interface.ts).
   */
  appUsb?: { settings: DfuRuntimeSettings; faults: DfuRuntimeFaults; serialNumber: string };
}

/** Why the Cortex-M7 does nothing useful, as a board's symptoms would need explaining. */
export interface Cm7Trouble {
  /** The ROM refused the hand-over, the core sits in a fault or interrupt handler, it locked up, or the supply setting stopped the chip. */
  kind: 'rom-refused' | 'fault' | 'lockup' | 'supply';
  description: string;
}

/** RCC's enable registers as AN2606 §4.1 wants them at the hand-over (their reset value, 0). */
const ENABLE_REGISTERS_AT_RESET = 0;
/** The ROM's tables, when the board gives none (see harness/sim/bootloader/profiles.ts, ST_ROM_ENTRY). */
const DEFAULT_SYSTEM_MEMORY = { vector: { stackPointer: 0x2000_4000, entry: 0x1ff0_a001 }, bootloaderId: 0x92 };

const BANK1 = 0x08000000;
const BANK_SIZE = 0x100000;
/**
 * Where the CM7 boots when RDP level 2 forbids system memory. RM0399 says boot from system
 * flash is disabled at level 2; that the chip then falls back to user flash at 0x08000000 is
 * our inference (confidence L).
 */
const RDP2_FALLBACK_BOOT = BANK1;

/**
 * The simulated STM32H745. Powered or not; every reset puts GPIO back to reset values, sets
 * RCC_RSR flags, keeps SRAM (lost only at power-off), samples BOOT0 and starts each core from
 * the address its option bytes select: the ROM bootloader for system memory, the test
 * application for valid code in flash, otherwise a lockup (nothing on the console).
 */
export class Stm32h745 {
  readonly gpio = new GpioBank();
  /** RCC's reset flags (RSR), shared by the RCC peripheral and the application model. */
  readonly rcc = new Rcc();
  readonly sram = new Sram();
  readonly clock: Clock;
  /** The user flash, as everything on the chip reaches it. */
  readonly flash: FlashMemory;
  /** The address space: memories and peripherals, for the core, the debug port and the model. */
  readonly map: Stm32h745MemoryMap;
  readonly rccPeripheral: RccPeripheral;
  readonly pwr: PwrPeripheral;
  readonly usart3: Usart3Peripheral;
  readonly flashInterface: FlashInterfacePeripheral;
  /** The executing Cortex-M7, in executed mode. */
  readonly executor: Cm7Executor | undefined;
  private readonly timers: ChipTimers;
  private powered = false;
  private cm7: Cm7State = 'off';
  private cm4: Cm4State = 'off';
  private cm4VectorTable: number | undefined;
  private app: TestApplication | undefined;
  private bootloader: SystemMemoryCode | undefined;
  private pendingPlug: { cancel(): void } | undefined;
  private lastBoot0: 0 | 1 = 0;
  private trouble: Cm7Trouble | undefined;
  private lastRomEntry: RomEntryProblem[] | undefined;
  /** The application's USB device: waiting to enumerate, or on the bus. */
  private appUsbPlug: { cancel(): void } | undefined;
  private appGadget: DfuRuntimeDevice | undefined;

  constructor(private readonly options: Stm32h745Options) {
    this.clock = options.clock;
    this.timers = new ChipTimers(options.clock);
    this.flash = options.flash;
    this.flash.onChange((change) => { if (change.kind === 'erase') this.onFlashErased(change); });
    const charge = options.boot0ChargePin;
    if (charge) {
      const port = this.gpio.port(charge.port);
      port.onChange(() => options.boot0.setDriven(this.powered && port.isDriving(charge.pin, 1)));
    }
    const executed = options.cm7?.kind === 'executed' ? options.cm7 : undefined;
    const rom = options.systemMemory ?? (executed ? { vector: executed.romEntry.vector, bootloaderId: DEFAULT_SYSTEM_MEMORY.bootloaderId } : DEFAULT_SYSTEM_MEMORY);
    const systemMemory = buildSystemMemory(rom.vector, rom.bootloaderId);

    this.rccPeripheral = new RccPeripheral(this.rcc);
    this.pwr = new PwrPeripheral(options.supplyWiring ?? DIRECT_SMPS_WIRING, (description) => this.onSupplyFault(description));
    this.usart3 = new Usart3Peripheral({
      uart: options.uart,
      rcc: this.rccPeripheral,
      now: () => this.now(),
      setIrq: (high) => this.executor?.setIrqLine(USART3_IRQ, high),
      wake: (at) => this.executor?.runner.wake(at),
    });
    this.rccPeripheral.connectReset('APB1L', USART3_RCC_BIT, this.usart3);
    const ports = this.gpio.all().map((port, index) => {
      const p = new GpioPortPeripheral(port, index, this.rccPeripheral);
      this.rccPeripheral.connectReset('AHB4', index, p);
      return p;
    });
    const busError = (address: number, reason: string): void => this.map.reportBusError(address, reason);
    this.flashInterface = new FlashInterfacePeripheral(options.optionBytes, busError);
    const peripherals: MmioPeripheral[] = [
      this.rccPeripheral, this.pwr, this.usart3, this.flashInterface, ...ports,
      new RegisterFilePeripheral('SYSCFG', 0x58000400, 0x400),
      new HsemPeripheral(),
      // DBGMCU_IDCODE: DEV_ID 0x450 (AN2606 Table 3: PID 0x450), REV_ID 0x2003 (revision V).
      new RegisterFilePeripheral('DBGMCU', 0x5c001000, 0x1000, { 0x00: 0x20036450 }, new Set([0x00])),
    ];
    const flashDevice: MemoryDevice = {
      name: 'user flash', base: options.flash.base, size: options.flash.size, access: 'rx',
      read: (address, length) => options.flash.read(address, length),
      write: (address) => { throw new RangeError(`flash at ${hex32(address)} is programmed through the flash interface`); },
    };
    const systemDevice: MemoryDevice = {
      name: 'system memory', base: SYSTEM_MEMORY.start, size: systemMemory.length, access: 'r',
      read: (address, length) => systemMemory.slice(address - SYSTEM_MEMORY.start, address - SYSTEM_MEMORY.start + length),
      write: (address) => { throw new RangeError(`system memory at ${hex32(address)} is read-only`); },
    };
    const ramDevices: MemoryDevice[] = this.sram.regions.map((r) => ({
      name: r.name, base: r.start, size: r.size, access: 'rwx',
      read: (address: number, length: number) => this.sram.read(address, length),
      write: (address: number, bytes: Uint8Array) => this.sram.write(address, bytes),
    }));
    this.map = new Stm32h745MemoryMap({ memories: [...ramDevices, flashDevice, systemDevice], peripherals });

    if (executed) {
      const view = options.flash.memoryView();
      const memories: CoreMemory[] = [
        ...this.sram.regions.map((r) => ({ name: r.name, base: r.start, bytes: this.sram.regionBytes(r.name), access: 'rwx' as const })),
        { name: 'user flash', base: options.flash.base, bytes: view, access: 'rx' },
        { name: 'system memory', base: SYSTEM_MEMORY.start, bytes: systemMemory, access: 'r' },
      ];
      this.executor = new Cm7Executor({
        core: executed.core, clock: options.clock, map: this.map, memories,
        coreHz: () => this.rccPeripheral.coreClockHz(),
        devices: [this.usart3],
        codeForWaits: () => [{ base: options.flash.base, bytes: view }],
        eccErrorWords: () => options.flash.eccErrorWords(),
        onEccRead: (address) => {
          const offset = address - options.flash.base;
          const bank = offset < BANK_SIZE ? 1 : 2;
          this.flashInterface.reportEccError(bank, Math.floor((offset % BANK_SIZE) / 32));
        },
        events: {
          systemReset: () => this.reset('software'),
          romEntry: (pc) => this.enterRomFromCore(pc, executed.romEntry),
          lockup: (state) => this.onLockup(state),
        },
      });
      options.flash.onChange(({ address, length }) => this.executor?.codeChanged(address, length));
    }
  }

  /** The time code on the chip sees: the executing core's own (finer) time, else the clock's. */
  now(): number {
    return this.executor ? this.executor.now() : this.clock.now();
  }

  /** Why the CM7 is not doing what a board normally would (refused ROM entry, lockup, supply), if it is not. */
  get cm7Trouble(): Cm7Trouble | undefined {
    const state = this.executor?.describeState();
    if (!this.trouble && state && this.cm7 === 'app') return { kind: 'fault', description: state };
    return this.trouble;
  }

  /** What the last entry into the ROM from executing code found wrong (empty when it was clean). */
  get romEntryProblems(): readonly RomEntryProblem[] | undefined {
    return this.lastRomEntry;
  }

  /** True while the chip has power. */
  get isPowered(): boolean {
    return this.powered;
  }

  /** What the CM7 runs. */
  get cm7State(): Cm7State {
    return this.cm7;
  }

  /** What the CM4 runs. */
  get cm4State(): Cm4State {
    return this.cm4;
  }

  /** BOOT0 as sampled at the last reset. */
  get boot0AtLastReset(): 0 | 1 {
    return this.lastBoot0;
  }

  /** The application instance running on the CM7, if any. */
  get application(): TestApplication | undefined {
    return this.app;
  }

  /** Applies power: a power-on reset. */
  powerOn(): void {
    if (this.powered) return;
    this.powered = true;
    this.reset('power-on');
  }

  /** Removes power: code stops, USB drops, SRAM and the BOOT0 capacitor drain. */
  powerOff(): void {
    if (!this.powered) return;
    this.stopEverything();
    this.powered = false;
    this.sram.clear();
    this.map.reset('power-on');
    this.options.boot0.powerOff();
    this.cm7 = 'off';
    this.cm4 = 'off';
    this.trouble = undefined;
  }

  /** A system reset of the given cause (NRST, SYSRESETREQ, watchdog; 'power-on' behaves like powerOn after a cycle). */
  reset(cause: ResetCause): void {
    if (!this.powered) return;
    this.stopEverything();
    this.rcc.recordReset(cause);
    this.map.reset(cause);
    if (this.trouble?.kind !== 'supply') this.trouble = undefined;
    this.lastBoot0 = this.options.boot0.levelAtReset();
    this.options.onReset?.(cause);
    this.boot(this.lastBoot0);
  }

  /**
   * The bootloader's leave: a jump, not a reset. RSR keeps its flags unless software cleared
   * them and GPIO keeps what the bootloader left; code that is not valid resets the chip
   * (AN3156 §5.5).
   */
  jumpTo(vectorTable: number): void {
    if (!this.powered) return;
    this.stopCode();
    // The bootloader disconnects before it jumps; make sure nothing of it stays on the bus.
    this.pendingPlug = undefined;
    this.options.usb.unplug();
    if (isSystemMemory(vectorTable)) {
      this.startBootloader();
      return;
    }
    if (!this.isValidCodeAt(vectorTable)) {
      this.reset('software');
      return;
    }
    if (this.executor) {
      this.cm7 = 'app';
      this.executor.jumpAndRun(vectorTable);
      this.connectAppUsb(vectorTable);
      return;
    }
    this.startApp(vectorTable);
  }

  /** Stops everything and releases the CPU engine of executed mode; the chip cannot run again. */
  dispose(): void {
    this.powerOff();
    this.executor?.dispose();
  }

  /** Bytes of host memory the chip's state takes. */
  memoryFootprintBytes(): number {
    return this.sram.memoryFootprintBytes() + this.options.flash.memoryFootprintBytes();
  }

  private boot(level: 0 | 1): void {
    const cfg = this.options.bootConfig();
    if (cfg.bcm4) {
      const address = ((level ? cfg.bootCm4Add1 : cfg.bootCm4Add0) << 16) >>> 0;
      this.cm4VectorTable = address;
      this.cm4 = this.isValidCodeAt(address) ? 'running' : 'lockup';
    } else {
      this.cm4VectorTable = undefined;
      this.cm4 = 'off';
    }
    // With both enables cleared the CM7 still boots (RM0399 §4.4.7 as we read it; confidence M).
    if (!cfg.bcm7 && cfg.bcm4) {
      this.cm7 = 'off';
      return;
    }
    let address = ((level ? cfg.bootCm7Add1 : cfg.bootCm7Add0) << 16) >>> 0;
    if (this.pwr.supplyFault) {
      // The supply setting holds until power-off: no code runs on this chip until then.
      this.cm7 = 'lockup';
      return;
    }
    if (isSystemMemory(address)) {
      // RDP level 2 disables boot from system memory (AN2606 §4.1, RM0399 §4.5.3).
      if (cfg.rdpLevel === 2) address = RDP2_FALLBACK_BOOT;
      else { this.startBootloader(); return; }
    }
    if (this.executor) {
      // The core fetches its reset vector whatever is there: a broken image faults, it is not refused.
      this.cm7 = 'app';
      this.executor.resetAndRun(address);
      this.connectAppUsb(address);
      return;
    }
    if (!this.isValidCodeAt(address)) {
      this.faultAtReset(address);
      return;
    }
    this.startApp(address);
  }

  /**
   * The model's account of what the core does with a vector table that is not valid code,
   * as executed mode shows it: the reset vector faults, and a HardFault vector that points into
   * the image's bank runs its handler (silently, for ever); anything else locks the core up.
   */
  private faultAtReset(vectorTable: number): void {
    const flash = this.options.flash;
    const vector = flash.contains(vectorTable + 12, 4) ? new DataView(flash.read(vectorTable + 12, 4).buffer).getUint32(0, true) : 0xffffffff;
    const bank = vectorTable - ((vectorTable - BANK1) % BANK_SIZE);
    const target = (vector & ~1) >>> 0;
    if ((vector & 1) === 1 && target >= bank && target < bank + BANK_SIZE && vector !== 0xffffffff) {
      this.cm7 = 'app';
      this.trouble = { kind: 'fault', description: `the Cortex-M7 is in its fault handler (exception 3, ${hex32(target)}): the reset vector at ${hex32(vectorTable + 4)} is not valid code` };
      return;
    }
    this.cm7 = 'lockup';
  }

  /**
   * The executing core reached system memory (a jump to 0x1FF09800, or elsewhere in it). The
   * simulated ROM takes over only if the state it inherits lets the real ROM enumerate; else the
   * board shows what a bench would: the core is gone into the ROM and no DFU device appears.
   */
  private enterRomFromCore(pc: number, rom: RomEntryBehaviour): void {
    const executor = this.executor!;
    const rcc = this.rccPeripheral;
    const clocksOn = RCC_BUSES.filter((bus) => rcc.enableRegister(bus) !== ENABLE_REGISTERS_AT_RESET)
      .map((bus) => ({ register: `RCC_C1_${bus}ENR`, value: rcc.enableRegister(bus) }));
    const problems = checkRomHandOver({
      pc, msp: executor.register('msp'), primask: (executor.register('primask') & 1) !== 0,
      pendingIrqs: executor.enabledPendingIrqs(), sysTickInterrupting: executor.systick.interrupting,
      clocksOn, pllOn: rcc.anyPllOn(), systemClockSource: rcc.systemClockSource(),
      cachesOn: executor.scb.cachesEnabled.dcache || executor.scb.cachesEnabled.icache,
    }, rom);
    this.lastRomEntry = problems;
    const blocking = blockingProblems(problems);
    if (blocking.length === 0) {
      this.startBootloader();
      return;
    }
    this.cm7 = 'bootloader';
    this.disconnectAppUsb();
    this.trouble = {
      kind: 'rom-refused',
      description: `the application jumped into the ROM bootloader at ${hex32(pc)} without a clean hand-over, so the ROM does not enumerate: ${blocking.map((p) => p.description).join('; ')}`,
    };
  }

  private onLockup(state: LockupState): void {
    this.cm7 = 'lockup';
    this.trouble = { kind: 'lockup', description: `the Cortex-M7 locked up: ${state.reason}` };
  }

  private onSupplyFault(description: string): void {
    // "Target is not responding" until power is removed (docs/stm32h7-facts.md §6).
    this.trouble = { kind: 'supply', description: `${description}; the board is unreachable until it is powered with BOOT0 high and mass-erased` };
    this.options.uart.resetTransmitter(this.now());
    this.stopCode();
    this.cm7 = 'lockup';
  }

  private isValidCodeAt(address: number): boolean {
    const flash = this.options.flash;
    if (!flash.contains(address, 8)) return false;
    return imageVectorProblem(flash.read(address, 8), address) === undefined;
  }

  private startApp(vectorTable: number): void {
    const app = new TestApplication(this.appHost(), vectorTable, this.options.app);
    this.app = app;
    this.cm7 = 'app';
    // start() returns false after the early jump, which has already started the bootloader.
    if (!app.start()) {
      if (this.app === app) this.app = undefined;
      return;
    }
    this.connectAppUsb(vectorTable);
  }

  /**
   * The application brings up its own USB device, if the board's application has one: it
   * enumerates after the connect delay, provided the core still runs the application by then
   * (not the ROM, not a fault handler).
   */
  private connectAppUsb(vectorTable: number): void {
    const appUsb = this.options.appUsb;
    if (!appUsb) return;
    this.disconnectAppUsb();
    const identity = this.options.flash.contains(vectorTable + VERSION_BLOCK_OFFSET, VERSION_BLOCK_SIZE)
      ? announcedIdentity(this.options.flash.read(vectorTable + VERSION_BLOCK_OFFSET, VERSION_BLOCK_SIZE), 0) : UNKNOWN_IMAGE_IDENTITY;
    const product = appUsb.settings.product
      ?? (identity.name === UNKNOWN_IMAGE_IDENTITY.name ? 'application' : `${identity.name} ${identity.version}`);
    this.appUsbPlug = this.timers.after(appUsb.settings.connectDelayMs ?? DEFAULT_APP_CONNECT_DELAY_MS, () => {
      this.appUsbPlug = undefined;
      if (!this.runsApplication()) return;
      const gadget: DfuRuntimeDevice = new DfuRuntimeDevice({ ...appUsb.settings, serialNumber: appUsb.settings.serialNumber ?? appUsb.serialNumber, product }, appUsb.faults, {
        now: () => this.now(),
        after: (ms, fn) => this.timers.after(ms, fn),
        running: (): boolean => this.appGadget === gadget && this.runsApplication(),
        disconnect: () => this.disconnectAppUsb(),
        // What ST's and TinyUSB's DETACH callbacks do on an STM32: the magic word, then a system
        // reset; Reset_Handler takes the early jump (the contract of harness/sim/app/dfu-magic.ts).
        rebootToBootloader: () => {
          this.sram.writeU64(DFU_MAGIC_ADDRESS, DFU_MAGIC);
          this.reset('software');
        },
      });
      this.appGadget = gadget;
      this.options.usb.plug(gadget);
    });
  }

  /** The application's USB device leaves the bus (or never gets on it). */
  private disconnectAppUsb(): void {
    this.appUsbPlug?.cancel();
    this.appUsbPlug = undefined;
    const gadget = this.appGadget;
    this.appGadget = undefined;
    if (gadget && this.options.usb.current() === gadget) this.options.usb.unplug();
  }

  /** True while the CM7 runs the application cleanly (not the ROM, not a fault handler, not locked up). */
  private runsApplication(): boolean {
    return this.powered && this.cm7 === 'app' && this.cm7Trouble === undefined;
  }

  private startBootloader(): void {
    this.app?.stop();
    this.app = undefined;
    this.disconnectAppUsb();
    this.cm7 = 'bootloader';
    const bootloader = this.options.createBootloader(this.bootloaderHost());
    this.bootloader = bootloader;
    bootloader.start();
  }

  /** Stops whatever the CM7 runs, without touching peripherals. */
  private stopCode(): void {
    this.executor?.halt();
    this.app?.stop();
    this.app = undefined;
    this.disconnectAppUsb();
    const bl = this.bootloader;
    this.bootloader = undefined;
    bl?.stop();
    this.timers.cancelAll();
  }

  /** A reset or power-off: code stops, the USB device falls off the bus, the USART loses its queue. */
  private stopEverything(): void {
    // The moment of the reset on the core's own clock, taken before the core stops.
    const at = this.now();
    this.stopCode();
    this.pendingPlug?.cancel();
    this.pendingPlug = undefined;
    this.options.usb.unplug();
    this.options.uart.resetTransmitter(at);
  }

  private onFlashErased(erased: FlashChange): void {
    // Inferred (confidence L): erasing anything in the bank the CM4 executes from pulls the code
    // from under it; the core faults and locks up until the next reset.
    if (this.cm4 !== 'running' || this.cm4VectorTable === undefined) return;
    const table = this.cm4VectorTable;
    if (table < BANK1 || table >= BANK1 + 2 * BANK_SIZE) return;
    const bankStart = table < BANK1 + BANK_SIZE ? BANK1 : BANK1 + BANK_SIZE;
    if (erased.address < bankStart + BANK_SIZE && erased.address + erased.length > bankStart) this.cm4 = 'lockup';
  }

  private appHost(): TestAppHost {
    return {
      clock: this.clock,
      gpio: this.gpio,
      rcc: this.rcc,
      bus: this.map,
      ram: this.sram,
      uart: this.options.uart,
      readFlash: (address, length) => this.options.flash.read(address, length),
      eccErrorCount: (address, length) => this.options.flash.eccErrorWords(address, length).length,
      after: (ms, fn) => { this.timers.after(ms, fn); },
      softwareReset: () => this.reset('software'),
      jumpToBootloader: () => this.startBootloader(),
    };
  }

  private bootloaderHost(): BootloaderHost {
    const usb = this.options.usb;
    const portA = this.gpio.port('A');
    return {
      clock: this.clock,
      flash: this.flash,
      optionBytes: this.options.optionBytes,
      attachUsb: (gadget: UsbGadget) => {
        this.pendingPlug?.cancel();
        this.pendingPlug = this.timers.after(this.options.reEnumerationDelayMs(), () => {
          this.pendingPlug = undefined;
          usb.plug(gadget);
        });
      },
      detachUsb: () => {
        this.pendingPlug?.cancel();
        this.pendingPlug = undefined;
        usb.unplug();
      },
      // AN2606 Table 135: PA11 (DM) and PA12 (DP) in alternate push-pull, no pull; AF10 is OTG_FS.
      claimUsbPins: () => {
        portA.setAlternate(11, 10);
        portA.setAlternate(12, 10);
      },
      restorePeripherals: (complete: boolean) => {
        if (!complete) return;
        portA.restorePin(11);
        portA.restorePin(12);
      },
      jumpTo: (vectorTable: number) => this.jumpTo(vectorTable),
      systemReset: (cause: ResetCause) => this.reset(cause),
      powerOff: () => this.powerOff(),
    };
  }
}
