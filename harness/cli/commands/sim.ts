import type { Command } from 'commander';
import type { SimRig } from '../../rig/sim/sim-rig.js';
import { CliUsageError, type CliContext } from '../context.js';

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
      const store = ctx.simStateStore(rig.name);
      const existed = await store.reset();
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
      const { ExposedBoard } = await import('../../usb-emulation/exposed-board.js');
      await ctx.withRig(async (rig) => {
        const sim = rig as SimRig;
        const mark = sim.console.mark();
        const exposed = await ExposedBoard.start({ clock: sim.clock, connector: sim.board.usb });
        let result;
        try {
          result = await exposed.run(file, args, { stdio: ctx.json ? 'pipe' : 'inherit', ...(options.timeout ? { timeoutMs: options.timeout } : {}) });
        } finally {
          await exposed.close();
        }
        // Whatever the program did (a leave, say), give the board a moment to boot and report it.
        if (sim.board.runningCode === 'app') await sim.waitForApp(rig.config.timeouts.readyMs).catch(() => undefined);
        const consoleLines = sim.console.log.since(mark).filter((e) => e.direction === 'rx').map((e) => e.text);
        ctx.exitCode = result.exitCode ?? 1;
        if (ctx.json) {
          ctx.outJson({ rig: rig.name, command: result.command, exitCode: result.exitCode ?? null, timedOut: result.timedOut, output: result.all, running: sim.board.runningCode, console: consoleLines });
        } else {
          for (const line of consoleLines) ctx.io.stderr.write(`board console: ${line}\n`);
          ctx.io.stderr.write(`dfu-hil: ${result.command} exited with ${result.timedOut ? 'a timeout' : result.exitCode}; the board now runs ${sim.board.runningCode === 'none' ? 'nothing' : `its ${sim.board.runningCode}`}\n`);
        }
      });
    });
}
