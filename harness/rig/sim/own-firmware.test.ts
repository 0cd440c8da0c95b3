// A simulated rig that boots the team's own firmware (rigs.yaml `firmware.reference`, here an ELF)
// instead of the test application: it enters DFU through the probe, flashes, leaves, knows when
// the image runs without a console, and is brought back to its reference over SWD.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readElf } from '../../image/elf.js';
import { unicornAvailability } from '../../sim/cpu/unicorn-core.js';
import { parseRigs } from '../config/load-rigs.js';
import { createRig } from '../create-rig.js';
import { FIRMWARE_IMAGES_DIR } from '../reference-images.js';
import { missingCapability } from '../rig.js';

const availability = await unicornAvailability();
const skipNote = availability.available ? '' : ` (skipped: ${availability.reason}; .ci/run installs libunicorn2)`;

/** An ELF32 ARM executable holding `text` at `address` in one PT_LOAD segment, and a bss segment with no file bytes. */
function elf(text: Uint8Array, address: number): Uint8Array {
  const header = 52;
  const ph = 32;
  const out = new Uint8Array(header + 2 * ph + text.length);
  const v = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 1, 1, 1], 0);
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 40, true); // EM_ARM
  v.setUint32(20, 1, true);
  v.setUint32(24, address | 1, true);
  v.setUint32(28, header, true); // e_phoff
  v.setUint16(40, header, true);
  v.setUint16(42, ph, true);
  v.setUint16(44, 2, true);
  const load = (i: number, offset: number, vaddr: number, paddr: number, filesz: number, memsz: number): void => {
    const at = header + i * ph;
    v.setUint32(at, 1, true);
    v.setUint32(at + 4, offset, true);
    v.setUint32(at + 8, vaddr, true);
    v.setUint32(at + 12, paddr, true);
    v.setUint32(at + 16, filesz, true);
    v.setUint32(at + 20, memsz, true);
  };
  load(0, header + 2 * ph, address, address, text.length, text.length);
  load(1, 0, 0x20000000, 0x20000000, 0, 0x100);
  out.set(text, header + 2 * ph);
  return out;
}

describe('readElf', () => {
  it('takes each PT_LOAD with bytes at its physical address and leaves out bss', () => {
    const image = readElf(elf(Uint8Array.of(1, 2, 3, 4), 0x08000000), 'app.elf');
    expect(image.format).toBe('elf');
    expect(image.segments).toEqual([{ address: 0x08000000, data: Uint8Array.of(1, 2, 3, 4) }]);
  });

  it('refuses what is not an ARM executable, naming the file', () => {
    const object = elf(Uint8Array.of(1), 0x08000000);
    new DataView(object.buffer).setUint16(16, 1, true); // ET_REL
    expect(() => readElf(object, 'main.o')).toThrow(/main\.o: an ELF of type 1 for machine 40/);
    expect(() => readElf(Uint8Array.of(1, 2, 3), 'x.bin')).toThrow(/not an ELF file/);
  });
});

describe.skipIf(!availability.available)(`a simulated rig booting its own firmware${skipNote}`, () => {
  const work = mkdtemp(path.join(tmpdir(), 'dfu-hil-own-'));
  afterAll(async () => rm(await work, { recursive: true, force: true }));

  it('boots the reference image, enters DFU by the probe, flashes, leaves and restores it over SWD', async () => {
    const dir = await work;
    // The team's application, as its build leaves it: here version B of the test app, linked into an ELF.
    const text = new Uint8Array(await readFile(path.join(FIRMWARE_IMAGES_DIR, 'testapp-1.1.0.bin')));
    await writeFile(path.join(dir, 'app.elf'), elf(text, 0x08000000));
    const rigs = parseRigs([
      'rigs:',
      '  own:',
      '    kind: sim',
      '    application: executed',
      '    firmware: { reference: app.elf }',
      '    probe: { tool: st-flash }',
      '    entry: { probe: }',
    ].join('\n'), path.join(dir, 'rigs.yaml'));
    const config = rigs.rigs.get('own')!;
    expect(config.firmware?.reference).toBe(path.join(dir, 'app.elf'));
    const rig = await createRig(config, { env: process.env, warn: () => undefined });
    try {
      expect(rig.capabilities.testAppConsole).toBe(false);
      expect(missingCapability(rig, 'console-jump')).toMatch(/does not offer/);
      expect(rig.images.identity.a).toEqual({ name: 'dfu-hil-testapp', version: '1.1.0' });
      expect(await rig.waitForApp()).toMatchObject(rig.images.identity.a);

      await rig.enterDfu('probe');
      await rig.flash(rig.images.appB);
      await rig.leave();
      expect(await rig.waitForApp()).toMatchObject({ version: '1.1.0' });
      await rig.enterDfu('probe');
      await rig.flash(rig.images.broken);
      await rig.leave();
      await expect(rig.waitForApp(500)).rejects.toThrow(/did not start within 500 ms.*likely cause: the Cortex-M7 is in its fault handler/);
      expect(await rig.restoreReference()).toBe('recovered');
      expect(await rig.waitForApp()).toMatchObject(rig.images.identity.a);
    } finally {
      await rig.close();
    }
  });

  it('says what is wrong with a rig that names its own firmware but cannot run it', () => {
    expect(() => parseRigs('rigs:\n  x:\n    kind: sim\n    firmware: { reference: app.elf }\n    probe: {}\n    entry: { probe: }\n', 'rigs.yaml'))
      .toThrow(/rigs\.x\.firmware.*on a simulated rig only with "application: executed"/);
    expect(() => parseRigs('rigs:\n  x:\n    kind: sim\n    application: executed\n    firmware: { reference: app.elf }\n    probe: {}\n', 'rigs.yaml'))
      .toThrow(/console-jump, console-direct need the test application's console/);
  });
});
