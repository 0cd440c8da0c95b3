// Fake executables for driver tests: small Node scripts written to a temp directory that is put
// first on PATH, printing what the real tools print. Each call's arguments are appended to
// `<tool>.calls` so tests can check the command line the driver built.
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createExecaRunner, type CommandRunner } from '../command-runner.js';

/** Shared by every fake: argument capture and output helpers (CommonJS: /tmp has no package.json). */
const PRELUDE = `
const fs = require('node:fs');
const args = process.argv.slice(2);
fs.appendFileSync(__filename + '.calls', JSON.stringify(args) + '\\n');
const out = (s) => process.stdout.write(s + '\\n');
const err = (s) => process.stderr.write(s + '\\n');
const stamp = '2024-05-01T10:00:00';
const argAfter = (flag) => { const i = args.indexOf(flag); return i >= 0 ? args[i + 1] : undefined; };
`;

/** A directory of fake tools and a runner that finds them first. */
export class FakeToolbox {
  private constructor(readonly dir: string) {}

  /** Makes an empty toolbox in the OS temp directory. */
  static async create(): Promise<FakeToolbox> {
    return new FakeToolbox(await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-fake-tools-')));
  }

  /** Installs `name` as a Node script running `body` (with `args`, `out`, `err`, `fs`, `stamp`, `argAfter`). */
  async install(name: string, body: string): Promise<void> {
    const file = path.join(this.dir, name);
    await writeFile(file, `#!${process.execPath}\n${PRELUDE}\n${body}\n`);
    await chmod(file, 0o755);
    await rm(`${file}.calls`, { force: true });
  }

  /** The argument lists `name` was called with, oldest first. */
  async calls(name: string): Promise<string[][]> {
    const text = await readFile(path.join(this.dir, `${name}.calls`), 'utf8').catch(() => '');
    return text.split('\n').filter((l) => l.length > 0).map((l) => JSON.parse(l) as string[]);
  }

  /** A runner whose PATH starts with this toolbox (`only`: nothing else on PATH, to test a missing tool). */
  runner(options: { only?: boolean } = {}): CommandRunner {
    const pathVar = options.only ? this.dir : `${this.dir}${path.delimiter}${process.env.PATH ?? ''}`;
    return createExecaRunner({ env: { ...process.env, PATH: pathVar } });
  }

  /** Removes the directory. */
  async dispose(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
