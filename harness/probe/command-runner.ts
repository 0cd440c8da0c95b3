// The seam between probe/hub drivers and the programs they drive. Drivers never spawn processes
// themselves: they get a CommandRunner, so unit tests can put fake executables first on PATH
// (or answer in-process) and a bench run uses execa.
import { execa } from 'execa';
import { DfuHilError } from '../errors.js';

/** What one run of a tool produced. Failure is judged by the driver, never by the runner. */
export interface CommandResult {
  /** The program and its arguments as run, for logs. */
  command: string;
  /** Exit code; undefined when the process was killed (timeout) or never started. */
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
  /** stdout and stderr interleaved in the order printed (what a person at a terminal sees). */
  all: string;
  timedOut: boolean;
  /** The program is not installed (not on PATH). */
  notFound: boolean;
}

/** Options of one {@link CommandRunner.run}. */
export interface RunOptions {
  timeoutMs: number;
  cwd?: string;
}

/** Runs external programs: execa on a bench, fakes in tests. */
export interface CommandRunner {
  run(file: string, args: readonly string[], options: RunOptions): Promise<CommandResult>;
}

/** Options of {@link createExecaRunner}. */
export interface ExecaRunnerOptions {
  /** Environment of the child (PATH decides which executable runs); default the process's own. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Quotes an argument for display only (commands are never run through a shell). */
export function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** Formats a command line for logs and error messages. */
export function formatCommandLine(file: string, args: readonly string[]): string {
  return [file, ...args].map(quoteArg).join(' ');
}

/** A {@link CommandRunner} on execa: no shell, output captured, never rejects on exit codes. */
export function createExecaRunner(options: ExecaRunnerOptions = {}): CommandRunner {
  return {
    async run(file, args, runOptions) {
      const command = formatCommandLine(file, args);
      const result = await execa(file, [...args], {
        reject: false,
        all: true,
        stdin: 'ignore',
        timeout: runOptions.timeoutMs,
        // SIGTERM first: st-flash and OpenOCD trap it and release the ST-LINK cleanly.
        killSignal: 'SIGTERM',
        forceKillAfterDelay: 2_000,
        stripFinalNewline: false,
        ...(runOptions.cwd ? { cwd: runOptions.cwd } : {}),
        ...(options.env ? { env: { ...options.env }, extendEnv: false } : {}),
      });
      const notFound = (result.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
      return {
        command,
        exitCode: result.exitCode,
        stdout: String(result.stdout ?? ''),
        stderr: String(result.stderr ?? ''),
        all: String(result.all ?? ''),
        timedOut: result.timedOut,
        notFound,
      };
    },
  };
}

/** How to install each tool the bench drives. STM32_Programmer_CLI is ST's download, not a package. */
export const TOOL_INSTALL_HINTS: Readonly<Record<string, string>> = {
  'st-flash': 'Install it with `sudo apt-get install stlink-tools` (Debian package stlink-tools).',
  openocd: 'Install it with `sudo apt-get install openocd` (Debian package openocd).',
  uhubctl: 'Install it with `sudo apt-get install uhubctl` (Debian package uhubctl).',
  STM32_Programmer_CLI: 'It is not packaged: download STM32CubeProgrammer from st.com (STM32CubeProg) and put its bin/ folder on PATH.',
};

/** A tool the bench needs is not installed (not found on PATH). */
export class ToolMissingError extends DfuHilError {
  constructor(readonly tool: string, purpose: string) {
    super('tool-missing', `${tool} was not found on PATH (${purpose})`, {
      failureClass: 'infrastructure',
      hint: TOOL_INSTALL_HINTS[tool] ?? `Install ${tool} and put it on PATH.`,
    });
  }
}
