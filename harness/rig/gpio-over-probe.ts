// The GPIO registers of ports A..K read through the debug probe, independently of the firmware:
// what a probe sees when the application cannot be asked (or should not be trusted).
import { GPIO_PORTS, GPIO_REGISTERS, type GpioRegisterName, type GpioRegisters, type GpioSnapshot } from '../serial/console-protocol.js';
import type { DebugProbe, ProbeRange } from '../probe/probe.js';

/** GPIOA's base; ports B..K follow every 0x400 (GPIOA_BASE … GPIOK_BASE in ST's CMSIS header stm32h745xx.h). */
export const GPIO_BASE = 0x58020000;
/** Distance between GPIO ports. */
export const GPIO_STRIDE = 0x400;
/** Register offsets inside a port, as the console reports them (RM0399 §12.4). */
export const GPIO_OFFSETS: Readonly<Record<GpioRegisterName, number>> = {
  MODER: 0x00, OTYPER: 0x04, OSPEEDR: 0x08, PUPDR: 0x0c, ODR: 0x14, AFRL: 0x20, AFRH: 0x24,
};
/** Bytes read per port: MODER up to AFRH. */
const GPIO_SPAN = 0x28;

/** Reads every port's registers, in one tool run where the probe allows it. */
export async function readGpioThroughProbe(probe: DebugProbe): Promise<GpioSnapshot> {
  const ranges: ProbeRange[] = GPIO_PORTS.map((_, i) => ({ address: GPIO_BASE + i * GPIO_STRIDE, length: GPIO_SPAN }));
  const blocks = probe.readRanges ? await probe.readRanges(ranges) : await sequential(ranges, (r) => probe.readMemory(r.address, r.length));
  const snapshot: GpioSnapshot = {};
  GPIO_PORTS.forEach((port, i) => {
    const block = blocks[i]!;
    const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
    const registers = {} as GpioRegisters;
    for (const name of GPIO_REGISTERS) registers[name] = view.getUint32(GPIO_OFFSETS[name], true);
    snapshot[port] = registers;
  });
  return snapshot;
}

async function sequential<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await work(item));
  return results;
}
