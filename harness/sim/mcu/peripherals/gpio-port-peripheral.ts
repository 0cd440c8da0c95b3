// One GPIO port on the bus: the register state is the board's GpioPort (what the probe, the BOOT0
// circuit and the GPIO specs read), reached here only while RCC clocks the port.
import type { GpioPort } from '../../gpio/gpio-port.js';
import { BasePeripheral } from '../mmio-peripheral.js';
import type { RccPeripheral } from './rcc-peripheral.js';

/**
 * GPIOx at 0x58020000 + 0x400·x. With its RCC_AHB4ENR bit clear the port reads 0 and ignores
 * writes, which is why the test application enables the clocks before it captures the pins
 * (firmware-images/src/cm7/startup.c; RM0399 §8.5.1, confidence M). The register contents are
 * kept while the clock is off.
 */
export class GpioPortPeripheral extends BasePeripheral {
  constructor(private readonly port: GpioPort, private readonly index: number, private readonly rcc: RccPeripheral) {
    super(`GPIO${port.name}`, port.base, 0x400);
  }

  read32(offset: number): number {
    if (!this.rcc.isEnabled('AHB4', this.index)) return 0;
    return this.port.read(offset & ~3);
  }

  write32(offset: number, value: number): void {
    if (!this.rcc.isEnabled('AHB4', this.index)) return;
    this.port.write(offset & ~3, value);
  }

  reset(): void {
    this.port.reset();
  }
}
