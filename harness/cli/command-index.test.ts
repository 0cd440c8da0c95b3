// The command index: `dfu-hil --help` lists every command without loading it, and the list
// reads as the commands really are once loaded.
import { Command, Help } from 'commander';
import { describe, expect, it } from 'vitest';
import { COMMANDS, invokedCommand } from './command-index.js';
import { CliContext } from './context.js';
import { runCli } from './main.js';
import { defaultCliServices } from './services.js';

const silent = { stdout: { write: () => true }, stderr: { write: () => true }, env: {}, cwd: process.cwd() };

describe('the command index', () => {
  it('finds the invoked command past the global options, and the command help is asked for', () => {
    expect(invokedCommand(['--rig', 'sim-b', '--json', 'read', '0x08000000', '16'])).toBe('read');
    expect(invokedCommand(['--wait', '100', '--rigs', 'x.yaml', 'status'])).toBe('status');
    expect(invokedCommand(['--rig=sim-b', 'erase', '--mass'])).toBe('erase');
    expect(invokedCommand(['help', 'flash'])).toBe('flash');
    expect(invokedCommand(['--help'])).toBeUndefined();
    expect(invokedCommand(['help'])).toBeUndefined();
    expect(invokedCommand([])).toBeUndefined();
  });

  it('lists each command as commander would once the command is loaded', async () => {
    const help = new Help();
    for (const entry of COMMANDS) {
      const program = new Command('dfu-hil');
      (await entry.load())(program, new CliContext(silent, defaultCliServices(), program), {});
      expect(program.commands.map((c) => c.name()), entry.name).toEqual([entry.name]);
      expect(help.subcommandTerm(program.commands[0]!), entry.name).toBe(entry.term);
    }
  });

  it('prints the list in --help with every command, and each command\'s own help in full', async () => {
    let out = '';
    const io = { ...silent, stdout: { write: (t: string) => { out += t; } } };
    expect(await runCli(['--help'], io)).toBe(0);
    for (const entry of COMMANDS) expect(out).toMatch(new RegExp(`\\n  ${entry.term.replace(/[[\]]/g, '\\$&')} +${entry.summary.slice(0, 20).replace(/[()]/g, '\\$&')}`));
    out = '';
    expect(await runCli(['erase', '--help'], io)).toBe(0);
    expect(out).toContain('Usage: dfu-hil erase [options] [address] [length]');
    expect(out).toContain('--sectors <list>');
    out = '';
    expect(await runCli(['help', 'read'], io)).toBe(0);
    expect(out).toContain('-o, --output <file>');
  });
});
