// Bootloader-entry bugs only executed firmware can show: the test application built from the
// same sources with one deliberate bug each (firmware-images, "Mutants"). Each is flashed, boots,
// and is asked to enter DFU the way its bug breaks: the board must end as a bench would show it
// (no DFU device on the bus) and the error must name the cause. A rig that models the
// application instead of executing it cannot see these bugs: there the specs are not applicable.
import { describe } from 'vitest';
import { loadMutantImages } from '../harness/rig/reference-images.js';
import { expect, test } from '../fixtures/hil.js';

const mutants = await loadMutantImages();

/** What the error must say for each mutant: the symptom the simulated chip can explain. */
const EXPECTED_CAUSE: Readonly<Record<string, RegExp>> = {
  'wrong-branch': /fault handler .*read bus error at 0x1FFF0000/,
  'msp-not-loaded': /MSP is 0x2001F[0-9A-F]{3}, not the ROM's initial stack/,
  'magic-inverted': /booted again \("READY dfu-hil-testapp 0\.1\.0-magic"\) instead of entering the bootloader/,
  'irq-pending': /handler of interrupt 39 \(USART3\).*left enabled and pending/,
  'systick-running': /SysTick is counting with its interrupt enabled/,
};

describe('executed firmware catches broken bootloader entries', () => {
  test('the firmware manifest lists a mutant for every bug this suite checks', () => {
    expect(mutants.map((m) => m.name).sort()).toEqual(Object.keys(EXPECTED_CAUSE).sort());
  });

  for (const mutant of mutants) {
    test(`${mutant.name}: entering by ${mutant.entry} leaves no DFU device, and the error names the cause`, async ({ rig, console: appConsole, needs }) => {
      needs('executed-firmware', mutant.entry);
      await rig.enterDfu(rig.capabilities.entryMethods[0]!);
      await rig.flash(mutant.image);
      await rig.leave();
      expect(await rig.waitForApp()).toMatchObject(mutant.identity);
      expect(await appConsole.version()).toEqual(mutant.identity);

      const failed = await rig.enterDfu(mutant.entry, { timeoutMs: 2_000 }).then(() => undefined, (e: unknown) => e);
      expect(failed, `${mutant.name} (${mutant.bug}) entered DFU`).toBeInstanceOf(Error);
      expect(await rig.bootloaderPresent()).toBe(false);
      // A bench sees only the missing device; the simulated chip can also say why.
      if (rig.kind === 'sim') expect((failed as Error).message).toMatch(EXPECTED_CAUSE[mutant.name]!);
    });
  }
});
