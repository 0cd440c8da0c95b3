// The example of a team's own application (src/example/example-app.c) runs on the simulated board
// in executed mode: its own banner, LD1 lit, its `version`, and its own way into the ROM.
// Skipped, with the reason, where libunicorn 2 is not installed.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../harness/clock/virtual-clock.js';
import { SimulatedNucleoH745 } from '../harness/sim/board/nucleo-h745.js';
import { ST_ROM_H745_V9_2 } from '../harness/sim/bootloader/profiles.js';
import { openUnicornCore, unicornAvailability } from '../harness/sim/cpu/unicorn-core.js';
import { ConsoleTranscript } from '../harness/sim/uart/console-transcript.js';
import { InProcessUsbBus } from '../harness/usb/in-process-bus.js';

const here = dirname(fileURLToPath(import.meta.url));
const availability = await unicornAvailability();
const skipNote = availability.available ? '' : ` (skipped: ${availability.reason}; .ci/run installs libunicorn2)`;

describe.skipIf(!availability.available)(`the example application, executed${skipNote}`, () => {
  async function boot() {
    const clock = new VirtualClock();
    const board = new SimulatedNucleoH745({ clock, profile: ST_ROM_H745_V9_2, application: { kind: 'executed', core: await openUnicornCore() } });
    board.loadImage(0x08000000, new Uint8Array(await readFile(join(here, 'images', 'example-app-2.0.0.bin'))));
    board.loadImage(0x08100000, new Uint8Array(await readFile(join(here, 'images', 'cm4-idle-1.0.0.bin'))));
    const bus = new InProcessUsbBus({ clock });
    bus.addConnector(board.usb);
    const console = new ConsoleTranscript(clock, board.console);
    board.powerOn();
    await console.waitFor(/ up$/);
    return { clock, board, bus, console };
  }

  it('announces itself with its own banner, not READY, and lights LD1', async () => {
    const { board, console } = await boot();
    expect(console.texts).toEqual(['example-app 2.0.0 up']);
    expect((board.gpio.port('B').read(0x10) & 1)).toBe(1);
    expect(board.mcu.pwr.supplyBits).toBe(0x04);
    board.dispose();
  });

  it('answers `version`, and `update` takes it into the ROM bootloader by its magic word and a reset', async () => {
    const { board, bus, console } = await boot();
    expect(await ask(console, 'version')).toEqual(['example-app 2.0.0']);
    expect(await ask(console, 'dfu jump')).toEqual(['? dfu jump']);
    console.send('update');
    await console.waitFor('entering the bootloader');
    const rom = await bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 1000);
    expect(rom.portPath).toBe('1-1');
    expect(board.runningCode).toBe('bootloader');
    expect(board.mcu.romEntryProblems).toEqual([]);
    board.dispose();
  });
});

/** Sends a line and returns the one answer line the example gives. */
async function ask(console: ConsoleTranscript, line: string): Promise<string[]> {
  const from = console.lines.length;
  console.send(line);
  const at = await console.waitFor(/./, from);
  return [console.texts[at]!];
}
