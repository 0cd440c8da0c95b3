import type { Command } from 'commander';
import type { ReferenceRestore } from '../../rig/rig.js';
import { type Rig } from '../../rig/rig.js';
import { RigInfrastructureError } from '../../rig/rig-errors.js';
import type { CliContext } from '../context.js';

const HOW: Record<ReferenceRestore, string> = {
  already: 'it already runs the reference application; nothing was changed',
  reflashed: 'reflashed over DFU',
  reset: 'a reset brought it back',
  recovered: 'recovered with the probe or through BOOT0, then DFU',
};

/** What the rig offers a person to revive a board with, for the message when nothing worked. */
function means(rig: Rig): string {
  const have = [
    rig.capabilities.probe ? `a ${rig.capabilities.probe.tool} probe` : undefined,
    rig.capabilities.entryMethods.includes('boot0-jumper') ? 'a BOOT0 jumper with switched power' : undefined,
  ].filter(Boolean);
  return have.length > 0 ? `it has ${have.join(' and ')}` : 'it has neither a debug probe nor a BOOT0 jumper with switched power';
}

/** `dfu-hil recover`: brings a board left unbootable back to the rig's reference images, with whatever the rig has. */
export function registerRecover(program: Command, ctx: CliContext): void {
  program.command('recover')
    .description('bring a board that does not boot back to the reference application, by DFU, the probe or BOOT0')
    .addHelpText('after', [
      '',
      'Cheapest way first: reflash over DFU if the bootloader is on the bus (or the application can still',
      'enter it), else a reset, else the debug probe (mass erase and program over SWD), else BOOT0 high',
      'and a power cycle into the ROM bootloader, then DFU. Afterwards the board runs reference',
      'application A with the CM4 image in bank 2, as every test starts. A readout-protected board is',
      'unprotected first where the rig allows option bytes (this erases the flash).',
    ].join('\n'))
    .action(async () => {
      await ctx.withRig(async (rig) => {
        let how: ReferenceRestore;
        try {
          how = await rig.restoreReference();
        } catch (error) {
          if (!(error instanceof RigInfrastructureError)) throw error;
          throw new RigInfrastructureError(error.code, error.message, {
            cause: error,
            hint: rig.capabilities.probe || rig.capabilities.entryMethods.includes('boot0-jumper')
              ? `${error.hint ?? ''} The rig's means were tried (${means(rig)}).`.trim()
              : `dfu-hil could not reach the bootloader: ${means(rig)}. Hold BOOT0 high by hand (NUCLEO-H745ZI-Q: CN11 pin 7 to VDD), power-cycle the board, then run \`dfu-hil recover\` again: it reflashes from DFU mode.`,
          });
        }
        const { name, version } = await rig.console.version();
        if (ctx.json) {
          ctx.outJson({ rig: rig.name, how, application: { name, version } });
          return;
        }
        ctx.out(`${rig.name}: ${HOW[how]}; application ${name} ${version} is up`);
      });
    });
}
