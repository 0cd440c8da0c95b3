import type { Command } from 'commander';
import { CliUsageError, type CliContext } from '../context.js';

/** `dfu-hil sim reset`: forgets a simulated rig's saved board, back to its factory state. */
export function registerSim(program: Command, ctx: CliContext): void {
  const sim = program.command('sim')
    .description('manage the boards of simulated rigs, which persist between commands')
    .addHelpText('after', '\nA simulated board keeps its flash, option bytes and what it runs (application or bootloader)\nbetween dfu-hil commands, in .dfu-hil/sim/<rig>/ next to rigs.yaml (DFU_HIL_STATE_DIR moves it).');
  sim.command('reset')
    .description('put the chosen simulated rig\'s board back to its factory state (reference application, application running)')
    .action(async () => {
      const { rig } = await ctx.pickedRig();
      if (rig.kind !== 'sim') {
        throw new CliUsageError(`rig ${rig.name} is a ${rig.kind} board, not a simulated one`, 'Pick a simulated rig with --rig (`dfu-hil rigs` lists them); a real board is recovered with its probe.');
      }
      const store = ctx.simStateStore(rig.name);
      const existed = await store.reset();
      if (ctx.json) ctx.outJson({ rig: rig.name, reset: true, hadState: existed, dir: store.dir });
      else ctx.out(existed ? `${rig.name}: simulated board back to factory state (removed ${store.dir})` : `${rig.name}: simulated board already in factory state (nothing saved in ${store.dir})`);
    });
}
