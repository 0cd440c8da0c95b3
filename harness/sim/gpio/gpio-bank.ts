import { BusFaultError } from '../mcu/bus-fault.js';
import { GpioPort, PORT_NAMES, type GpioRegisters, type PortName } from './gpio-port.js';

/** GPIOA's base address; the ports follow every 0x400 bytes (CMSIS GPIOA_BASE..GPIOK_BASE). */
export const GPIO_BASE = 0x58020000;
/** Distance between two ports' register blocks. */
export const GPIO_PORT_STRIDE = 0x400;

/** A pin named as on the board: port letter and number, e.g. PB0. */
export interface PinName {
  port: PortName;
  pin: number;
}

/** Parses "PB0"/"pb14"; undefined when the text names no pin of the STM32H745. */
export function parsePinName(text: string): PinName | undefined {
  const m = /^P([A-K])(\d{1,2})$/i.exec(text.trim());
  if (!m) return undefined;
  const pin = Number(m[2]);
  if (pin > 15) return undefined;
  return { port: m[1]!.toUpperCase() as PortName, pin };
}

/** Every port's configuration registers, keyed by port letter. */
export type GpioSnapshot = Record<PortName, GpioRegisters>;

/** The eleven GPIO ports A..K, addressable as the cores see them. */
export class GpioBank {
  private readonly ports: ReadonlyMap<PortName, GpioPort>;

  constructor() {
    this.ports = new Map(PORT_NAMES.map((name, i) => [name, new GpioPort(name, GPIO_BASE + i * GPIO_PORT_STRIDE)]));
  }

  /** The port with letter `name`. */
  port(name: PortName): GpioPort {
    return this.ports.get(name)!;
  }

  /** All ports in order A..K. */
  all(): GpioPort[] {
    return [...this.ports.values()];
  }

  /** True when `address` falls in a port's register block. */
  contains(address: number): boolean {
    return address >= GPIO_BASE && address < GPIO_BASE + PORT_NAMES.length * GPIO_PORT_STRIDE;
  }

  /** Reads the 32-bit register at `address` (word-aligned). */
  read32(address: number): number {
    const { port, offset } = this.locate(address);
    return port.read(offset);
  }

  /** Writes the 32-bit register at `address` (word-aligned). */
  write32(address: number, value: number): void {
    const { port, offset } = this.locate(address);
    port.write(offset, value);
  }

  /** Every port back to its reset values. */
  reset(): void {
    for (const p of this.ports.values()) p.reset();
  }

  /** The configuration registers of every port now. */
  snapshot(): GpioSnapshot {
    const out = {} as GpioSnapshot;
    for (const [name, p] of this.ports) out[name] = p.snapshot();
    return out;
  }

  /** Calls `listener` after any register change in any port; returns an unsubscribe. */
  onChange(listener: (port: GpioPort) => void): () => void {
    const offs = this.all().map((p) => p.onChange(listener));
    return () => { for (const off of offs) off(); };
  }

  private locate(address: number): { port: GpioPort; offset: number } {
    const index = Math.floor((address - GPIO_BASE) / GPIO_PORT_STRIDE);
    const name = PORT_NAMES[index];
    if (!name || (address & 3) !== 0) throw new BusFaultError(address, 'not a word-aligned GPIO register');
    return { port: this.port(name), offset: (address - GPIO_BASE) % GPIO_PORT_STRIDE };
  }
}
