// Every dfu-hil command by name, with its line in `dfu-hil --help` and how to load it. Only the
// command a run invokes is loaded: its module pulls in the rig, the simulator, libusb or the
// probe tools, which a `--help` or a `status` on another command has no use for.
import type { Command } from 'commander';
import type { CliContext } from './context.js';
import type { DoctorEnvironment } from './doctor/checks.js';

/** What registering a command may need besides the program and the context. */
export interface CommandSeams {
  /** Replaces this machine's PATH and file system for `doctor`. */
  doctorEnvironment?: DoctorEnvironment;
}

/** Adds one command (its options, arguments, help and action) to `program`. */
export type RegisterCommand = (program: Command, ctx: CliContext, seams: CommandSeams) => void;

/** One command of the index. */
export interface CommandEntry {
  name: string;
  /** Its term in the command list: name, options, arguments. */
  term: string;
  /** Its line in the command list (the command's own help has the full description). */
  summary: string;
  load(): Promise<RegisterCommand>;
}

/** The commands in the order `dfu-hil --help` lists them. */
export const COMMANDS: readonly CommandEntry[] = [
  { name: 'rigs', term: 'rigs [options]', summary: 'list the rigs in rigs.yaml (* marks the default)', load: async () => (await import('./commands/rigs.js')).registerRigs },
  { name: 'doctor', term: 'doctor', summary: 'check rigs.yaml and what the chosen rig needs on this machine', load: async () => { const { registerDoctor } = await import('./commands/doctor.js'); return (program, ctx, seams) => registerDoctor(program, ctx, seams.doctorEnvironment); } },
  { name: 'devices', term: 'devices', summary: 'list USB devices and the alt settings of DFU bootloaders', load: async () => (await import('./commands/devices.js')).registerDevices },
  { name: 'enter', term: 'enter [options] [method]', summary: 'enter the DFU bootloader by a method the rig offers', load: async () => (await import('./commands/enter.js')).registerEnter },
  { name: 'flash', term: 'flash [options] <image>', summary: 'flash a .bin, .hex or .dfu over DfuSe, verify, leave, wait for READY', load: async () => (await import('./commands/flash.js')).registerFlash },
  { name: 'read', term: 'read [options] <address> <length>', summary: 'read memory into a file, over DfuSe or through the debug probe', load: async () => (await import('./commands/read.js')).registerRead },
  { name: 'erase', term: 'erase [options] [address] [length]', summary: 'erase flash sectors, or the whole flash with --mass, over DfuSe', load: async () => (await import('./commands/erase.js')).registerErase },
  { name: 'leave', term: 'leave [options]', summary: 'leave DFU mode and wait for the application\'s READY', load: async () => (await import('./commands/leave.js')).registerLeave },
  { name: 'recover', term: 'recover', summary: 'bring a board that does not boot back to the reference application', load: async () => (await import('./commands/recover.js')).registerRecover },
  { name: 'gpio', term: 'gpio', summary: 'print the GPIO registers of ports A..K as the application reads them', load: async () => (await import('./commands/gpio.js')).registerGpio },
  { name: 'status', term: 'status', summary: 'show what the board runs now (application or bootloader) and what the rig can do', load: async () => (await import('./commands/status.js')).registerStatus },
  { name: 'sim', term: 'sim', summary: 'reset or expose the boards of simulated rigs', load: async () => (await import('./commands/sim.js')).registerSim },
];

/** Options of the program that take a value: skipped when looking for the command's name. */
const VALUE_OPTIONS = new Set(['--rig', '--rigs', '--wait']);

/**
 * The command `argv` invokes (for `help <command>`, that command), or undefined when it names
 * none: found without parsing, so that only that command needs loading.
 */
export function invokedCommand(argv: readonly string[]): string | undefined {
  let helpAsked = false;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return undefined;
    if (word.startsWith('-')) {
      if (VALUE_OPTIONS.has(word)) i++;
      continue;
    }
    if (word === 'help' && !helpAsked) {
      helpAsked = true;
      continue;
    }
    return word;
  }
  return undefined;
}
