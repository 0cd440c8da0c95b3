// The differential check between the two ways a simulated board runs the test application: the
// TypeScript model, and the committed firmware executed on the emulated Cortex-M7. The same
// console script goes to both boards; every line they send back must be the same. Only timing may
// differ, and only as README "Executed firmware" documents (the firmware is paced by its own
// instructions and UART bit times, the model by whole virtual milliseconds). Skipped, with the
// reason, where libunicorn 2 is not installed.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { DFU_MAGIC, DFU_MAGIC_ADDRESS } from '../app/dfu-magic.js';
import { bootloaderProfiles } from '../bootloader/profiles.js';
import { openUnicornCore, unicornAvailability } from '../cpu/unicorn-core.js';
import { ConsoleTranscript } from '../uart/console-transcript.js';
import { SimulatedNucleoH745 } from './nucleo-h745.js';

const availability = await unicornAvailability();
const skipNote = availability.available ? '' : ` (skipped: ${availability.reason}; .ci/run installs libunicorn2)`;
const image = (name: string): Uint8Array => new Uint8Array(readFileSync(fileURLToPath(new URL(`../../../firmware-images/images/${name}`, import.meta.url))));

/** One board and what it said. */
interface Run {
  board: SimulatedNucleoH745;
  clock: VirtualClock;
  transcript: ConsoleTranscript;
}

/** A step of the script: something the host or the bench does, then time for the board to answer. */
type Step = (run: Run) => void | Promise<void>;

const send = (text: string): Step => ({ board }) => { board.console.write(Buffer.from(text, 'latin1')); };

/** The script: every verb, odd input, and each behaviour in which the model had drifted from the firmware. */
const SCRIPT: ReadonlyArray<readonly [string, Step]> = [
  ['version', send('version\n')],
  ['boot', send('boot\n')],
  ['gpio', send('gpio\n')],
  ['pin PB0 1', send('pin PB0 1\n')],
  ['pin pb14 1 (lower case)', send('pin pb14 1\n')],
  ['pin PZ1 1', send('pin PZ1 1\n')],
  ['pin PB16 1', send('pin PB16 1\n')],
  ['pin PB0', send('pin PB0\n')],
  ['spaces and tabs around', send('  version\t \n')],
  ['CR before LF', send('version\r\n')],
  ['CR inside', send('ver\rsion\n')],
  ['vertical tab is not a separator', send('ver\x0bsion\n')],
  ['NUL ends the text', send('version\x00 and noise\n')],
  ['NUL first', send('\x00version\n')],
  ['empty line', send('\n')],
  ['unknown verb', send('hello there\n')],
  ['long line cut at 256', send(`${'x'.repeat(300)}\n`)],
  ['dfu rc above 2^32 - 1', send('dfu rc 4294967296\n')],
  ['dfu rc negative', send('dfu rc -1\n')],
  ['dfu rc not a number', send('dfu rc 1x\n')],
  ['dfu unknown', send('dfu bogus\n')],
  ['dfu jump with an argument', send('dfu jump now\n')],
  ['reset with an argument', send('reset now\n')],
  ['two commands in one write: the second overruns the receiver', send('version\nversion\n')],
  ['the next command finds the byte the receiver kept', send('version\n')],
  ['bank 2 replaced while the CM4 runs: cm4= is inferred from flash', ({ board }) => {
    board.mcu.flash.eraseSector(2, 0);
    board.mcu.flash.program(0x08100000, image('cm4-idle-1.0.0.bin'));
    board.console.write(Buffer.from('boot\n'));
  }],
  ['magic word left, pin reset: not acted on and cleared', ({ board }) => {
    const word = new Uint8Array(8);
    new DataView(word.buffer).setBigUint64(0, DFU_MAGIC, true);
    board.debug.writeMemory(DFU_MAGIC_ADDRESS, word);
    board.pressReset();
  }],
  ['then a software reset boots the application again', send('reset\n')],
  ['dfu direct', send('dfu direct\n')],
];

async function runScript(executed: boolean): Promise<{ lines: string[]; times: number[]; ready: number; facts: Record<string, unknown> }> {
  const clock = new VirtualClock();
  const board = new SimulatedNucleoH745({
    clock, profile: bootloaderProfiles['st-rom-v9.2']!,
    application: executed ? { kind: 'executed', core: await openUnicornCore() } : { kind: 'modelled' },
  });
  board.loadImage(0x08000000, image('testapp-1.0.0.bin'));
  board.loadImage(0x08100000, image('cm4-idle-1.0.0.bin'));
  const run: Run = { board, clock, transcript: new ConsoleTranscript(clock, board.console) };
  const lines: string[] = [];
  /** Each answer line's virtual time after its step began, in ms (script headings: -1). */
  const times: number[] = [];
  board.powerOn();
  await run.transcript.waitFor(/^READY/);
  const ready = run.transcript.lines[0]!.t;
  const facts: Record<string, unknown> = { supply: board.mcu.pwr.supplyBits };
  for (const [name, step] of SCRIPT) {
    const from = run.transcript.lines.length;
    const began = clock.now();
    await step(run);
    // Long enough for the longest answer (boot with its ECC scan, a reset and READY).
    await clock.sleep(400);
    const answer = run.transcript.lines.slice(from);
    lines.push(`# ${name}`, ...answer.map((l) => l.text));
    times.push(-1, ...answer.map((l) => l.t - began));
  }
  const rcc = (address: number): number => new DataView(board.debug.readMemory(address, 4).buffer).getUint32(0, true);
  Object.assign(facts, {
    running: board.runningCode,
    magic: board.mcu.sram.readU64(DFU_MAGIC_ADDRESS),
    'RCC_C1_APB1LENR after dfu direct': rcc(0x58024548),
    'RCC_C1_AHB4ENR after dfu direct': rcc(0x58024540),
    'RCC_CFGR after dfu direct': rcc(0x58024410),
  });
  board.dispose();
  return { lines, times, ready, facts };
}

describe.skipIf(!availability.available)(`model and executed firmware, one console script${skipNote}`, () => {
  it('give the same transcript line for line, and leave the board in the same state', async () => {
    const model = await runScript(false);
    const firmware = await runScript(true);
    expect(model.lines).toEqual(firmware.lines);
    expect(model.facts).toEqual(firmware.facts);
    // Timing, documented (README "Executed firmware"): READY within 1 ms of virtual time on both,
    // every answer line within 2 ms of the same line on the other board.
    expect(Math.abs(model.ready - firmware.ready)).toBeLessThanOrEqual(1);
    const late = firmware.times
      .map((t, i) => ({ line: firmware.lines[i]!, model: model.times[i]!, firmware: t }))
      .filter((l) => Math.abs(l.model - l.firmware) > 2);
    expect(late).toEqual([]);
    // And the script did reach each behaviour it is there for.
    expect(firmware.lines).toContain('ERR unknown command ver\x0bsion');
    expect(firmware.lines).toContain('ERR unknown command vversion');
    expect(firmware.lines.filter((l) => l.startsWith('BOOT ')).at(-1)).toMatch(/cm4=running/);
    expect(firmware.facts).toMatchObject({ supply: 0x04, running: 'bootloader', magic: 0n });
  });

  it('show a broken image the same way: nothing on the console, the core in its fault handler', async () => {
    const outcomes: Array<[string, string | undefined]> = [];
    for (const executed of [false, true]) {
      const clock = new VirtualClock();
      const board = new SimulatedNucleoH745({
        clock, profile: bootloaderProfiles['st-rom-v9.2']!,
        application: executed ? { kind: 'executed', core: await openUnicornCore() } : { kind: 'modelled' },
      });
      board.loadImage(0x08000000, image('testapp-broken.bin'));
      const transcript = new ConsoleTranscript(clock, board.console);
      board.powerOn();
      await clock.sleep(100);
      expect(transcript.lines).toEqual([]);
      outcomes.push([board.runningCode, board.mcu.cm7Trouble?.kind]);
      board.dispose();
    }
    expect(outcomes).toEqual([['app', 'fault'], ['app', 'fault']]);
  });
});
