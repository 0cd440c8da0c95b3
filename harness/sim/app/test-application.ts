// The test application's behaviour (docs/console-protocol.md), as the simulated CM7 runs it.
import type { Clock } from '../../clock/clock.js';
import type { GpioBank, GpioSnapshot, PinName } from '../gpio/gpio-bank.js';
import { parsePinName } from '../gpio/gpio-bank.js';
import { PORT_NAMES, type GpioRegisters } from '../gpio/gpio-port.js';
import { RCC_BASE, RCC_C1_RSR_ADDRESS, type Rcc } from '../rcc/rcc.js';
import { RsrBit, resetCauseFromRsr } from '../rcc/reset-flags.js';
import type { Sram } from '../mcu/sram.js';
import type { ConsoleUart } from '../uart/console-uart.js';
import { DFU_MAGIC, DFU_MAGIC_ADDRESS } from './dfu-magic.js';
import { parseVersionBlock, VERSION_BLOCK_LENGTH, VERSION_BLOCK_OFFSET, type ImageIdentity } from './image-identity.js';

/** What the second core is doing, as `boot` reports it. */
export type Cm4State = 'running' | 'lockup' | 'off';

/** Word access to the chip's registers, as the firmware's REG32() has it. */
export interface RegisterBus {
  read32(address: number): number;
  write32(address: number, value: number): void;
}

/** What the chip gives the application: its peripherals and the ways out of it. */
export interface TestAppHost {
  readonly clock: Clock;
  readonly gpio: GpioBank;
  readonly rcc: Rcc;
  /** The memory map, for the register writes the firmware makes (clock enables, supply, de-init). */
  readonly bus: RegisterBus;
  readonly ram: Sram;
  readonly uart: ConsoleUart;
  readFlash(address: number, length: number): Uint8Array;
  /** Flash words with an ECC error in [address, address+length). */
  eccErrorCount(address: number, length: number): number;
  cm4State(): Cm4State;
  /** A timer that a reset of the chip cancels. */
  after(ms: number, fn: () => void): void;
  /** SCB AIRCR.SYSRESETREQ. */
  softwareReset(): void;
  /** Branches to the ROM bootloader (0x1FF09800) without a reset. */
  jumpToBootloader(): void;
}

/** Settings of {@link TestApplication}. */
export interface TestAppSettings {
  /** From Reset_Handler to the READY line (clock, SMPS, USART setup); default 10 ms (assumed). */
  bootDelayMs?: number;
  /** How long `dfu rc` drives the charge pin; default 10 ms (many charge time constants at the defaults). */
  rcChargeMs?: number;
  /** The pin that charges the BOOT0 capacitor; default PG2 (see the board's documentation). */
  rcChargePin?: PinName;
}

/** How the application was entered. */
export type AppEntry = 'reset' | 'jump';

const BANK_SIZE = 0x100000;
// The registers the firmware writes around the behaviour modelled here (firmware-images/src/cm7/regs.h).
const RCC_C1_AHB4ENR = RCC_BASE + 0x140;
const RCC_C1_APB1LENR = RCC_BASE + 0x148;
const GPIO_CLOCKS_ALL = 0x7ff;
const USART3_CLOCK = 1 << 18;
const PWR_CR3 = 0x5802480c;
const SUPPLY_BITS = 0x3f;
const SMPSEN = 1 << 2;
const hex = (v: number): string => `0x${(v >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;

/** The `<regs>` part of `GPIO`/`PRE` lines. */
export function formatGpioRegisters(r: GpioRegisters): string {
  return `MODER=${hex(r.MODER)} OTYPER=${hex(r.OTYPER)} OSPEEDR=${hex(r.OSPEEDR)} PUPDR=${hex(r.PUPDR)} ODR=${hex(r.ODR)} AFRL=${hex(r.AFRL)} AFRH=${hex(r.AFRH)}`;
}

/**
 * One run of the test application, from Reset_Handler until the next reset or jump. It
 * captures GPIO and RCC_RSR first, clears RSR, takes the early jump to the bootloader when
 * `dfu jump` asked for it, brings up USART3, announces itself and serves commands.
 */
export class TestApplication {
  readonly identity: ImageIdentity;
  private alive = true;
  private preGpio: GpioSnapshot | undefined;
  private rsrAtStart = 0;
  private ecc = 0;
  private ready = false;
  private line = '';
  private work: Promise<void> = Promise.resolve();
  private unlisten: (() => void) | undefined;
  private readonly bootDelayMs: number;
  private readonly rcChargeMs: number;
  private readonly rcChargePin: PinName;

  constructor(private readonly host: TestAppHost, readonly vectorTable: number, settings: TestAppSettings = {}) {
    this.identity = parseVersionBlock(host.readFlash(vectorTable + VERSION_BLOCK_OFFSET, VERSION_BLOCK_LENGTH));
    this.bootDelayMs = settings.bootDelayMs ?? 10;
    this.rcChargeMs = settings.rcChargeMs ?? 10;
    this.rcChargePin = settings.rcChargePin ?? { port: 'G', pin: 2 };
  }

  /** True once READY has gone out and commands are served. */
  get isReady(): boolean {
    return this.ready;
  }

  /** Runs Reset_Handler. Returns false when the early jump handed the chip to the bootloader. */
  start(): boolean {
    const h = this.host;
    // First instruction of Reset_Handler: nothing has touched the peripherals yet.
    this.preGpio = h.gpio.snapshot();
    this.rsrAtStart = h.rcc.read32(RCC_C1_RSR_ADDRESS);
    h.rcc.write32(RCC_C1_RSR_ADDRESS, RsrBit.RMVF);
    if (h.ram.readU64(DFU_MAGIC_ADDRESS) === DFU_MAGIC && (this.rsrAtStart & RsrBit.SFT1RSTF) !== 0) {
      h.ram.writeU64(DFU_MAGIC_ADDRESS, 0n);
      this.alive = false;
      h.jumpToBootloader();
      return false;
    }
    // As the firmware's Reset_Handler: the GPIO clocks go on (ports read 0 while unclocked).
    h.bus.write32(RCC_C1_AHB4ENR, h.bus.read32(RCC_C1_AHB4ENR) | GPIO_CLOCKS_ALL);
    const bank = this.vectorTable - ((this.vectorTable - 0x08000000) % BANK_SIZE);
    this.ecc = h.eccErrorCount(bank, BANK_SIZE);
    // power_init: direct SMPS, written only when the supply bits differ (they hold after a software reset).
    const cr3 = h.bus.read32(PWR_CR3);
    const wanted = ((cr3 & ~SUPPLY_BITS) | SMPSEN) >>> 0;
    if (cr3 !== wanted) h.bus.write32(PWR_CR3, wanted);
    // console_init: USART3's clock, then PD8 (TX) / PD9 (RX) in AF7.
    h.bus.write32(RCC_C1_APB1LENR, h.bus.read32(RCC_C1_APB1LENR) | USART3_CLOCK);
    const portD = h.gpio.port('D');
    portD.setAlternate(8, 7);
    portD.setAlternate(9, 7);
    this.unlisten = h.uart.onReceive((bytes) => this.receive(bytes));
    h.after(this.bootDelayMs, () => {
      if (!this.alive) return;
      this.println(`READY ${this.identity.name} ${this.identity.version}`);
      this.ready = true;
    });
    return true;
  }

  /** The core stops running this application (reset, power-off, jump). */
  stop(): void {
    this.alive = false;
    this.ready = false;
    this.unlisten?.();
    this.unlisten = undefined;
  }

  private receive(bytes: Uint8Array): void {
    if (!this.alive) return;
    for (const b of bytes) {
      if (b === 0x0a) {
        const command = this.line.replace(/\r$/, '');
        this.line = '';
        // Lines that arrive before READY fall on an unconfigured receiver and are lost.
        if (!this.ready) continue;
        this.work = this.work.then(() => (this.alive ? this.execute(command) : undefined));
      } else if (this.line.length < 256) {
        this.line += String.fromCharCode(b);
      }
    }
  }

  private println(text: string): number {
    return this.host.uart.transmit(`${text}\r\n`);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => this.host.after(ms, resolve));
  }

  /** Waits until the last byte queued on the console has left, as firmware does before a reset. */
  private async flushConsole(): Promise<void> {
    await this.host.uart.transmitted();
  }

  private async execute(command: string): Promise<void> {
    const words = command.trim().split(/\s+/).filter((w) => w.length > 0);
    const [verb, ...args] = words;
    if (verb === undefined) return;
    const h = this.host;
    switch (verb) {
      case 'version':
        this.println(`VERSION ${this.identity.name} ${this.identity.version}`);
        this.println('OK');
        return;
      case 'boot': {
        const cause = resetCauseFromRsr(this.rsrAtStart);
        const entry: AppEntry = this.rsrAtStart === 0 ? 'jump' : 'reset';
        this.println(`BOOT cause=${cause} entry=${entry} rsr=${hex(this.rsrAtStart)} cm4=${h.cm4State()} ecc=${this.ecc}`);
        for (const p of PORT_NAMES) this.println(`PRE ${p} ${formatGpioRegisters(this.preGpio![p])}`);
        this.println('OK');
        return;
      }
      case 'gpio': {
        const now = h.gpio.snapshot();
        for (const p of PORT_NAMES) this.println(`GPIO ${p} ${formatGpioRegisters(now[p])}`);
        this.println('OK');
        return;
      }
      case 'pin': {
        const pin = args[0] === undefined ? undefined : parsePinName(args[0]);
        const level = args[1];
        if (!pin || (level !== '0' && level !== '1') || args.length !== 2) {
          this.println('ERR usage: pin <Pxn> <0|1>');
          return;
        }
        h.gpio.port(pin.port).driveOutput(pin.pin, level === '1' ? 1 : 0);
        this.println('OK');
        return;
      }
      case 'reset':
        if (args.length > 0) { this.println('ERR usage: reset'); return; }
        this.println('OK');
        await this.flushConsole();
        if (this.alive) h.softwareReset();
        return;
      case 'dfu':
        await this.dfu(args);
        return;
      default:
        this.println(`ERR unknown command ${verb}`);
    }
  }

  private async dfu(args: string[]): Promise<void> {
    const h = this.host;
    const [how, ...rest] = args;
    if (how === 'jump' && rest.length === 0) {
      h.ram.writeU64(DFU_MAGIC_ADDRESS, DFU_MAGIC);
      this.println('OK');
      await this.flushConsole();
      if (this.alive) h.softwareReset();
      return;
    }
    if (how === 'direct' && rest.length === 0) {
      this.println('OK');
      await this.flushConsole();
      if (!this.alive) return;
      // AN2606 §4.1 sequence (clocks off, IRQs cleared, MSP from 0x1FF09800): modelled as a
      // jump that leaves the GPIO configuration as the application set it.
      this.stop();
      h.jumpToBootloader();
      return;
    }
    if (how === 'rc' && rest.length <= 1) {
      const delay = rest[0] === undefined ? 0 : Number(rest[0]);
      if (!Number.isInteger(delay) || delay < 0 || !/^\d*$/.test(rest[0] ?? '')) {
        this.println('ERR usage: dfu rc [delay_ms]');
        return;
      }
      this.println('OK');
      await this.flushConsole();
      if (!this.alive) return;
      const port = h.gpio.port(this.rcChargePin.port);
      port.driveOutput(this.rcChargePin.pin, 1);
      await this.sleep(this.rcChargeMs);
      // Released: the pin goes back to its reset state and stops driving the capacitor.
      port.restorePin(this.rcChargePin.pin);
      if (delay > 0) await this.sleep(delay);
      if (this.alive) h.softwareReset();
      return;
    }
    this.println('ERR usage: dfu jump|direct|rc [delay_ms]');
  }
}
