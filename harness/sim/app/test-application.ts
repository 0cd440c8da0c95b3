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
import { imageVectorProblem } from '../../image/vector-table.js';
import { announcedIdentity, VERSION_BLOCK_OFFSET, VERSION_BLOCK_SIZE, type ImageIdentity } from '../../image/version-block.js';

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
  /** A timer that a reset of the chip cancels. */
  after(ms: number, fn: () => void): void;
  /** SCB AIRCR.SYSRESETREQ. */
  softwareReset(): void;
  /** Branches to the ROM bootloader (0x1FF09800) without a reset. */
  jumpToBootloader(): void;
}

/** Settings of {@link TestApplication}. */
export interface TestAppSettings {
  /**
   * From Reset_Handler to the READY line's first bit: default 0, as the firmware takes about
   * 0.2 ms (measured in executed mode) and the virtual clock counts whole milliseconds.
   */
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
const USART3_CR1 = 0x40004800;
const RCC_CFGR = RCC_BASE + 0x10;
const RCC_APB1LRSTR = RCC_BASE + 0x90;
const SYST_CSR = 0xe000e010;
const FLASH_OPTSR_CUR = 0x5200201c;
const FLASH_BOOT4_CUR = 0x52002048;
const OPTSR_BCM4 = 1 << 22;
/** The firmware's line buffer (console.c LINE_MAX): characters past it are dropped. */
const LINE_MAX = 256;
/** Largest `dfu rc` delay the firmware parses (a uint32_t). */
const MAX_DELAY_MS = 0xffffffff;
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
  /**
   * The firmware polls its receiver only between commands; while it sends a reply, USART3's one
   * data register keeps the first byte that arrives and the rest overrun. Until when it is busy
   * (ms), and the byte held meanwhile.
   */
  private busyUntil = 0;
  private held: number | undefined;
  private heldTimer = false;
  private readonly bootDelayMs: number;
  private readonly rcChargeMs: number;
  private readonly rcChargePin: PinName;

  constructor(private readonly host: TestAppHost, readonly vectorTable: number, settings: TestAppSettings = {}) {
    this.identity = announcedIdentity(host.readFlash(vectorTable + VERSION_BLOCK_OFFSET, VERSION_BLOCK_SIZE), 0);
    this.bootDelayMs = settings.bootDelayMs ?? 0;
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
    const jump = (this.rsrAtStart & RsrBit.SFT1RSTF) !== 0 && h.ram.readU64(DFU_MAGIC_ADDRESS) === DFU_MAGIC;
    // Written on every path, as the firmware does: the word is cleared whether or not it is acted on.
    h.ram.writeU64(DFU_MAGIC_ADDRESS, 0n);
    if (jump) {
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
    // The receiver is on from here: what arrived before fell on an unconfigured USART.
    this.busyUntil = h.clock.now();
    this.unlisten = h.uart.onReceive((bytes, arrivals) => this.receive(bytes, arrivals));
    h.after(this.bootDelayMs, () => {
      if (!this.alive) return;
      const end = this.println(`READY ${this.identity.name} ${this.identity.version}`);
      this.busyUntil = Math.max(h.clock.now(), end - 2 * h.uart.byteTimeMs);
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

  private receive(bytes: Uint8Array, arrivals: readonly number[]): void {
    for (let i = 0; i < bytes.length && this.alive; i++) {
      const at = arrivals[i] ?? this.host.clock.now();
      if (at < this.busyUntil) {
        // Busy with a reply: the first byte waits in RDR, later ones are lost (ORE).
        if (this.held === undefined) this.held = bytes[i]!;
        continue;
      }
      this.takeHeld();
      if (this.alive) this.take(bytes[i]!, at);
    }
    this.scheduleHeld();
  }

  /** The firmware is back polling and finds the byte RDR kept. */
  private takeHeld(): void {
    if (this.held === undefined) return;
    const byte = this.held;
    this.held = undefined;
    this.take(byte, this.busyUntil);
  }

  private scheduleHeld(): void {
    if (this.held === undefined || this.heldTimer || !Number.isFinite(this.busyUntil)) return;
    this.heldTimer = true;
    this.host.after(Math.max(0, Math.ceil(this.busyUntil - this.host.clock.now())), () => {
      this.heldTimer = false;
      if (this.alive) this.takeHeld();
      this.scheduleHeld();
    });
  }

  /** One received character, as console.c's loop takes it: a line ends at \n, characters past 256 are dropped. */
  private take(byte: number, at: number): void {
    if (byte === 0x0a) {
      const command = this.line;
      this.line = '';
      this.execute(command, at);
    } else if (this.line.length < LINE_MAX) {
      this.line += String.fromCharCode(byte);
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

  /**
   * Runs one command line. Replies go out at once; the firmware is then busy until the last
   * reply byte is in its transmit data register (two byte times before the line is idle). Commands
   * that reset or jump keep it busy for good.
   */
  private execute(command: string, at: number): void {
    const h = this.host;
    let end = at;
    const println = (text: string): void => { end = this.println(text); };
    const later = this.respond(command, println);
    if (later) {
      this.busyUntil = Infinity;
      this.work = this.work.then(() => (this.alive ? later() : undefined));
      return;
    }
    this.busyUntil = Math.max(at, end - 2 * h.uart.byteTimeMs);
  }

  /** Answers `command` through `println`; returns the rest for commands that then wait, reset or jump. */
  private respond(command: string, println: (text: string) => void): (() => Promise<void>) | undefined {
    // A NUL ends the line's text, as in the firmware's C string; words are split on space, tab and CR only.
    const text = command.split('\0')[0]!;
    const words = text.split(/[ \t\r]+/).filter((w) => w.length > 0);
    const [verb, ...args] = words;
    if (verb === undefined) return undefined;
    const h = this.host;
    switch (verb) {
      case 'version':
        println(`VERSION ${this.identity.name} ${this.identity.version}`);
        println('OK');
        return undefined;
      case 'boot': {
        const cause = resetCauseFromRsr(this.rsrAtStart);
        const entry: AppEntry = this.rsrAtStart === 0 ? 'jump' : 'reset';
        println(`BOOT cause=${cause} entry=${entry} rsr=${hex(this.rsrAtStart)} cm4=${this.cm4State()} ecc=${this.ecc}`);
        for (const p of PORT_NAMES) println(`PRE ${p} ${formatGpioRegisters(this.preGpio![p])}`);
        println('OK');
        return undefined;
      }
      case 'gpio': {
        const now = h.gpio.snapshot();
        for (const p of PORT_NAMES) println(`GPIO ${p} ${formatGpioRegisters(now[p])}`);
        println('OK');
        return undefined;
      }
      case 'pin': {
        const pin = args[0] === undefined ? undefined : parsePinName(args[0]);
        const level = args[1];
        if (!pin || (level !== '0' && level !== '1') || args.length !== 2) {
          println('ERR usage: pin <Pxn> <0|1>');
          return undefined;
        }
        h.gpio.port(pin.port).driveOutput(pin.pin, level === '1' ? 1 : 0);
        println('OK');
        return undefined;
      }
      case 'reset':
        if (args.length > 0) { println('ERR usage: reset'); return undefined; }
        println('OK');
        return async () => {
          await this.flushConsole();
          if (this.alive) h.softwareReset();
        };
      case 'dfu':
        return this.dfu(args, println);
      default:
        println(`ERR unknown command ${verb}`);
        return undefined;
    }
  }

  /**
   * What the firmware's cm4_state() infers, which is all it can know: off when BCM4 is clear,
   * else whether the vector table at BOOT_CM4_ADD0 is valid code. It cannot see a CM4 that
   * faulted since (inferred, not observed; firmware-images/README.md "Dual core").
   */
  private cm4State(): Cm4State {
    const bus = this.host.bus;
    if ((bus.read32(FLASH_OPTSR_CUR) & OPTSR_BCM4) === 0) return 'off';
    const table = ((bus.read32(FLASH_BOOT4_CUR) & 0xffff) << 16) >>> 0;
    if (table < 0x08000000 || table + 8 > 0x08200000) return 'lockup';
    return imageVectorProblem(this.host.readFlash(table, 8), table) === undefined ? 'running' : 'lockup';
  }

  private dfu(args: string[], println: (text: string) => void): (() => Promise<void>) | undefined {
    const h = this.host;
    const [how, ...rest] = args;
    if (how === 'jump' && rest.length === 0) {
      h.ram.writeU64(DFU_MAGIC_ADDRESS, DFU_MAGIC);
      println('OK');
      return async () => {
        await this.flushConsole();
        if (this.alive) h.softwareReset();
      };
    }
    if (how === 'direct' && rest.length === 0) {
      println('OK');
      return async () => {
        await this.flushConsole();
        if (!this.alive) return;
        this.deinitForDirectJump();
        this.stop();
        h.jumpToBootloader();
      };
    }
    if (how === 'rc' && rest.length <= 1) {
      const text = rest[0];
      // The firmware's parse_u32: decimal digits only, at most 0xFFFFFFFF.
      const delay = text === undefined ? 0 : /^\d+$/.test(text) ? Number(text) : NaN;
      if (!Number.isInteger(delay) || delay > MAX_DELAY_MS) {
        println('ERR usage: dfu rc [delay_ms]');
        return undefined;
      }
      println('OK');
      return async () => {
        await this.flushConsole();
        if (!this.alive) return;
        const port = h.gpio.port(this.rcChargePin.port);
        port.driveOutput(this.rcChargePin.pin, 1);
        await this.sleep(this.rcChargeMs);
        // Released: the pin goes back to its reset state and stops driving the capacitor.
        port.restorePin(this.rcChargePin.pin);
        if (delay > 0) await this.sleep(delay);
        if (this.alive) h.softwareReset();
      };
    }
    println('ERR usage: dfu jump|direct|rc [delay_ms]');
    return undefined;
  }

  /**
   * The firmware's dfu_enter_direct (AN2606 §4.1): SysTick stopped, USART3 reset and unclocked,
   * the GPIO clocks off, SYSCLK on the HSI. The pins keep their configuration. (Interrupts and the
   * NVIC, which the model does not use, are left as they are.)
   */
  private deinitForDirectJump(): void {
    const bus = this.host.bus;
    bus.write32(SYST_CSR, 0);
    bus.write32(USART3_CR1, 0);
    bus.write32(RCC_APB1LRSTR, bus.read32(RCC_APB1LRSTR) | USART3_CLOCK);
    bus.write32(RCC_APB1LRSTR, bus.read32(RCC_APB1LRSTR) & ~USART3_CLOCK);
    bus.write32(RCC_C1_APB1LENR, bus.read32(RCC_C1_APB1LENR) & ~USART3_CLOCK);
    bus.write32(RCC_C1_AHB4ENR, bus.read32(RCC_C1_AHB4ENR) & ~GPIO_CLOCKS_ALL);
    bus.write32(RCC_CFGR, 0);
  }
}
