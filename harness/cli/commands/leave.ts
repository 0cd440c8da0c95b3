import type { Command } from 'commander';
import type { CliContext } from '../context.js';
import { applicationJson, describeApplicationUp, requireDfuMode } from './board-checks.js';

/** `dfu-hil leave`: leaves DFU and, unless told not to, waits for the application as the rig's appReady says. */
export function registerLeave(program: Command, ctx: CliContext): void {
  program.command('leave')
    .description('leave DFU mode (a jump to the application) and wait for it to be up (the rig\'s appReady: READY by default)')
    .option('--no-wait', 'do not wait for the application')
    .action(async (options: { wait: boolean }) => {
      await ctx.withRig(async (rig) => {
        await requireDfuMode(rig, 'leave');
        const report = await rig.leave();
        const banner = options.wait ? await rig.waitForApp(rig.config.timeouts.readyMs) : undefined;
        if (ctx.json) ctx.outJson({ rig: rig.name, leave: report, application: banner ? applicationJson(banner) : null });
        else ctx.out(`${rig.name}: left DFU (${report.outcome})${banner ? `; ${describeApplicationUp(banner)}` : ''}`);
      });
    });
}
