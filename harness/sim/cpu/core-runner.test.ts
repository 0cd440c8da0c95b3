// The CPU seam on Unicorn with a tiny hand-assembled Thumb program: exception entry and return,
// SVC, WFI and polling on the virtual clock, HardFault and lockup. Skipped, with the reason,
// where libunicorn 2 is not installed.
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import type { CpuCore } from './cpu-core.js';
import { CoreRunner, type TimedDevice } from './core-runner.js';
import { ExceptionModel, FIRST_IRQ, type LockupState } from './exception-model.js';
import { findWatchedInstructions } from './thumb.js';
import { openUnicornCore, unicornAvailability } from './unicorn-core.js';

const availability = await unicornAvailability();
const skipNote = availability.available ? '' : ` (skipped: ${availability.reason}; .ci/run installs libunicorn2)`;

const CODE = 0x00000000;
const RAM = 0x20000000;
const DEVICE = 0x40000000;

/**
 * The program, assembled with arm-none-eabi-as 2.40 (-mcpu=cortex-m7 -mthumb) and loaded at 0:
 *
 *   vectors: MSP 0x20001000, Reset 0x101, HardFault 0x201, SVCall 0x181, IRQ0 0x1C1
 *   0x100 reset:     mov.w r6, #0x20000000; movs r4, #7; svc 0; str r4, [r6, #4]
 *   0x10A            movs r0..r3, #10..#13
 *   0x112 wait_flag: ldr r5, [r6, #8]; cmp r5, #0; beq wait_flag
 *   0x118            str r0..r3, [r6, #16..#28]
 *   0x120            wfi; movs r5, #0x77; str r5, [r6, #32]
 *   0x126            mov.w r1, #0x40000000
 *   0x12A poll:      ldr r2, [r1]; lsls r2, r2, #31; beq poll
 *   0x130            movs r5, #0x55; str r5, [r6, #36]
 *   0x134            mov.w r1, #0x60000000; ldr r2, [r1]; b .
 *   0x180 svcall:    mov.w r0, #0x20000000; movs r1, #0xA5; str r1, [r0]; movs r4, #99; movs r4, #7; bx lr
 *   0x1C0 irq0:      mov.w r0, #0x20000000; str.w lr, [r0, #12]; movs r1, #1; str r1, [r0, #8]; movs r1..r3, #0; bx lr
 *   0x200 hardfault: mov.w r0, #0x20000000; movs r1, #0xFA; str r1, [r0, #40]; mov.w r1, #0x60000000; ldr r1, [r1]; b .
 */
function program(): Uint8Array {
  const bytes = new Uint8Array(0x1000);
  const view = new DataView(bytes.buffer);
  const vectors: Record<number, number> = { 0: 0x20001000, 1: 0x101, 3: 0x201, 11: 0x181, 16: 0x1c1 };
  for (const [n, v] of Object.entries(vectors)) view.setUint32(Number(n) * 4, v, true);
  const code: Record<number, number[]> = {
    0x100: [0xf04f, 0x5600, 0x2407, 0xdf00, 0x6074, 0x200a, 0x210b, 0x220c, 0x230d, 0x68b5, 0x2d00, 0xd0fc, 0x6130, 0x6171, 0x61b2,
      0x61f3, 0xbf30, 0x2577, 0x6235, 0xf04f, 0x4180, 0x680a, 0x07d2, 0xd0fc, 0x2555, 0x6275, 0xf04f, 0x41c0, 0x680a, 0xe7fe],
    0x180: [0xf04f, 0x5000, 0x21a5, 0x6001, 0x2463, 0x2407, 0x4770],
    0x1c0: [0xf04f, 0x5000, 0xf8c0, 0xe00c, 0x2101, 0x6081, 0x2100, 0x2200, 0x2300, 0x4770],
    0x200: [0xf04f, 0x5000, 0x21fa, 0x6281, 0xf04f, 0x41c0, 0x6809, 0xe7fe],
  };
  for (const [at, halfwords] of Object.entries(code)) halfwords.forEach((h, i) => view.setUint16(Number(at) + 2 * i, h, true));
  return bytes;
}

/** A chip with 4 KiB of code, 4 KiB of RAM, a status register that turns 1 at `readyAt`, and a timer on IRQ0. */
class TestChip {
  readonly clock = new VirtualClock();
  readonly code = program();
  readonly ram = new Uint8Array(0x1000);
  readyAt = Infinity;
  irqAt = Infinity;
  lockup: LockupState | undefined;
  readonly exceptions: ExceptionModel;
  readonly runner: CoreRunner;

  constructor(readonly core: CpuCore) {
    core.mapMemory({ name: 'code', base: CODE, bytes: this.code, access: 'rx' });
    core.mapMemory({ name: 'ram', base: RAM, bytes: this.ram, access: 'rwx' });
    const ramView = new DataView(this.ram.buffer);
    const codeView = new DataView(this.code.buffer);
    const bus = {
      read32: (a: number) => {
        if (a >= RAM && a < RAM + 0x1000) return ramView.getUint32(a - RAM, true);
        if (a >= CODE && a < CODE + 0x1000) return codeView.getUint32(a - CODE, true);
        throw new Error(`no memory at 0x${a.toString(16)}`);
      },
      write32: (a: number, v: number) => {
        if (a >= RAM && a < RAM + 0x1000) ramView.setUint32(a - RAM, v, true);
        else throw new Error(`no RAM at 0x${a.toString(16)}`);
      },
    };
    this.exceptions = new ExceptionModel({ core, bus, irqCount: 8, priorityBits: 4 });
    const device: TimedDevice = {
      nextEventAfter: (t) => [this.readyAt, this.irqAt].filter((x) => x > t && Number.isFinite(x)).sort((a, b) => a - b)[0],
      advanceTo: (t) => {
        // A pulse on the line: pending once, as an edge-triggered source would leave it.
        if (t < this.irqAt) return;
        this.exceptions.setIrqLine(0, true);
        this.exceptions.setIrqLine(0, false);
        this.irqAt = Infinity;
      },
    };
    core.mapMmio(DEVICE, 0x1000, {
      read: () => {
        const value = (): number => (this.runner.now() >= this.readyAt ? 1 : 0);
        return this.runner.noteRead(DEVICE, value()) ? value() : value();
      },
      write: () => this.runner.noteWrite(),
    });
    this.runner = new CoreRunner(core, this.exceptions, this.clock, {
      fetch16: (a) => (a >= CODE && a < CODE + 0x1000 ? codeView.getUint16(a - CODE, true) : undefined),
      coreHz: () => 64_000_000,
      devices: [device],
      interceptStop: () => false,
      afterSlice: () => false,
      onLockup: (state) => { this.lockup = state; },
      interruptsQuiet: () => false,
    });
    this.runner.setWatchSites(findWatchedInstructions(this.code, CODE));
  }

  word(offset: number): number {
    return new DataView(this.ram.buffer).getUint32(offset, true);
  }

  close(): void {
    this.runner.halt();
    this.core.close();
  }

  start(): void {
    this.exceptions.reset(CODE);
    this.runner.start();
  }

  /** Lets virtual time run until `done` holds, up to `limitMs`. */
  async until(done: () => boolean, limitMs = 100): Promise<number> {
    const end = this.clock.now() + limitMs;
    while (!done() && this.clock.now() < end) await this.clock.sleep(1);
    if (!done()) throw new Error(`condition not met within ${limitMs} ms of virtual time`);
    return this.clock.now();
  }
}

describe.skipIf(!availability.available)(`Cortex-M7 on Unicorn: exceptions and time${skipNote}`, () => {
  it('reset loads SP_main and the PC from the vector table; SVC runs its handler and returns past the instruction', async () => {
    const chip = new TestChip(await openUnicornCore());
    chip.start();
    await chip.until(() => chip.word(4) === 7);
    expect(chip.word(0)).toBe(0xa5);
    chip.close();
  });

  it('an enabled pending interrupt preempts Thread mode on the main stack with EXC_RETURN 0xFFFFFFF9 and restores r0-r3', async () => {
    const chip = new TestChip(await openUnicornCore());
    chip.start();
    await chip.until(() => chip.word(4) === 7);
    chip.exceptions.setIrqEnabled(0, true);
    chip.exceptions.setPending(FIRST_IRQ + 0);
    await chip.until(() => chip.word(28) === 13);
    expect(chip.word(12)).toBe(0xfffffff9);
    expect([chip.word(16), chip.word(20), chip.word(24), chip.word(28)]).toEqual([10, 11, 12, 13]);
    expect(chip.core.readRegister('ipsr')).toBe(0);
    expect(chip.exceptions.isActive(FIRST_IRQ)).toBe(false);
    chip.close();
  });

  it('a disabled interrupt stays pending and the thread keeps waiting', async () => {
    const chip = new TestChip(await openUnicornCore());
    chip.start();
    chip.exceptions.setPending(FIRST_IRQ + 0);
    await chip.clock.sleep(5);
    expect(chip.word(8)).toBe(0);
    expect(chip.exceptions.isPending(FIRST_IRQ)).toBe(true);
    chip.close();
  });

  it('WFI sleeps until the interrupt is due instead of executing, then continues past the WFI', async () => {
    const chip = new TestChip(await openUnicornCore());
    chip.start();
    chip.exceptions.setIrqEnabled(0, true);
    chip.exceptions.setPending(FIRST_IRQ + 0);
    await chip.until(() => chip.word(28) === 13);
    const due = chip.clock.now() + 20;
    chip.irqAt = due;
    // The timer was just programmed: a sleeping core re-reads when its next event is.
    chip.runner.wake();
    const before = chip.runner.stats.instructions;
    const woke = await chip.until(() => chip.word(32) === 0x77);
    expect(woke).toBeGreaterThanOrEqual(due);
    expect(woke).toBeLessThanOrEqual(due + 1);
    // 20 ms of virtual time at 64 MHz would be 1.28 million instructions if the core spun.
    expect(chip.runner.stats.instructions - before).toBeLessThan(10_000);
    chip.close();
  });

  it('a loop polling an unchanged register skips to the device event rather than spinning', async () => {
    const chip = new TestChip(await openUnicornCore());
    chip.start();
    chip.exceptions.setIrqEnabled(0, true);
    chip.exceptions.setPending(FIRST_IRQ + 0);
    chip.irqAt = 3;
    chip.readyAt = 40;
    const done = await chip.until(() => chip.word(36) === 0x55);
    expect(done).toBeGreaterThanOrEqual(40);
    expect(done).toBeLessThanOrEqual(41);
    expect(chip.runner.stats.sleeps).toBeGreaterThan(0);
    expect(chip.runner.stats.instructions).toBeLessThan(40 * 64_000 / 10);
    chip.close();
  });

  it('a read from unmapped memory enters HardFault; a fault inside HardFault locks the core up', async () => {
    const chip = new TestChip(await openUnicornCore());
    chip.start();
    chip.exceptions.setIrqEnabled(0, true);
    chip.exceptions.setPending(FIRST_IRQ + 0);
    chip.irqAt = 1;
    chip.readyAt = 2;
    await chip.until(() => chip.lockup !== undefined);
    expect(chip.word(40)).toBe(0xfa);
    expect(chip.lockup!.reason).toMatch(/read bus error at 0x60000000.*already at HardFault/);
    expect(chip.exceptions.bfar).toBe(0x60000000);
    expect(chip.exceptions.hfsr >>> 0).toBe(0x40000000);
    expect(chip.runner.isRunning).toBe(false);
    chip.close();
  });

  it('an exception thrown in a register callback comes out of run(), not through native code, and the core still runs', async () => {
    const core = await openUnicornCore();
    const code = program();
    core.mapMemory({ name: 'code', base: CODE, bytes: code, access: 'rx' });
    core.mapMemory({ name: 'ram', base: RAM, bytes: new Uint8Array(0x1000), access: 'rwx' });
    core.mapMmio(DEVICE, 0x1000, { read: () => { throw new Error('register model broke'); }, write: () => undefined });
    core.writeRegister('msp', 0x20001000);
    core.writeRegister('r1', DEVICE);
    expect(() => core.run(0x12b, 10)).toThrow('register model broke');
    expect(core.run(0x12f, 1).stop.kind).toBe('budget');
    core.close();
  });
});
