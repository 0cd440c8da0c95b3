import type { Command } from 'commander';
import { formatUsbId } from '../../rig/config/schema.js';
import type { CliContext } from '../context.js';

/** `dfu-hil status`: what the rig can do and what the application says about itself. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program.command('status')
    .description('show the rig\'s capabilities and the running application\'s version')
    .action(async () => {
      await ctx.withRig(async (rig) => {
        const caps = rig.capabilities;
        const app = await rig.console.version().catch((error: unknown) => ({ error: (error as Error).message }));
        if (ctx.json) {
          ctx.outJson({ rig: rig.name, kind: rig.kind, capabilities: { ...caps, bootloader: { ...caps.bootloader, vidPid: formatUsbId(caps.bootloader.vidPid) } }, app });
          return;
        }
        ctx.out(`${rig.name} (${rig.kind})`);
        ctx.out(`  entry methods: ${caps.entryMethods.join(', ') || 'none'}`);
        ctx.out(`  probe: ${caps.probe?.tool ?? 'none'}; power control: ${caps.powerControl ? 'yes' : 'no'}; option bytes: ${caps.optionBytes ? 'allowed' : 'refused'}`);
        ctx.out(`  bootloader: ${caps.bootloader.profile ?? 'ST ROM'} as ${formatUsbId(caps.bootloader.vidPid)}`);
        ctx.out('error' in app ? `  application: not answering (${app.error})` : `  application: ${app.name} ${app.version}`);
      });
    });
}
