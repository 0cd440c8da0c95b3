import { createHash } from 'node:crypto';
import { access, constants, open, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { hex32 } from '../../errors.js';
import type { CliContext } from '../context.js';
import { CliUsageError } from '../usage-error.js';
import { formatSize, parseAddress, parseLength } from '../memory-arguments.js';
import { chooseReadPath, readMemory, type ReadPathChoice } from '../memory-read.js';
import { flashProgressView } from '../progress.js';
import { readableMemory } from '../rig-memory.js';

interface ReadOptions {
  output: string;
  via: string;
  force?: boolean;
}

const PATHS: readonly ReadPathChoice[] = ['auto', 'dfu', 'probe'];

/**
 * Makes sure `file` can be written before the board is touched, so that a long read is not
 * lost at the end. Without `force` the file is created now (and must not exist); the function
 * returned removes it again if the read fails. An existing file is only replaced once the read
 * has succeeded.
 */
async function claimOutput(file: string, force: boolean): Promise<() => Promise<void>> {
  try {
    if (!force) {
      await (await open(file, 'wx')).close();
      return () => rm(file, { force: true });
    }
    await access(path.dirname(file), constants.W_OK);
    if ((await stat(file).catch(() => undefined))?.isDirectory()) throw new Error('it is a folder');
    return async () => undefined;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CliUsageError(`${file} already exists`, 'Give another file with -o, or pass --force to overwrite it.');
    throw new CliUsageError(`cannot write ${file}: ${(error as Error).message}`, 'Give a file in a folder that exists and that you may write to.');
  }
}

/** `dfu-hil read <address> <length> -o <file>`: memory into a file, over DfuSe or through the debug probe. */
export function registerRead(program: Command, ctx: CliContext): void {
  program.command('read')
    .description('read memory (flash or the option-byte block) into a file: over DfuSe when the board is in DFU mode, else through the debug probe')
    .argument('<address>', 'first address, e.g. 0x08000000')
    .argument('<length>', 'bytes to read: 4096, 0x1000, 128K (K = 1024) or 2M')
    .requiredOption('-o, --output <file>', 'file to write the bytes to')
    .option('--via <path>', 'auto (default: DfuSe in DFU mode, else the probe), dfu or probe', 'auto')
    .option('--force', 'overwrite the output file if it exists')
    .addHelpText('after', [
      '',
      'The board is left as it was: in DFU mode, or running its application. On a terminal a progress',
      'bar goes to stderr; elsewhere, a line per quarter. The range must lie in one memory the rig\'s',
      'bootloader describes (rigs.yaml bootloader.layout). A readout-protected flash cannot be read.',
    ].join('\n'))
    .action(async (addressText: string, lengthText: string, options: ReadOptions) => {
      if (!(PATHS as readonly string[]).includes(options.via)) throw new CliUsageError(`unknown read path "${options.via}"`, 'Use --via auto, dfu or probe.');
      const address = parseAddress(addressText);
      const length = parseLength(lengthText);
      if (address + length > 0x1_0000_0000) throw new CliUsageError(`${length} bytes from ${hex32(address)} run past the 32-bit address space`, 'Give a shorter length.');
      const memory = readableMemory((await ctx.pickedRig()).rig, address, length);
      const file = path.resolve(ctx.io.cwd, options.output);
      const undoClaim = await claimOutput(file, options.force === true);
      let written = false;
      try {
        await ctx.withRig(async (rig) => {
          const via = await chooseReadPath(rig, options.via as ReadPathChoice);
          const how = via === 'dfu' ? 'over DfuSe' : `through the ${rig.capabilities.probe?.tool} probe`;
          if (!ctx.json) ctx.io.stderr.write(`${rig.name}: reading ${formatSize(length)} from ${hex32(address)} (${memory.layout.name}) ${how}\n`);
          const view = flashProgressView(ctx.io.stderr, { json: ctx.json });
          let report;
          try {
            report = await readMemory(rig, memory, address, length, via, (p) => view.update(p));
          } finally {
            view.stop();
          }
          await writeFile(file, report.data);
          written = true;
          const sha256 = createHash('sha256').update(report.data).digest('hex');
          if (ctx.json) {
            ctx.outJson({
              rig: rig.name, via, alt: report.alt ?? null, probe: report.probe ?? null, memory: memory.layout.name,
              address: hex32(address), length, file: options.output, sha256,
            });
            return;
          }
          ctx.out(`${rig.name}: read ${length} bytes from ${hex32(address)} (${memory.layout.name}) ${via === 'dfu' ? `over DfuSe, alt ${report.alt}` : how}, into ${options.output}`);
        });
      } finally {
        // A read that failed leaves no file that could pass for its result.
        if (!written) await undoClaim();
      }
    });
}
