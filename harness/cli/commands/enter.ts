import type { Command } from 'commander';
import { ENTRY_METHODS, formatUsbId, type EntryMethod } from '../../rig/config/schema.js';
import { requireCapabilities } from '../../rig/rig.js';
import { CliUsageError, type CliContext } from '../context.js';

/** `dfu-hil enter <method>`: puts the board into the DFU bootloader by a named method. */
export function registerEnter(program: Command, ctx: CliContext): void {
  program.command('enter')
    .description('enter the DFU bootloader by a method the rig offers')
    .argument('<method>', `one of ${ENTRY_METHODS.join(', ')}`)
    .option('--rc-delay <ms>', 'for rc: ms the RC decays before the reset', (v) => Number.parseInt(v, 10))
    .action(async (method: string, options: { rcDelay?: number }) => {
      if (!(ENTRY_METHODS as readonly string[]).includes(method)) {
        throw new CliUsageError(`unknown entry method "${method}"`, `Use one of: ${ENTRY_METHODS.join(', ')}.`);
      }
      await ctx.withRig(async (rig) => {
        requireCapabilities(rig, method as EntryMethod);
        const report = await rig.enterDfu(method as EntryMethod, options.rcDelay === undefined ? {} : { rcDelayMs: options.rcDelay });
        if (ctx.json) ctx.outJson({ rig: rig.name, ...report, vidPid: formatUsbId(report.vidPid) });
        else ctx.out(`${rig.name}: in DFU mode via ${method} as ${formatUsbId(report.vidPid)}${report.serialNumber ? ` SN ${report.serialNumber}` : ''} @${report.portPath} after ${report.enumeratedAfterMs} ms`);
      });
    });
}
