/** What drives the BOOT0 pin; the chip samples it at every reset. */
export interface Boot0Source {
  /** BOOT0's logic level sampled at a reset happening now. */
  levelAtReset(): 0 | 1;
  /** The supply went away. */
  powerOff(): void;
  /** The charge pin is driven high (true) or released (false). Jumpers ignore it. */
  setDriven(driven: boolean): void;
}

/** A jumper (or solder bridge) holding BOOT0 at a fixed level. */
export class Boot0Jumper implements Boot0Source {
  constructor(readonly level: 0 | 1) {}

  levelAtReset(): 0 | 1 {
    return this.level;
  }

  powerOff(): void {}

  setDriven(_driven: boolean): void {}
}
