// The simulated NUCLEO-H745ZI-Q: the STM32H745 with its flash, option bytes and ROM
// bootloader, BOOT0 (jumper or RC circuit), the user USB socket, and the ST-LINK's virtual
// COM port and debug port.
import type { Clock } from '../../clock/clock.js';
import { UsbSocket, type UsbConnector } from '../../usb/gadget.js';
import type { BootloaderHost, ResetCause } from '../contracts.js';
import { Boot0RcCircuit, type Boot0RcSettings } from '../boot0/boot0-rc-circuit.js';
import { Boot0Jumper, type Boot0Source } from '../boot0/boot0-source.js';
import type { DfuSessionState } from '../bootloader/dfuse-device-model.js';
import { BootloaderFaults } from '../bootloader/faults.js';
import { romEntryBehaviour, type BootloaderProfile } from '../bootloader/profiles.js';
import type { CpuCore } from '../cpu/cpu-core.js';
import { SystemBootloader } from '../bootloader/system-bootloader.js';
import { FLASH_WORD_BYTES, WordState } from '../flash/flash-bank.js';
import type { FlashTiming } from '../flash/flash-timing.js';
import { SimFlash } from '../flash/sim-flash.js';
import { parsePinName, type GpioBank, type PinName } from '../gpio/gpio-bank.js';
import type { Cm4State } from '../app/test-application.js';
import { DfuRuntimeFaults, type DfuRuntimeSettings } from '../app/dfu-runtime-interface.js';
import { SYSTEM_MEMORY } from '../mcu/boot-config.js';
import { Stm32h745, type SystemMemoryCode } from '../mcu/stm32h745.js';
import { SimOptionBytes, type OptionRegisters } from '../option-bytes/sim-option-bytes.js';
import { ConsoleUart, type ConsoleHostEnd } from '../uart/console-uart.js';
import { SimDebugPort } from './debug-port.js';

/** BOOT0 wiring: a jumper at a fixed level, or the RC entry circuit charged from `chargePin`. */
export type Boot0Wiring =
  | { kind: 'jumper'; level: 0 | 1 }
  | ({ kind: 'rc'; /** Default PG2 (see DEFAULT_RC_CHARGE_PIN). */ chargePin?: string } & Boot0RcSettings);

/**
 * Default pin that charges the BOOT0 capacitor: PG2, on the ST morpho header and, as far as we
 * read the Nucleo-144 pinout, used by no on-board function (LEDs PB0/PE1/PB14, button PC13, VCP
 * PD8/PD9, USB PA8-PA12, Ethernet RMII). Unconfirmed against UM2408: check your board.
 */
export const DEFAULT_RC_CHARGE_PIN = 'PG2';

/** Options for {@link SimulatedNucleoH745}. */
export interface SimulatedNucleoH745Options {
  clock: Clock;
  profile: BootloaderProfile;
  /** The bootloader's iSerialNumber; default the profile's. */
  serialNumber?: string;
  /** USB port path of the user USB socket; default "1-1". */
  portPath?: string;
  /** Path of the ST-LINK virtual COM port; default "sim:<portPath>". */
  consolePath?: string;
  boot0?: Boot0Wiring;
  /** Time from the bootloader's D+ pull-up to the device being enumerated; default 100 ms (assumed). */
  reEnumerationDelayMs?: number;
  /** From Reset_Handler to READY; default 10 ms (assumed). */
  appBootDelayMs?: number;
  /** How long `dfu rc` drives the charge pin; default 10 ms. */
  rcChargeMs?: number;
  /** Option values the chip leaves the factory with. */
  initialOptions?: Partial<OptionRegisters>;
  /** The flash's busy times; unset ones keep flash-timing.ts's defaults (most are unconfirmed). */
  flashTiming?: Partial<FlashTiming>;
  /** Code in system memory; default the ST ROM SystemBootloader with `profile`. */
  createSystemMemoryCode?: (host: BootloaderHost, board: SimulatedNucleoH745) => SystemMemoryCode;
  /**
   * How the Cortex-M7 runs what is in flash: the TypeScript model of the test application
   * (default), or the image itself on `core` (executed mode; see harness/sim/cpu).
   */
  application?: { kind: 'modelled' } | { kind: 'executed'; core: CpuCore };
  /**
   * The application offers its own USB device with a DFU run-time interface (DFU_DETACH into the
   * ROM bootloader), on the same user USB socket as the ROM. Absent: the application has no USB.
   */
  appUsb?: DfuRuntimeSettings;
}

/** Faults of the board itself, next to the bootloader's. */
export class BoardFaults {
  /** Garbage on the console at every reset (pins reconfiguring glitch the TX line); empty for none. */
  noiseOnReset: Uint8Array = new Uint8Array();
  /** Extra enumeration time added to every bootloader attach (a slow host or hub), in ms. */
  slowReEnumerationMs = 0;
  /** How the application's run-time DFU interface misbehaves, when the board has one. */
  readonly appUsb = new DfuRuntimeFaults();

  constructor(readonly bootloader: BootloaderFaults, private readonly uart: ConsoleUart) {}

  /** Puts `bytes` on the console towards the host, `afterMs` from now. */
  consoleNoise(bytes: Uint8Array | string, afterMs = 0): void {
    this.uart.injectNoise(bytes, afterMs);
  }
}

/**
 * What survives between two runs of a simulated board, as a real board keeps it between two
 * commands at a bench: the flash (bytes and each flash word's ECC state), the option bytes,
 * whether it is powered and running the application or the bootloader, and, while it runs the
 * bootloader, its DFU session (state, status, address pointer). RAM and timers are not kept.
 */
export interface SimBoardState {
  /** The 2 MiB of user flash from 0x08000000. */
  flash: Uint8Array;
  /** One {@link WordState} per 256-bit flash word, in address order. */
  wordStates: Uint8Array;
  /** Option values in force, and those programmed for the next reset. */
  options: { current: OptionRegisters; programmed: OptionRegisters };
  powered: boolean;
  /** What the CM7 ran when the state was taken. */
  running: 'app' | 'bootloader' | 'none';
  /** The bootloader's DFU session, when it was running: a second host program meets what the first left. */
  dfu?: DfuSessionState;
}

/** The host's end of the console, with the identity the serial binding reports. */
export interface SimConsole extends ConsoleHostEnd {
  readonly path: string;
}

/**
 * A NUCLEO-H745ZI-Q in software. Starts unpowered; `powerOn()` boots it. Two boards in one
 * process share nothing but the clock they are given.
 */
export class SimulatedNucleoH745 {
  readonly clock: Clock;
  readonly profile: BootloaderProfile;
  readonly serialNumber: string;
  readonly flash: SimFlash;
  readonly optionBytes: SimOptionBytes;
  readonly mcu: Stm32h745;
  readonly boot0: Boot0Source;
  readonly uart: ConsoleUart;
  readonly console: SimConsole;
  readonly faults: BoardFaults;
  readonly debug: SimDebugPort;
  private readonly socket: UsbSocket;
  /** The ROM bootloader of the current (or last) entry into system memory. */
  private systemBootloader: SystemBootloader | undefined;
  /** A DFU session the next bootloader entry resumes (set while a saved board is restored). */
  private resumeDfu: DfuSessionState | undefined;

  constructor(options: SimulatedNucleoH745Options) {
    this.clock = options.clock;
    this.profile = options.profile;
    this.serialNumber = options.serialNumber ?? options.profile.usb.defaultSerialNumber;
    const portPath = options.portPath ?? '1-1';
    this.socket = new UsbSocket(portPath);
    this.flash = new SimFlash({ ...(options.flashTiming ? { timing: options.flashTiming } : {}) });
    this.optionBytes = new SimOptionBytes({ initial: options.initialOptions ?? {}, programMs: this.flash.timing.optionBytesProgramMs });
    this.flash.useWriteProtection(this.optionBytes);
    this.optionBytes.connectFlash(this.flash);
    this.uart = new ConsoleUart(this.clock);
    const consolePath = options.consolePath ?? `sim:${portPath}`;
    this.console = { path: consolePath, ...this.uart.host };
    this.faults = new BoardFaults(new BootloaderFaults(), this.uart);

    const wiring = options.boot0 ?? { kind: 'jumper', level: 0 };
    let chargePin: PinName | undefined;
    if (wiring.kind === 'rc') {
      const { kind: _kind, chargePin: pinText, ...settings } = wiring;
      chargePin = parsePinName(pinText ?? DEFAULT_RC_CHARGE_PIN);
      if (!chargePin) throw new RangeError(`BOOT0 charge pin "${pinText ?? ''}" is not a pin of the STM32H745 (PA0..PK15)`);
      this.boot0 = new Boot0RcCircuit(this.clock, settings);
    } else {
      this.boot0 = new Boot0Jumper(wiring.level);
    }

    const createCode = options.createSystemMemoryCode
      ?? ((host: BootloaderHost) => {
        const bootloader = new SystemBootloader(this.profile, host, {
          serialNumber: this.serialNumber, faults: this.faults.bootloader, ...(this.resumeDfu ? { resume: this.resumeDfu } : {}),
        });
        this.resumeDfu = undefined;
        this.systemBootloader = bootloader;
        return bootloader;
      });
    const reEnumerationMs = options.reEnumerationDelayMs ?? 100;
    const romEntry = romEntryBehaviour(this.profile);
    const application = options.application ?? { kind: 'modelled' };
    this.mcu = new Stm32h745({
      cm7: application.kind === 'executed' ? { kind: 'executed', core: application.core, romEntry } : { kind: 'modelled' },
      systemMemory: { vector: romEntry.vector, bootloaderId: this.profile.bootloaderId },
      clock: this.clock,
      flash: this.flash,
      optionBytes: this.optionBytes,
      bootConfig: () => ({
        rdpLevel: this.optionBytes.systemMemoryBootDisabled ? 2 : this.optionBytes.rdpLevel(),
        bootCm7Add0: this.optionBytes.bootCm7Add0(),
        bootCm7Add1: this.optionBytes.bootCm7Add1(),
        bootCm4Add0: this.optionBytes.bootCm4Add0(),
        bootCm4Add1: this.optionBytes.bootCm4Add1(),
        bcm7: this.optionBytes.bcm7(),
        bcm4: this.optionBytes.bcm4(),
      }),
      boot0: this.boot0,
      uart: this.uart,
      usb: this.socket,
      createBootloader: (host) => createCode(host, this),
      reEnumerationDelayMs: () => reEnumerationMs + this.faults.slowReEnumerationMs,
      app: {
        ...(options.appBootDelayMs === undefined ? {} : { bootDelayMs: options.appBootDelayMs }),
        ...(options.rcChargeMs === undefined ? {} : { rcChargeMs: options.rcChargeMs }),
        ...(chargePin ? { rcChargePin: chargePin } : {}),
      },
      ...(chargePin ? { boot0ChargePin: chargePin } : {}),
      onReset: (cause) => this.onReset(cause),
      ...(options.appUsb ? { appUsb: { settings: options.appUsb, faults: this.faults.appUsb, serialNumber: this.serialNumber } } : {}),
    });
    this.debug = new SimDebugPort(this.mcu, this.optionBytes);
  }

  /** The user USB socket (CN13): the bootloader's DFU device appears here, and the application's own when it has one. */
  get usb(): UsbConnector {
    return this.socket;
  }

  /** GPIO ports A..K. */
  get gpio(): GpioBank {
    return this.mcu.gpio;
  }

  /** RCC_RSR now. */
  get rsr(): number {
    return this.mcu.rcc.resetStatus;
  }

  /** The second core's state. */
  get cm4State(): Cm4State {
    return this.mcu.cm4State;
  }

  /** What the CM7 is running. */
  get runningCode(): 'app' | 'bootloader' | 'none' {
    const s = this.mcu.cm7State;
    return s === 'app' || s === 'bootloader' ? s : 'none';
  }

  /** True while the board has power. */
  get isPowered(): boolean {
    return this.mcu.isPowered;
  }

  /** Plugs in the power (USB on the ST-LINK connector). */
  powerOn(): void {
    this.mcu.powerOn();
  }

  /** Unplugs the power. */
  powerOff(): void {
    this.mcu.powerOff();
  }

  /** Presses the black reset button (NRST). */
  pressReset(): void {
    this.mcu.reset('pin');
  }

  /** Unplugs the board for good and releases the executed mode's CPU engine. */
  dispose(): void {
    this.mcu.dispose();
  }

  /** Programs bytes into user flash as a factory programmer would (no RDP checks, no time). */
  loadImage(address: number, bytes: Uint8Array): void {
    this.mcu.flash.program(address, bytes);
  }

  /** Host bytes the board's state takes (flash array, RAM pages). */
  memoryFootprintBytes(): number {
    return this.mcu.memoryFootprintBytes();
  }

  /** The state a later run can {@link restore}: flash with ECC states, option bytes, what runs. */
  snapshot(): SimBoardState {
    const flash = this.flash;
    const wordStates = new Uint8Array(flash.size / FLASH_WORD_BYTES);
    for (let i = 0; i < wordStates.length; i++) wordStates[i] = flash.wordStateAt(flash.base + i * FLASH_WORD_BYTES);
    return {
      flash: flash.read(flash.base, flash.size),
      wordStates,
      options: { current: this.optionBytes.currentValues(), programmed: this.optionBytes.programmedValues() },
      powered: this.isPowered,
      running: this.runningCode,
      ...this.dfuSession(),
    };
  }

  private dfuSession(): { dfu?: DfuSessionState } {
    const session = this.runningCode === 'bootloader' ? this.systemBootloader?.sessionState() : undefined;
    return session ? { dfu: session } : {};
  }

  /**
   * Brings the board to `state`: power goes off, flash and option bytes are put back, then, if
   * the state was powered, the board powers on and runs what it ran (a bootloader is re-entered
   * by a jump, so the application's READY never appears). Built only on the flash's and option
   * bytes' public operations, so a restored board obeys the same rules as one that got there.
   */
  restore(state: SimBoardState): void {
    const flash = this.flash;
    const words = flash.size / FLASH_WORD_BYTES;
    if (state.flash.length !== flash.size || state.wordStates.length !== words) {
      throw new RangeError(`board state holds ${state.flash.length} flash bytes and ${state.wordStates.length} word states; this board has ${flash.size} and ${words}`);
    }
    this.powerOff();
    this.restoreOptionsInForce(state.options.current);
    // Restoring puts back bits a write-protected sector already holds: protection must not apply.
    flash.useWriteProtection({ isSectorWriteProtected: () => false });
    try {
      this.restoreFlash(state.flash, state.wordStates);
    } finally {
      flash.useWriteProtection(this.optionBytes);
    }
    // Values programmed but not yet loaded wait for a reset, so they go in after power-on's reset.
    if (!state.powered) {
      this.optionBytes.program(state.options.programmed);
      return;
    }
    // The bootloader, whichever way it is reached below, takes up the DFU session where it was.
    this.resumeDfu = state.running === 'bootloader' ? state.dfu : undefined;
    try {
      this.powerOn();
      this.optionBytes.program(state.options.programmed);
      // A board can run code its boot pins would not choose (the bootloader after `dfu jump`, the
      // application after a DfuSe leave): reach it the way it was reached, by a jump.
      if (state.running === 'bootloader' && this.runningCode !== 'bootloader') this.mcu.jumpTo(SYSTEM_MEMORY.start);
      if (state.running === 'app' && this.runningCode !== 'app') this.mcu.jumpTo((this.optionBytes.bootCm7Add0() << 16) >>> 0);
    } finally {
      this.resumeDfu = undefined;
    }
  }

  private restoreOptionsInForce(current: OptionRegisters): void {
    // The option bytes only change through programming and the loader at reset, as on the chip:
    // program what was in force and load it. Before the flash is restored, so an RDP regression
    // this replays erases nothing that matters.
    this.optionBytes.program(current);
    this.optionBytes.loadAtReset();
  }

  private restoreFlash(bytes: Uint8Array, states: Uint8Array): void {
    const flash = this.flash;
    flash.eraseEverything();
    const wordAt = (i: number): number => flash.base + i * FLASH_WORD_BYTES;
    const data = (i: number, from = 0, to = FLASH_WORD_BYTES): Uint8Array => bytes.subarray(i * FLASH_WORD_BYTES + from, i * FLASH_WORD_BYTES + to);
    for (let i = 0; i < states.length;) {
      const state = states[i];
      if (state === WordState.Programmed) {
        // Runs of whole programmed words go in one call: a flashed image costs one program.
        let end = i + 1;
        while (end < states.length && states[end] === WordState.Programmed) end++;
        flash.program(wordAt(i), bytes.subarray(i * FLASH_WORD_BYTES, end * FLASH_WORD_BYTES));
        i = end;
        continue;
      }
      if (state === WordState.ForceWritten) {
        // A partial write leaves the bytes it did not cover erased, at the start or the end of the word.
        const word = data(i);
        if (word[FLASH_WORD_BYTES - 1] === 0xff) flash.program(wordAt(i), data(i, 0, FLASH_WORD_BYTES - 1));
        else if (word[0] === 0xff) flash.program(wordAt(i) + 1, data(i, 1));
        else throw new RangeError(`board state: force-written flash word at 0x${wordAt(i).toString(16)} has no erased byte at either end`);
      } else if (state === WordState.EccError) {
        // Programming a word twice is what gives it a sticky ECC error; 0xFF leaves its bits alone.
        flash.program(wordAt(i), data(i));
        flash.program(wordAt(i), new Uint8Array(FLASH_WORD_BYTES).fill(0xff));
      } else if (state !== WordState.Virgin) {
        throw new RangeError(`board state: flash word at 0x${wordAt(i).toString(16)} has unknown state ${String(state)}`);
      }
      i++;
    }
  }

  private onReset(_cause: ResetCause): void {
    // The option-byte loader runs at every reset: programmed values come into force.
    this.optionBytes.loadAtReset();
    if (this.faults.noiseOnReset.length > 0) this.uart.injectNoise(this.faults.noiseOnReset);
  }
}
