import type { Command } from 'commander';
import { hex32 } from '../../errors.js';
import { GPIO_PORTS, GPIO_REGISTERS } from '../../serial/console-protocol.js';
import type { CliContext } from '../context.js';
import { requireApplication } from './board-checks.js';

/** `dfu-hil gpio`: the GPIO registers of ports A..K as the application reads them. */
export function registerGpio(program: Command, ctx: CliContext): void {
  program.command('gpio')
    .description('print the GPIO registers of ports A..K as the application reads them (table, or --json)')
    .action(async () => {
      await ctx.withRig(async (rig) => {
        await requireApplication(rig, 'gpio');
        const snapshot = await rig.gpioSnapshot();
        if (ctx.json) {
          // Numbers, not hex text: scripts mask and compare them.
          ctx.outJson({ rig: rig.name, gpio: snapshot });
          return;
        }
        ctx.out(`port  ${GPIO_REGISTERS.map((r) => r.padEnd(10)).join(' ')}`);
        for (const port of GPIO_PORTS) {
          const regs = snapshot[port];
          if (regs) ctx.out(`${port.padEnd(4)}  ${GPIO_REGISTERS.map((r) => hex32(regs[r])).join(' ')}`);
        }
      });
    });
}
