import type { Command } from 'commander';
import { loadImageFile } from '../../image/image-file.js';
import { hex32 } from '../../errors.js';
import { formatUsbId } from '../../rig/config/schema.js';
import type { DfuEntryReport, Rig, RigFlashReport, RigStep } from '../../rig/rig.js';
import type { AppReadyResult } from '../../rig/app-ready/app-ready.js';
import type { CliContext } from '../context.js';
import { CliUsageError } from '../usage-error.js';
import { flashProgressView } from '../progress.js';
import { applicationJson, checkEntryMethodName, chooseEntryMethod, describeApplicationUp } from './board-checks.js';

function parseAddress(text: string): number {
  if (!/^0x[0-9a-fA-F]{1,8}$/.test(text)) throw new CliUsageError(`"${text}" is not an address`, 'Give the load address of a .bin in hex, e.g. --address 0x08100000.');
  return Number.parseInt(text, 16);
}

/** Rig-clock ms the rig's steps since `from` took (virtual time on a simulated rig). */
function stepsMs(rig: Rig, from: number): number {
  return rig.trace.steps.slice(from).reduce((sum: number, s: RigStep) => sum + s.durationMs, 0);
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 1)} s`;

/** "erased 2 sectors (0x08000000, 0x08020000)", "erased 0 sectors, skipped 1 unchanged (0x08000000)", "mass-erased the whole flash". */
function describeErase(report: RigFlashReport): string {
  if (report.erase === 'mass') return 'mass-erased the whole flash first';
  if (report.erase === 'none') return 'erased nothing (--erase none)';
  const n = report.erasedSectors.length;
  const erased = `erased ${n} sector${n === 1 ? '' : 's'}${n ? ` (${report.erasedSectors.map(hex32).join(', ')})` : ''}`;
  const skipped = report.skippedSectors.length;
  return skipped ? `${erased}, skipped ${skipped} unchanged (${report.skippedSectors.map(hex32).join(', ')})` : erased;
}

interface FlashOptions {
  address?: string;
  erase: string;
  verify: boolean;
  stay?: boolean;
  method?: string;
  full?: boolean;
}

/** `dfu-hil flash <image>`: enters DFU if needed, writes a .bin/.hex/.dfu with verify, leaves and waits for the application (the rig's appReady). */
export function registerFlash(program: Command, ctx: CliContext): void {
  program.command('flash')
    .description('flash an image (.bin, .hex, .dfu) over DfuSe: enter DFU if needed, write, verify, leave, wait for the application')
    .argument('<image>', 'image file')
    .option('--address <hex>', 'load address of a .bin (needed unless its vector table places it without doubt)')
    .option('--erase <mode>', 'touched (default), mass or none', 'touched')
    .option('--no-verify', 'do not read back and compare after writing')
    .option('--full', 'erase and write every sector the image touches, even those that already hold its bytes')
    .option('--stay', 'stay in DFU mode afterwards (no leave, no wait for the application)')
    .option('--method <method>', 'entry method when the board is not in DFU mode yet (default: the rig\'s first)')
    .addHelpText('after', '\nOn a terminal a progress bar goes to stderr; elsewhere, a line per quarter of each phase.\nElapsed times are the rig\'s clock: virtual time on a simulated rig.')
    .action(async (file: string, options: FlashOptions) => {
      if (!['touched', 'mass', 'none'].includes(options.erase)) {
        throw new CliUsageError(`unknown erase mode "${options.erase}"`, 'Use --erase touched, mass or none.');
      }
      checkEntryMethodName(options.method);
      // The image is read before the rig is touched, so a bad file never leaves the board half-way.
      const image = await loadImageFile(file, options.address === undefined ? {} : { address: parseAddress(options.address) });
      // A .bin placed without --address: say where, and why there, before anything is written.
      if (image.placement && !ctx.json) ctx.io.stderr.write(`dfu-hil: ${file} has no --address; writing it at ${hex32(image.placement.address)}, ${image.placement.how}\n`);
      await ctx.withRig(async (rig) => {
        const firstStep = rig.trace.steps.length;
        let entered: DfuEntryReport | undefined;
        if (!(await rig.bootloaderPresent())) {
          const method = chooseEntryMethod(rig, options.method);
          if (!ctx.json) ctx.io.stderr.write(`${rig.name}: entering DFU mode via ${method}\n`);
          entered = await rig.enterDfu(method);
        }
        const view = flashProgressView(ctx.io.stderr, { json: ctx.json });
        const flashStep = rig.trace.steps.length;
        let report;
        try {
          report = await rig.flash(image, {
            erase: options.erase as 'touched' | 'mass' | 'none',
            verify: options.verify,
            full: options.full === true,
            onProgress: (p) => view.update(p),
          });
        } finally {
          view.stop();
        }
        const flashMs = stepsMs(rig, flashStep);
        let left: { outcome: string } | undefined;
        let banner: AppReadyResult | undefined;
        if (!options.stay) {
          left = await rig.leave();
          banner = await rig.waitForApp(rig.config.timeouts.readyMs);
        }
        const totalMs = stepsMs(rig, firstStep);
        if (ctx.json) {
          ctx.outJson({
            rig: rig.name, image: file,
            entered: entered ? { ...entered, vidPid: formatUsbId(entered.vidPid) } : null,
            bytesWritten: report.bytesWritten, erase: report.erase, erasedSectors: report.erasedSectors.map(hex32), skippedSectors: report.skippedSectors.map(hex32), verified: report.verified,
            placement: image.placement ? { address: hex32(image.placement.address), how: image.placement.how } : null,
            flashMs, totalMs, leave: left ?? null, application: banner ? applicationJson(banner) : null,
          });
          return;
        }
        ctx.out(`${rig.name}: wrote ${report.bytesWritten} bytes from ${file}${report.verified ? ', verified' : ''}; ${describeErase(report)}; ${seconds(flashMs)}`);
        if (banner) ctx.out(`${rig.name}: left DFU (${left?.outcome}); ${describeApplicationUp(banner)} (${seconds(totalMs)} in all)`);
        else ctx.out(`${rig.name}: staying in DFU mode (--stay)`);
      });
    });
}
