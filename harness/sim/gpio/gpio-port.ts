// One STM32H7 GPIO port (RM0399 §12.4): the ten registers, the LCKR lock sequence, and the
// pin levels other parts of the board see.

/** Port letters of the STM32H745 (GPIOA..GPIOK). */
export const PORT_NAMES = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K'] as const;
/** One port letter. */
export type PortName = (typeof PORT_NAMES)[number];

/** Register offsets inside a port (RM0399 §12.4). */
export const GpioRegister = {
  MODER: 0x00, OTYPER: 0x04, OSPEEDR: 0x08, PUPDR: 0x0c, IDR: 0x10, ODR: 0x14, BSRR: 0x18, LCKR: 0x1c, AFRL: 0x20, AFRH: 0x24,
} as const;

/** MODER field values. */
export const PinMode = { Input: 0, Output: 1, Alternate: 2, Analog: 3 } as const;

/** The configuration registers of a port, as the console's `GPIO`/`PRE` lines print them. */
export interface GpioRegisters {
  MODER: number;
  OTYPER: number;
  OSPEEDR: number;
  PUPDR: number;
  ODR: number;
  AFRL: number;
  AFRH: number;
}

/** Reset values per port (RM0399 §12.4; port A and B differ because of the debug pins). */
export function gpioResetValues(port: PortName): GpioRegisters {
  switch (port) {
    case 'A': return { MODER: 0xabffffff, OTYPER: 0, OSPEEDR: 0x0c000000, PUPDR: 0x64000000, ODR: 0, AFRL: 0, AFRH: 0 };
    case 'B': return { MODER: 0xfffffebf, OTYPER: 0, OSPEEDR: 0x000000c0, PUPDR: 0x00000100, ODR: 0, AFRL: 0, AFRH: 0 };
    default: return { MODER: 0xffffffff, OTYPER: 0, OSPEEDR: 0, PUPDR: 0, ODR: 0, AFRL: 0, AFRH: 0 };
  }
}

const LCKK = 1 << 16;

/** One GPIO port with its registers; writes to locked pins' configuration are ignored, as on the chip. */
export class GpioPort {
  private regs: GpioRegisters;
  private lckr = 0;
  private lockStep = 0;
  /** Levels applied from outside the chip, per pin (undefined: nothing drives the pin). */
  private readonly external = new Map<number, 0 | 1>();
  private readonly listeners = new Set<(port: GpioPort) => void>();

  constructor(readonly name: PortName, readonly base: number) {
    this.regs = gpioResetValues(name);
  }

  /** Back to reset values: configuration, ODR and the lock (a lock holds only until reset). */
  reset(): void {
    this.regs = gpioResetValues(this.name);
    this.lckr = 0;
    this.lockStep = 0;
    this.changed();
  }

  /** The configuration registers now. */
  snapshot(): GpioRegisters {
    return { ...this.regs };
  }

  /** Reads a register by its offset; BSRR reads as 0 (write-only). */
  read(offset: number): number {
    switch (offset) {
      case GpioRegister.MODER: return this.regs.MODER;
      case GpioRegister.OTYPER: return this.regs.OTYPER;
      case GpioRegister.OSPEEDR: return this.regs.OSPEEDR;
      case GpioRegister.PUPDR: return this.regs.PUPDR;
      case GpioRegister.IDR: return this.idr();
      case GpioRegister.ODR: return this.regs.ODR;
      case GpioRegister.BSRR: return 0;
      case GpioRegister.LCKR: return this.readLckr();
      case GpioRegister.AFRL: return this.regs.AFRL;
      case GpioRegister.AFRH: return this.regs.AFRH;
      default: return 0;
    }
  }

  /** Writes a register by its offset, as a 32-bit store from a core would. */
  write(offset: number, value: number): void {
    const v = value >>> 0;
    const locked = this.lckr & LCKK ? this.lckr & 0xffff : 0;
    switch (offset) {
      case GpioRegister.MODER: this.regs.MODER = keepLocked(this.regs.MODER, v, locked, 2); break;
      case GpioRegister.OTYPER: this.regs.OTYPER = keepLocked(this.regs.OTYPER, v & 0xffff, locked, 1); break;
      case GpioRegister.OSPEEDR: this.regs.OSPEEDR = keepLocked(this.regs.OSPEEDR, v, locked, 2); break;
      case GpioRegister.PUPDR: this.regs.PUPDR = keepLocked(this.regs.PUPDR, v, locked, 2); break;
      case GpioRegister.ODR: this.regs.ODR = v & 0xffff; break;
      case GpioRegister.BSRR: {
        // Set wins over reset when both bits of a pin are written (RM0399 §12.4.7).
        this.regs.ODR = ((this.regs.ODR & ~(v >>> 16)) | (v & 0xffff)) & 0xffff;
        break;
      }
      case GpioRegister.LCKR: this.writeLckr(v); break;
      case GpioRegister.AFRL: this.regs.AFRL = keepLocked(this.regs.AFRL, v, locked & 0xff, 4); break;
      case GpioRegister.AFRH: this.regs.AFRH = keepLocked(this.regs.AFRH, v, (locked >> 8) & 0xff, 4); break;
      default: return;
    }
    this.changed();
  }

  /** Drives `pin` as a push-pull output at `level`, as `pin <Pxn> <0|1>` does. */
  driveOutput(pin: number, level: 0 | 1): void {
    this.write(GpioRegister.ODR, level ? this.regs.ODR | (1 << pin) : this.regs.ODR & ~(1 << pin));
    this.write(GpioRegister.OTYPER, this.regs.OTYPER & ~(1 << pin));
    this.write(GpioRegister.MODER, setField(this.regs.MODER, pin, 2, PinMode.Output));
  }

  /** Puts `pin` in alternate function `af` with the given output type and pull. */
  setAlternate(pin: number, af: number, options: { openDrain?: boolean; pull?: 0 | 1 | 2; speed?: number } = {}): void {
    if (pin < 8) this.write(GpioRegister.AFRL, setField(this.regs.AFRL, pin, 4, af));
    else this.write(GpioRegister.AFRH, setField(this.regs.AFRH, pin - 8, 4, af));
    this.write(GpioRegister.OTYPER, options.openDrain ? this.regs.OTYPER | (1 << pin) : this.regs.OTYPER & ~(1 << pin));
    this.write(GpioRegister.PUPDR, setField(this.regs.PUPDR, pin, 2, options.pull ?? 0));
    if (options.speed !== undefined) this.write(GpioRegister.OSPEEDR, setField(this.regs.OSPEEDR, pin, 2, options.speed));
    this.write(GpioRegister.MODER, setField(this.regs.MODER, pin, 2, PinMode.Alternate));
  }

  /** Returns every configuration field of `pin` to its reset value. */
  restorePin(pin: number): void {
    const r = gpioResetValues(this.name);
    const pick = (now: number, reset: number, width: number, index: number): number => setField(now, index, width, getField(reset, index, width));
    if (pin < 8) this.write(GpioRegister.AFRL, pick(this.regs.AFRL, r.AFRL, 4, pin));
    else this.write(GpioRegister.AFRH, pick(this.regs.AFRH, r.AFRH, 4, pin - 8));
    this.write(GpioRegister.OTYPER, pick(this.regs.OTYPER, r.OTYPER, 1, pin));
    this.write(GpioRegister.OSPEEDR, pick(this.regs.OSPEEDR, r.OSPEEDR, 2, pin));
    this.write(GpioRegister.PUPDR, pick(this.regs.PUPDR, r.PUPDR, 2, pin));
    this.write(GpioRegister.ODR, pick(this.regs.ODR, r.ODR, 1, pin));
    this.write(GpioRegister.MODER, pick(this.regs.MODER, r.MODER, 2, pin));
  }

  /** The MODER field of `pin`. */
  modeOf(pin: number): number {
    return getField(this.regs.MODER, pin, 2);
  }

  /** True while `pin` is a push-pull or open-drain output driving `level`. */
  isDriving(pin: number, level: 0 | 1): boolean {
    if (this.modeOf(pin) !== PinMode.Output) return false;
    const high = ((this.regs.ODR >> pin) & 1) === 1;
    // An open-drain output only drives low.
    if (level === 1) return high && ((this.regs.OTYPER >> pin) & 1) === 0;
    return !high;
  }

  /** Applies (or with undefined, removes) a level from outside the chip on `pin`. */
  setExternalLevel(pin: number, level: 0 | 1 | undefined): void {
    if (level === undefined) this.external.delete(pin);
    else this.external.set(pin, level);
  }

  /** Calls `listener` after every register change and reset; returns an unsubscribe. */
  onChange(listener: (port: GpioPort) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private idr(): number {
    let idr = 0;
    for (let pin = 0; pin < 16; pin++) {
      const mode = this.modeOf(pin);
      let level: number;
      // Analog mode disconnects the input Schmitt trigger: IDR reads 0.
      if (mode === PinMode.Analog) level = 0;
      else if (mode === PinMode.Output) level = (this.regs.ODR >> pin) & 1;
      else level = this.external.get(pin) ?? (getField(this.regs.PUPDR, pin, 2) === 1 ? 1 : 0);
      idr |= level << pin;
    }
    return idr >>> 0;
  }

  private readLckr(): number {
    return this.lckr >>> 0;
  }

  private writeLckr(v: number): void {
    if (this.lckr & LCKK) return;
    const key = v & LCKK;
    const bits = v & 0xffff;
    // Lock sequence: WR LCKK=1, WR LCKK=0, WR LCKK=1 with the same LCK[15:0], then a read.
    if (this.lockStep === 0 && key) { this.lockStep = 1; this.lckr = bits; return; }
    if (this.lockStep === 1 && !key && bits === this.lckr) { this.lockStep = 2; return; }
    if (this.lockStep === 2 && key && bits === this.lckr) { this.lockStep = 3; this.lckr = bits | LCKK; return; }
    this.lockStep = key ? 1 : 0;
    this.lckr = key ? bits : 0;
  }

  private changed(): void {
    for (const l of [...this.listeners]) l(this);
  }
}

/** Reads field `index` of `width` bits. */
function getField(reg: number, index: number, width: number): number {
  return (reg >>> (index * width)) & ((1 << width) - 1);
}

/** Writes field `index` of `width` bits. */
function setField(reg: number, index: number, width: number, value: number): number {
  const mask = ((1 << width) - 1) << (index * width);
  return ((reg & ~mask) | ((value << (index * width)) & mask)) >>> 0;
}

/** Merges `next` into `now` except for the fields of locked pins. */
function keepLocked(now: number, next: number, locked: number, width: number): number {
  let mask = 0;
  for (let pin = 0; pin < 32 / width; pin++) if ((locked >> pin) & 1) mask |= ((1 << width) - 1) << (pin * width);
  return ((now & mask) | (next & ~mask)) >>> 0;
}
