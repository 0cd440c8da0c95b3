import type { Command } from 'commander';
import { ENTRY_METHODS, formatUsbId } from '../../rig/config/vocabulary.js';
import type { CliContext } from '../context.js';
import { CliUsageError } from '../usage-error.js';
import { checkEntryMethodName, chooseEntryMethod, entryJson } from './board-checks.js';

/** `dfu-hil enter [method]`: puts the board into the DFU bootloader by a named method. */
export function registerEnter(program: Command, ctx: CliContext): void {
  program.command('enter')
    .description('enter the DFU bootloader by a method the rig offers (default: its first)')
    .argument('[method]', `one of ${ENTRY_METHODS.join(', ')}`)
    .option('--method <method>', 'the same as the argument, for scripts that prefer options')
    .option('--rc-delay <ms>', 'for rc: ms the RC decays before the reset', (v) => Number.parseInt(v, 10))
    .addHelpText('after', '\nA board already in DFU mode is left as it is. On a simulated rig the board stays in DFU mode\nafter this command ends, until `dfu-hil leave` (or `dfu-hil sim reset`).')
    .action(async (argument: string | undefined, options: { method?: string; rcDelay?: number }) => {
      if (argument !== undefined && options.method !== undefined && argument !== options.method) {
        throw new CliUsageError(`two entry methods given: "${argument}" and --method "${options.method}"`, 'Give the method once.');
      }
      checkEntryMethodName(argument ?? options.method);
      if (options.rcDelay !== undefined && !(Number.isInteger(options.rcDelay) && options.rcDelay >= 0)) {
        throw new CliUsageError('--rc-delay needs a whole number of milliseconds', 'For example: --rc-delay 5.');
      }
      await ctx.withRig(async (rig) => {
        const method = chooseEntryMethod(rig, argument ?? options.method);
        if (await rig.bootloaderPresent()) {
          // The same keys as after an entry; what only an entry measures is null.
          if (ctx.json) ctx.outJson({ rig: rig.name, alreadyInDfu: true, method: null, vidPid: formatUsbId(rig.capabilities.bootloader.vidPid), serialNumber: null, portPath: null, enumeratedAfterMs: null });
          else ctx.out(`${rig.name}: already in DFU mode as ${formatUsbId(rig.capabilities.bootloader.vidPid)}`);
          return;
        }
        const report = await rig.enterDfu(method, options.rcDelay === undefined ? {} : { rcDelayMs: options.rcDelay });
        if (ctx.json) {
          ctx.outJson({ rig: rig.name, alreadyInDfu: false, ...entryJson(report) });
        } else {
          ctx.out(`${rig.name}: in DFU mode via ${method} as ${formatUsbId(report.vidPid)}${report.serialNumber ? ` SN ${report.serialNumber}` : ''} @${report.portPath} after ${report.enumeratedAfterMs} ms`);
        }
      });
    });
}
