// The application is up once a pin it drives reads a given level through the debug probe
// (GPIOx_IDR, RM0399 §12.4). On the STM32H7 a pin in its reset state is in analog mode and its
// input data bit reads 0 (RM0399 chapter 12, analog configuration), so a level of 1 the application drives is what tells
// "up" from "in reset or in the bootloader".
import type { Clock } from '../../clock/clock.js';
import { hex32 } from '../../errors.js';
import { readRegister, type DebugProbe } from '../../probe/probe.js';
import { AppNotReadyError, AppReadyCancelled, ReadyLatch, type AppReadyCheck, type AppReadyWatch } from './app-ready.js';

/** GPIOA's base; ports B..K follow every 0x400 (RM0399 Table 8). */
const GPIO_BASE = 0x58020000;
const GPIO_PORT_STRIDE = 0x400;
const IDR_OFFSET = 0x10;
const PORTS = 'ABCDEFGHIJK';

/** Options of {@link GpioLevelReady}. */
export interface GpioLevelOptions {
  /** The pin, as `PB0`. */
  pin: string;
  level: 0 | 1;
  /** Time between two reads, ms; default 50 (each read of a command-line probe tool costs far more on a bench). */
  pollMs?: number;
}

/** Where `PB0` is read: GPIOB_IDR and bit 0; undefined for a name that is not a pin of the STM32H7. */
export function gpioInput(pin: string): { register: number; bit: number } | undefined {
  const m = /^P([A-K])(\d{1,2})$/.exec(pin);
  if (!m || Number(m[2]) > 15) return undefined;
  return { register: GPIO_BASE + PORTS.indexOf(m[1]!) * GPIO_PORT_STRIDE + IDR_OFFSET, bit: Number(m[2]) };
}

/** The application is up when a pin reads the level it drives once it runs. */
export class GpioLevelReady implements AppReadyCheck {
  readonly form = 'gpio-level' as const;
  private readonly input: { register: number; bit: number };

  constructor(private readonly options: GpioLevelOptions, private readonly io: { clock: Clock; probe: DebugProbe }) {
    const input = gpioInput(options.pin);
    if (!input) throw new RangeError(`"${options.pin}" is not a pin of the STM32H7 (PA0 to PK15)`);
    this.input = input;
  }

  describe(): string {
    return `${this.options.pin} reads ${this.options.level} through the probe`;
  }

  /** A level is a state, not an event: nothing can be missed before the wait, so the probe is read only while someone waits. */
  arm(): AppReadyWatch {
    const { clock, probe } = this.io;
    const { pin, level } = this.options;
    const pollMs = this.options.pollMs ?? 50;
    let stopped = false;
    let last: number | undefined;
    let lastError: unknown;
    const latch = new ReadyLatch(clock, this.form, () => { stopped = true; });
    let polling = false;
    const poll = async (): Promise<void> => {
      while (!stopped) {
        try {
          const idr = await readRegister(probe, this.input.register);
          last = (idr >>> this.input.bit) & 1;
          if (last === level) {
            latch.seen(`${pin} = ${level} (${hex32(this.input.register)} = ${hex32(idr)})`);
            return;
          }
        } catch (error) {
          // A probe read can fail while the board resets; the deadline decides.
          lastError = error;
        }
        if (!stopped) await clock.sleep(pollMs);
      }
    };
    return {
      wait: (timeoutMs) => {
        const waiting = latch.wait(timeoutMs, () => new AppNotReadyError(this.form,
          `${pin} did not read ${level} within ${timeoutMs} ms (${last === undefined ? `no read succeeded${lastError instanceof Error ? `: ${lastError.message}` : ''}` : `last read ${last}`})`,
          'Check that the application drives this pin once it runs (a pin in its reset state reads 0 on the STM32H7), the pin name in rigs.yaml, and the probe.'));
        if (!polling) {
          polling = true;
          void poll();
        }
        return waiting;
      },
      cancel: () => latch.fail(new AppReadyCancelled(this.form)),
    };
  }
}
