// A rig's flash is differential by default, with the rig's record of its board's flash: trusted
// while the rig saw everything that reached the board, distrusted after a power cycle, a reset,
// an armed fault or the probe; and the reference restore clears ECC errors a skip would keep.
import { afterEach, describe, expect, it } from 'vitest';
import { buildTestAppImage } from '../../image/synthetic-app.js';
import { parseRigs } from '../config/load-rigs.js';
import { loadReferenceImages } from '../reference-images.js';
import { createSimRig, type SimRig } from './sim-rig.js';

const config = parseRigs('rigs:\n  sim-h745:\n    kind: sim\n    usb: { serial: "200364500000" }\n    probe: { tool: st-flash }\n    entry:\n      console-jump:\n', 'rigs.yaml').rigs.get('sim-h745')!;
const image = buildTestAppImage({ name: 'dfu-hil-rig-flash', version: '1.0.0', size: 0x20000 + 0x1000 });

const rigs: SimRig[] = [];
afterEach(async () => {
  for (const rig of rigs.splice(0)) await rig.close();
});

async function rigInDfu(): Promise<SimRig> {
  const rig = await createSimRig(config, await loadReferenceImages());
  rigs.push(rig);
  await rig.enterDfu('console-jump');
  return rig;
}

describe('differential flashing on a simulated rig', () => {
  it('skips what it wrote itself without reading it back, says so in its step, and --full writes everything again', async () => {
    const rig = await rigInDfu();
    const first = await rig.flash(image);
    // The rig's record is empty at first: both sectors read back, and both differ.
    expect(first).toMatchObject({ erasedSectors: [0x08000000, 0x08020000], skippedSectors: [], differential: { fromCache: [], readBack: [0x08000000, 0x08020000] } });
    const again = await rig.flash(image);
    expect(again).toMatchObject({ erasedSectors: [], skippedSectors: [0x08000000, 0x08020000], bytesWritten: 0, verified: true, differential: { fromCache: [0x08000000, 0x08020000], readBack: [] } });
    expect(rig.trace.steps.at(-1)?.detail).toBe('erased 0 sectors, skipped 2 unchanged (known from the flash cache), wrote 0 bytes, verified');
    const full = await rig.flash(image, { full: true });
    expect(full).toMatchObject({ erasedSectors: [0x08000000, 0x08020000], skippedSectors: [], bytesWritten: 0x21000 });
    expect(full.differential).toBeUndefined();
  });

  it.each([
    ['a power cycle', async (rig: SimRig) => { await rig.powerCycle(); await rig.waitForApp(); await rig.enterDfu('console-jump'); }, 'a power cycle'],
    ['a reset', async (rig: SimRig) => { await rig.reset(); await rig.waitForApp(); await rig.enterDfu('console-jump'); }, 'a reset (NRST)'],
    ['an armed fault', async (rig: SimRig) => { rig.faults!.stall('UPLOAD', 1000).disarm(); }, 'fault armed: STALL'],
    ['the probe writing flash', async (rig: SimRig) => { await rig.probe!.massErase(); }, 'the debug probe mass-erased the flash'],
  ])('distrusts its record after %s, reads back, and ends right', async (_, act, reason) => {
    const rig = await rigInDfu();
    await rig.flash(image);
    await act(rig);
    const report = await rig.flash(image);
    expect(report.differential?.cacheDistrusted).toMatch(new RegExp(`^${reason.replace(/[()#]/g, '\\$&')}`));
    expect(report.differential?.readBack).toEqual([0x08000000, 0x08020000]);
    expect(Buffer.compare(rig.backends.board.flash.read(0x08000000, image.segments[0]!.data.length), image.segments[0]!.data)).toBe(0);
  });

  it('the reference restore clears ECC errors in a sector whose bytes read right, which a skip would keep', async () => {
    const rig = await createSimRig(config, await loadReferenceImages());
    rigs.push(rig);
    // Reference A programmed a second time over itself, unerased: the same bytes, every word an ECC error.
    for (const s of rig.images.appA.segments) rig.backends.board.flash.program(s.address, s.data);
    await rig.reset();
    await rig.waitForApp();
    expect((await rig.console.boot()).ecc).toBeGreaterThan(0);
    expect(await rig.restoreReference()).toBe('reflashed');
    expect((await rig.console.boot()).ecc).toBe(0);
    expect(rig.trace.steps.filter((s) => s.action.startsWith('flash')).at(-1)?.detail).toMatch(/^erased 1 sector, wrote/);
  });
});

describe('a simulated rig\'s flash timing', () => {
  const timed = (timing: string) => parseRigs(`rigs:\n  slow:\n    kind: sim\n    flashTiming: ${timing}\n    entry:\n      console-jump:\n`, 'rigs.yaml').rigs.get('slow')!;

  it('takes the busy times rigs.yaml gives, and the defaults for the rest', async () => {
    const rig = await createSimRig(timed('{ sectorEraseMs: 2200, wordProgramUs: 260 }'), await loadReferenceImages());
    rigs.push(rig);
    expect(rig.backends.board.flash.timing).toEqual({ sectorEraseMs: 2200, bankEraseMs: 8800, massEraseMs: 8800, wordProgramUs: 260, optionBytesProgramMs: 100 });
    await rig.enterDfu('console-jump');
    const started = rig.clock.now();
    // Two sectors erased at 2.2 s each, then 0x21000 bytes = 4224 flash words at 260 µs.
    await rig.flash(image, { full: true, verify: false });
    expect(rig.clock.now() - started).toBeGreaterThanOrEqual(2 * 2200 + (4224 * 260) / 1000);
    expect(rig.clock.now() - started).toBeLessThan(2 * 2200 + (4224 * 260) / 1000 + 500);
  });

  it('is refused on a hardware rig and where a time is not positive, naming the key', () => {
    expect(() => parseRigs('rigs:\n  b:\n    kind: nucleo-h745\n    usb: { portPath: "1-4" }\n    console: { path: /dev/ttyACM0 }\n    flashTiming: { sectorEraseMs: 2200 }\n', 'rigs.yaml'))
      .toThrow(/rigs\.b\.flashTiming[\s\S]*expected no "flashTiming:" on a hardware rig/);
    expect(() => parseRigs('rigs:\n  s:\n    kind: sim\n    flashTiming: { wordProgramUs: -1 }\n', 'rigs.yaml'))
      .toThrow(/rigs\.s\.flashTiming\.wordProgramUs[\s\S]*expected a positive duration in microseconds like 130/);
    expect(() => parseRigs('rigs:\n  s:\n    kind: sim\n    flashTiming: { sectorEraseMS: 2200 }\n', 'rigs.yaml'))
      .toThrow(/did you mean "sectorEraseMs"/);
  });
});
