// The STM32H745 as a state machine: power, resets, boot selection for both cores, the jump
// paths between the application and the ROM bootloader, and the BootloaderHost seam.
import type { Clock } from '../../clock/clock.js';
import type { UsbGadget, UsbSocket } from '../../usb/gadget.js';
import type { BankNumber, BootloaderHost, FlashMemory, OptionBytesStore, ResetCause } from '../contracts.js';
import { isValidCode } from '../app/image-identity.js';
import { TestApplication, type Cm4State, type TestAppHost, type TestAppSettings } from '../app/test-application.js';
import type { Boot0Source } from '../boot0/boot0-source.js';
import { GpioBank, type PinName } from '../gpio/gpio-bank.js';
import { Rcc } from '../rcc/rcc.js';
import type { ConsoleUart } from '../uart/console-uart.js';
import { isSystemMemory, type BootConfig } from './boot-config.js';
import { ChipTimers } from './chip-timers.js';
import { Sram } from './sram.js';

/** The code the ROM holds, as the chip starts and stops it (a SystemBootloader). */
export interface SystemMemoryCode {
  start(): void;
  stop(): void;
}

/** User flash as the chip sees it, with the ECC scan the application model needs. */
export type ChipFlash = FlashMemory & {
  /** Start addresses of flash words with an ECC error. */
  eccErrorWords?(address: number, length: number): number[];
  memoryFootprintBytes?(): number;
};

/** What the Cortex-M7 is doing. */
export type Cm7State = 'off' | 'app' | 'bootloader' | 'lockup';

/** Options for {@link Stm32h745}. */
export interface Stm32h745Options {
  clock: Clock;
  flash: ChipFlash;
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
}

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
  readonly rcc = new Rcc();
  readonly sram = new Sram();
  readonly clock: Clock;
  /** The flash as code on the chip sees it: erases are watched for the CM4's sake. */
  readonly flash: ChipFlash;
  private readonly timers: ChipTimers;
  private powered = false;
  private cm7: Cm7State = 'off';
  private cm4: Cm4State = 'off';
  private cm4VectorTable: number | undefined;
  private app: TestApplication | undefined;
  private bootloader: SystemMemoryCode | undefined;
  private pendingPlug: { cancel(): void } | undefined;
  private lastBoot0: 0 | 1 = 0;

  constructor(private readonly options: Stm32h745Options) {
    this.clock = options.clock;
    this.timers = new ChipTimers(options.clock);
    this.flash = watchErases(options.flash, (banks) => this.onFlashErased(banks));
    const charge = options.boot0ChargePin;
    if (charge) {
      const port = this.gpio.port(charge.port);
      port.onChange(() => options.boot0.setDriven(this.powered && port.isDriving(charge.pin, 1)));
    }
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
    this.gpio.reset();
    this.options.boot0.powerOff();
    this.cm7 = 'off';
    this.cm4 = 'off';
  }

  /** A system reset of the given cause (NRST, SYSRESETREQ, watchdog; 'power-on' behaves like powerOn after a cycle). */
  reset(cause: ResetCause): void {
    if (!this.powered) return;
    this.stopEverything();
    this.rcc.recordReset(cause);
    this.gpio.reset();
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
    this.startApp(vectorTable);
  }

  /** Bytes of host memory the chip's state takes. */
  memoryFootprintBytes(): number {
    return this.sram.memoryFootprintBytes() + (this.options.flash.memoryFootprintBytes?.() ?? 0);
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
    if (isSystemMemory(address)) {
      // RDP level 2 disables boot from system memory (AN2606 §4.1, RM0399 §4.5.3).
      if (cfg.rdpLevel === 2) address = RDP2_FALLBACK_BOOT;
      else { this.startBootloader(); return; }
    }
    if (!this.isValidCodeAt(address)) {
      this.cm7 = 'lockup';
      return;
    }
    this.startApp(address);
  }

  private isValidCodeAt(address: number): boolean {
    const flash = this.options.flash;
    if (!flash.contains(address, 8)) return false;
    return isValidCode(address, flash.read(address, 8));
  }

  private startApp(vectorTable: number): void {
    const app = new TestApplication(this.appHost(), vectorTable, this.options.app);
    this.app = app;
    this.cm7 = 'app';
    // start() returns false after the early jump, which has already started the bootloader.
    if (!app.start() && this.app === app) this.app = undefined;
  }

  private startBootloader(): void {
    this.app?.stop();
    this.app = undefined;
    this.cm7 = 'bootloader';
    const bootloader = this.options.createBootloader(this.bootloaderHost());
    this.bootloader = bootloader;
    bootloader.start();
  }

  /** Stops whatever the CM7 runs, without touching peripherals. */
  private stopCode(): void {
    this.app?.stop();
    this.app = undefined;
    const bl = this.bootloader;
    this.bootloader = undefined;
    bl?.stop();
    this.timers.cancelAll();
  }

  /** A reset or power-off: code stops, the USB device falls off the bus, the USART loses its queue. */
  private stopEverything(): void {
    this.stopCode();
    this.pendingPlug?.cancel();
    this.pendingPlug = undefined;
    this.options.usb.unplug();
    this.options.uart.resetTransmitter();
  }

  private onFlashErased(banks: BankNumber[]): void {
    // Inferred (confidence L): erasing the bank the CM4 executes from pulls the code from
    // under it; the core faults and locks up until the next reset.
    if (this.cm4 !== 'running' || this.cm4VectorTable === undefined) return;
    const bank = this.cm4VectorTable >= BANK1 && this.cm4VectorTable < BANK1 + 2 * BANK_SIZE
      ? (this.cm4VectorTable < BANK1 + BANK_SIZE ? 1 : 2) : undefined;
    if (bank !== undefined && banks.includes(bank)) this.cm4 = 'lockup';
  }

  private appHost(): TestAppHost {
    return {
      clock: this.clock,
      gpio: this.gpio,
      rcc: this.rcc,
      ram: this.sram,
      uart: this.options.uart,
      readFlash: (address, length) => this.options.flash.read(address, length),
      eccErrorCount: (address, length) => this.options.flash.eccErrorWords?.(address, length).length ?? 0,
      cm4State: () => this.cm4,
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

/**
 * Wraps the flash so that erases are reported with the banks they hit; everything else
 * (power-loss variants included) passes through unchanged.
 */
function watchErases<T extends object>(flash: T, erased: (banks: BankNumber[]) => void): T {
  return new Proxy(flash, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const method = value as (...args: unknown[]) => unknown;
      if (typeof property !== 'string' || !/^(erase|massErase)/.test(property)) return method.bind(target);
      return (...args: unknown[]) => {
        const result = method.apply(target, args);
        const bank = args[0];
        erased(bank === 1 || bank === 2 ? [bank] : [1, 2]);
        return result;
      };
    },
  });
}
