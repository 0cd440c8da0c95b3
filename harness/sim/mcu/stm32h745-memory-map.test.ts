// The memory map's routing, and the ROM hand-over check against AN2606 §4.1.
import { describe, expect, it } from 'vitest';
import { ST_ROM_ENTRY } from '../bootloader/profiles.js';
import { RegisterFilePeripheral } from './mmio-peripheral.js';
import { blockingProblems, checkRomHandOver, type RomHandOverState } from './rom-entry.js';
import { Stm32h745MemoryMap, type MemoryDevice } from './stm32h745-memory-map.js';
import { BOOTLOADER_ID_ADDRESS, BOOTLOADER_START, buildSystemMemory } from './system-memory.js';

function ram(name: string, base: number, size: number, access: MemoryDevice['access'] = 'rwx'): MemoryDevice {
  const bytes = new Uint8Array(size);
  return { name, base, size, access, read: (a, l) => bytes.slice(a - base, a - base + l), write: (a, b) => bytes.set(b, a - base) };
}

describe('Stm32h745MemoryMap', () => {
  const map = new Stm32h745MemoryMap({
    memories: [ram('DTCM', 0x20000000, 0x1000), ram('flash', 0x08000000, 0x1000, 'rx')],
    peripherals: [new RegisterFilePeripheral('R', 0x58024400, 0x400, { 0x10: 0x11223344 })],
  });

  it('routes memory and registers by address, little-endian, with byte and halfword lanes', () => {
    map.write(0x20000000, 4, 0xa1b2c3d4);
    expect(map.read(0x20000001, 1)).toBe(0xc3);
    expect(map.read(0x58024412, 2)).toBe(0x1122);
    map.write(0x58024411, 1, 0xff);
    expect(map.read32(0x58024410)).toBe(0x1122ff44);
  });

  it('reads 0 from device space it does not model, records the access, and bus-faults in reserved gaps and on read-only memory', () => {
    expect(map.read(0x40000000, 4)).toBe(0);
    expect(map.unmodelledAccesses()).toContainEqual({ peripheral: 'unmodelled@0x40000000', offset: 0, write: false });
    expect(() => map.read(0x60000000, 4)).toThrow(/bus fault at 0x60000000/);
    expect(() => map.write(0x08000000, 4, 0)).toThrow(/flash is read-only/);
  });
});

describe('system memory', () => {
  it('holds the ROM tables at 0x1FF00000 and 0x1FF09800 and the bootloader ID at 0x1FF1E7FE', () => {
    const bytes = buildSystemMemory({ stackPointer: 0x20004000, entry: 0x1ff0a001 }, 0x92);
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(BOOTLOADER_START - 0x1ff00000, true)).toBe(0x20004000);
    expect(view.getUint32(BOOTLOADER_START - 0x1ff00000 + 4, true)).toBe(0x1ff0a001);
    expect(view.getUint32(4, true)).toBe(0x1ff0a001);
    expect(bytes[BOOTLOADER_ID_ADDRESS - 0x1ff00000]).toBe(0x92);
  });
});

describe('ROM hand-over check (AN2606 §4.1)', () => {
  const clean: RomHandOverState = {
    pc: 0x1ff0a000, msp: 0x20004000, primask: false, pendingIrqs: [], sysTickInterrupting: false,
    clocksOn: [], pllOn: false, systemClockSource: 0, cachesOn: false,
  };

  it('finds nothing wrong with ST\'s sequence: clocks and PLL off, NVIC cleared, SysTick stopped, MSP and PC from 0x1FF09800', () => {
    expect(checkRomHandOver(clean, ST_ROM_ENTRY)).toEqual([]);
  });

  it('names each problem, and only the caches are let through by the ST ROM profile', () => {
    const problems = checkRomHandOver({
      pc: 0x1ff0a100, msp: 0x2001fed8, primask: true, pendingIrqs: [39], sysTickInterrupting: true,
      clocksOn: [{ register: 'RCC_C1_APB1LENR', value: 1 << 18 }], pllOn: true, systemClockSource: 3, cachesOn: true,
    }, ST_ROM_ENTRY);
    expect(problems.map((p) => p.check)).toEqual(['notAtEntry', 'stackNotFromVector', 'interruptsMasked', 'interruptPending', 'sysTickRunning', 'peripheralClocksOn', 'pllOn', 'cachesOn']);
    expect(blockingProblems(problems).map((p) => p.check)).not.toContain('cachesOn');
    expect(problems[1]!.description).toMatch(/MSP is 0x2001FED8, not the ROM's initial stack 0x20004000/);
    expect(problems[2]!.description).toMatch(/PRIMASK = 1.*AN2606 §4.1/);
  });
});
