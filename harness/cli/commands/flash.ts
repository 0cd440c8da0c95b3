import type { Command } from 'commander';
import { loadImageFile } from '../../dfu/image/image-file.js';
import { hex32 } from '../../errors.js';
import { CliUsageError, type CliContext } from '../context.js';
import { FlashProgressBar } from '../progress.js';

function parseAddress(text: string): number {
  if (!/^0x[0-9a-fA-F]{1,8}$/.test(text)) throw new CliUsageError(`"${text}" is not an address`, 'Give the load address of a .bin in hex, e.g. --address 0x08100000.');
  return Number.parseInt(text, 16);
}

/** `dfu-hil flash <image>`: writes a .bin/.hex/.dfu over DfuSe, with a progress bar. */
export function registerFlash(program: Command, ctx: CliContext): void {
  program.command('flash')
    .description('flash an image (.bin, .hex, .dfu) over DfuSe; the board must be in DFU mode')
    .argument('<image>', 'image file')
    .option('--address <hex>', 'load address of a .bin (default 0x08000000)')
    .option('--erase <mode>', 'touched (default), mass or none', 'touched')
    .option('--verify', 'read back and compare after writing')
    .action(async (file: string, options: { address?: string; erase: string; verify?: boolean }) => {
      if (!['touched', 'mass', 'none'].includes(options.erase)) {
        throw new CliUsageError(`unknown erase mode "${options.erase}"`, 'Use --erase touched, mass or none.');
      }
      const image = await loadImageFile(file, options.address === undefined ? {} : { address: parseAddress(options.address) });
      await ctx.withRig(async (rig) => {
        const bar = new FlashProgressBar(ctx.io.stderr, !ctx.json);
        try {
          const report = await rig.flash(image, {
            erase: options.erase as 'touched' | 'mass' | 'none',
            verify: options.verify === true,
            onProgress: (p) => bar.update(p),
          });
          if (ctx.json) ctx.outJson({ rig: rig.name, image: file, ...report });
          else ctx.out(`${rig.name}: wrote ${report.bytesWritten} bytes from ${file}; erased ${report.erasedSectors.map(hex32).join(', ') || 'nothing'}${report.verified ? '; verified' : ''}`);
        } finally {
          bar.stop();
        }
      });
    });
}
