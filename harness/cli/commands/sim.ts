import { rm } from 'node:fs/promises';
import type { Command } from 'commander';
import { leaseGatedConnector } from '../../rig/lease-gate.js';
import { relayConsole } from '../../serial/console-relay.js';
import type { CliContext } from '../context.js';
import { CliUsageError } from '../usage-error.js';
import { EXPOSURE_ENV, exposureLeaseDir, type Exposure } from '../exposure.js';
import { runningCodeOf } from '../running-code.js';

/** Commands that replace or expose the saved board make no sense on a board another command exposes. */
function refuseUnderExposure(ctx: CliContext, rig: string, command: string): void {
  if (ctx.exposure?.rig === rig) {
    throw new CliUsageError(`${command} cannot run under \`dfu-hil sim expose\` of rig ${rig}: that command holds the board`, `Run ${command} after the exposing command has ended.`);
  }
}

/** `dfu-hil sim reset` and `dfu-hil sim expose`: the boards of simulated rigs. */
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
      refuseUnderExposure(ctx, rig.name, 'sim reset');
      const store = ctx.simStateStore(rig.name);
      // The saved board is the board: another command may be using it.
      const existed = await ctx.withSimLease(rig, () => store.reset());
      if (ctx.json) ctx.outJson({ rig: rig.name, reset: true, hadState: existed, dir: store.dir });
      else ctx.out(existed ? `${rig.name}: simulated board back to factory state (removed ${store.dir})` : `${rig.name}: simulated board already in factory state (nothing saved in ${store.dir})`);
    });

  sim.command('expose')
    .description('run a program that sees the simulated board\'s USB as a real device (Linux, umockdev)')
    .argument('<program>', 'the program to run, e.g. dfu-util')
    .argument('[args...]', 'its arguments (put -- before them)')
    .option('--timeout <ms>', 'kill the program after this many milliseconds', (v) => Number.parseInt(v, 10))
    .addHelpText('after', [
      '',
      'The program runs under umockdev\'s preload library and sees the board\'s bootloader as a real',
      'USB device (0483:df11) while the board is in DFU mode; leave, reset or Read Unprotect take it',
      'off the bus as on a bench. The board\'s state is saved afterwards, as for every command.',
      '',
      'Examples:',
      '  dfu-hil enter && dfu-hil sim expose -- dfu-util -l',
      '  dfu-hil sim expose -- dfu-util -a 0 -s 0x08000000:leave -D app.bin',
      '',
      'Exits with the program\'s exit code. Needs: sudo apt-get install -y umockdev libumockdev-dev gcc pkg-config',
    ].join('\n'))
    .action(async (file: string, args: string[], options: { timeout?: number }) => {
      const { rig: config } = await ctx.pickedRig();
      if (config.kind !== 'sim') {
        throw new CliUsageError(`rig ${config.name} is a ${config.kind} board; only a simulated board can be exposed`, 'A real board is already on your USB bus: run the program directly.');
      }
      refuseUnderExposure(ctx, config.name, 'sim expose');
      const { ExposedBoard } = await import('../../usb-emulation/exposed-board.js');
      await ctx.withRig(async (rig, lease) => {
        const sim = rig.simulation;
        if (!sim) throw new CliUsageError(`rig ${config.name} has no simulated board to expose`, 'Pick a simulated rig with --rig (`dfu-hil rigs` lists them).');
        const mark = rig.console.mark();
        // The program reaches the board only while this command holds its lease.
        const exposed = await ExposedBoard.start({ clock: rig.clock, connector: leaseGatedConnector(sim.usbConnector, lease) });
        const relay = await relayConsole(sim.consoleLink);
        // A dfu-hil the program runs uses this board through the exposure, not a copy of the saved one.
        const exposure: Exposure = { rig: config.name, leaseId: lease.holder.leaseId, lockDir: lease.lockDir, console: relay.path };
        let result;
        try {
          result = await exposed.run(file, args, {
            stdio: ctx.json ? 'pipe' : 'inherit', env: { [EXPOSURE_ENV]: JSON.stringify(exposure) },
            ...(options.timeout ? { timeoutMs: options.timeout } : {}),
          });
        } finally {
          await relay.close();
          await exposed.close();
          // The turns the program's commands took on the board end with the exposure.
          await rm(exposureLeaseDir(exposure), { recursive: true, force: true });
        }
        // Whatever the program did (a leave, say), give the board a moment to boot and report it.
        if (sim.runningCode() === 'app') await rig.waitForApp(rig.config.timeouts.readyMs).catch(() => undefined);
        const consoleLines = rig.console.log.since(mark).filter((e) => e.direction === 'rx').map((e) => e.text);
        const running = runningCodeOf(sim.runningCode());
        ctx.exitCode = result.exitCode ?? 1;
        if (ctx.json) {
          ctx.outJson({ rig: rig.name, command: result.command, exitCode: result.exitCode ?? null, timedOut: result.timedOut, output: result.all, running, console: consoleLines });
        } else {
          for (const line of consoleLines) ctx.io.stderr.write(`board console: ${line}\n`);
          ctx.io.stderr.write(`dfu-hil: ${result.command} exited with ${result.timedOut ? 'a timeout' : result.exitCode}; the board now runs ${running === 'nothing' ? 'nothing' : `its ${running}`}\n`);
        }
      });
    });
}
