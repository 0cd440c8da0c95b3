// The `dfu-hil` command. `runCli` runs it in-process with injected io and services, so tests
// and other tools can call it; run directly (tsx, or bin/dfu-hil.js) it uses the real process.
//
// Errors end a command with one line naming what failed, one `hint:` line saying what to do,
// and an exit code from exit-codes.ts (documented there).
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { Command, CommanderError } from 'commander';
import { DfuHilError } from '../errors.js';
import { COMMANDS, invokedCommand, type CommandSeams } from './command-index.js';
import type { CliContext, CliServices } from './context.js';
import { exitCodeFor } from './exit-codes.js';
import { processIo, type CliIo } from './io.js';

/** Services (the real ones where none is given) and test seams for {@link runCli}. */
export type RunCliOptions = Partial<CliServices> & CommandSeams;

const VERSION = '0.1.0';

const HELP_AFTER = `
Simulated rigs keep their board between commands, as a real board would: flash, option bytes and
whether it runs the application or the bootloader are saved in .dfu-hil/sim/<rig>/ next to rigs.yaml
(DFU_HIL_STATE_DIR moves it). \`dfu-hil enter\` then \`dfu-hil flash\` act on the same board;
\`dfu-hil sim reset\` puts it back to its factory state.

Exit codes: 0 ok, 1 the board or firmware failed, 2 usage, 3 rigs.yaml, 4 the bench failed,
5 not available on this rig, 70 internal error.`;

/**
 * The program with every command listed, and the command `argv` invokes fully registered: its
 * module (and the rig, the simulator or libusb behind it) is loaded only then, so `--help`
 * starts without them.
 */
async function buildProgram(argv: readonly string[], io: CliIo, options: RunCliOptions): Promise<{ program: Command; ctx: CliContext | undefined }> {
  const program = new Command('dfu-hil');
  program
    .description('Hardware-in-the-loop harness for STM32 USB DFU (DfuSe): enter, flash, leave, check.')
    .version(VERSION)
    .option('--rig <name>', 'rig from rigs.yaml (beats RIG, which beats the file\'s default)')
    .option('--rigs <file>', 'rigs file (default: DFU_HIL_RIGS, else rigs.yaml found upwards from here)')
    .option('--json', 'machine-readable output')
    .option('--wait <ms>', 'wait up to this long for a rig another run holds (default: fail at once)', (v) => Number.parseInt(v, 10))
    .addHelpText('after', HELP_AFTER)
    .showHelpAfterError('(run dfu-hil --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    // The command list reads the same whether a command is loaded or only named.
    .configureHelp({ subcommandTerm: (command) => COMMANDS.find((c) => c.name === command.name())?.term ?? command.name() });
  const invoked = COMMANDS.find((c) => c.name === invokedCommand(argv));
  let ctx: CliContext | undefined;
  for (const entry of COMMANDS) {
    if (entry === invoked) {
      const [register, { CliContext: Context }, { defaultCliServices }] = await Promise.all([entry.load(), import('./context.js'), import('./services.js')]);
      const defaults = defaultCliServices();
      const services: CliServices = {
        rigFactory: options.rigFactory ?? defaults.rigFactory,
        usbBus: options.usbBus ?? defaults.usbBus,
      };
      ctx = new Context(io, services, program);
      register(program, ctx, options);
      program.commands.find((c) => c.name() === entry.name)?.summary(entry.summary);
    } else {
      program.command(entry.name).summary(entry.summary);
    }
  }
  for (const command of program.commands) command.exitOverride();
  return { program, ctx };
}

async function reportError(io: CliIo, error: unknown, json: boolean): Promise<void> {
  const known = error instanceof DfuHilError;
  // The rigs-file reader (YAML, the schema) loads only when a rigs file was read, so only then is this needed.
  const { formatProblem, RigConfigError } = known && error.code === 'rig-config' ? await import('../rig/config/load-rigs.js') : { formatProblem: undefined, RigConfigError: undefined };
  const message = error instanceof Error ? error.message : String(error);
  const hint = known ? error.hint : 'This is a bug in dfu-hil; please report it with the command line and this message.';
  const firstLine = message.split('\n')[0] ?? message;
  // Every problem of a rigs file at once, so one edit can fix them all.
  const config = RigConfigError && error instanceof RigConfigError ? error : undefined;
  const problems = config && config.problems.length > 1 ? config.problems : undefined;
  if (problems && formatProblem) {
    io.stderr.write(`dfu-hil: error: ${problems.length} problems in ${problems[0]!.file}:\n`);
    for (const p of problems) io.stderr.write(`  ${formatProblem(p)}\n`);
  } else {
    io.stderr.write(`dfu-hil: ${known ? 'error' : 'internal error'}: ${firstLine}\n`);
  }
  if (hint) io.stderr.write(`hint: ${hint}\n`);
  if (json) {
    const detail = config && formatProblem ? { problems: config.problems.map(formatProblem) } : {};
    io.stdout.write(`${JSON.stringify({ ok: false, error: { code: known ? error.code : 'internal', message, hint: hint ?? null, ...detail } }, null, 2)}\n`);
  }
}

/** Runs `dfu-hil` with `argv` (without the node and script paths); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo(), options: RunCliOptions = {}): Promise<number> {
  try {
    const { program, ctx } = await buildProgram(argv, io, options);
    await program.parseAsync([...argv], { from: 'user' });
    return ctx?.exitCode ?? 0;
  } catch (error) {
    // Commander has already printed its own usage errors and help.
    if (!(error instanceof CommanderError)) await reportError(io, error, argv.includes('--json'));
    return exitCodeFor(error);
  }
}

/** Entry point of bin/dfu-hil.js and `npm run dfu-hil`: the real rigs (createRig), saved simulated boards, libusb. */
export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const { defaultCliServices } = await import('./services.js');
  return runCli(argv, processIo(), defaultCliServices());
}

function invokedDirectly(): boolean {
  const script = process.argv[1];
  if (!script) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (invokedDirectly()) {
  process.exitCode = await main();
}
