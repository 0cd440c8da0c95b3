import type { Command } from 'commander';
import { hex32 } from '../../errors.js';
import type { DfuEntryReport } from '../../rig/rig.js';
import type { CliContext } from '../context.js';
import { CliUsageError } from '../usage-error.js';
import { eraseFlash, planErase, type EraseRequest, type FlashEraseReport } from '../flash-erase.js';
import { formatSize, parseAddress, parseLength } from '../memory-arguments.js';
import { flashProgressView } from '../progress.js';
import { describeMemory, rigMemories } from '../rig-memory.js';
import { checkEntryMethodName, chooseEntryMethod, entryJson } from './board-checks.js';

interface EraseOptions {
  sectors?: string;
  mass?: boolean;
  verify: boolean;
  method?: string;
}

/** The one form of request the command line gives: a range, a sector list, or --mass. */
function eraseRequest(addressText: string | undefined, lengthText: string | undefined, options: EraseOptions): EraseRequest {
  const forms = [addressText !== undefined, options.sectors !== undefined, options.mass === true].filter(Boolean).length;
  if (forms !== 1) {
    throw new CliUsageError(forms === 0 ? 'nothing to erase was named' : 'give one of: an address range, --sectors or --mass',
      'For example: dfu-hil erase 0x08020000 256K, dfu-hil erase --sectors 0x08020000,0x08040000, or dfu-hil erase --mass.');
  }
  if (options.mass) return { kind: 'mass' };
  if (options.sectors !== undefined) {
    const addresses = options.sectors.split(',').map((t) => t.trim()).filter((t) => t !== '').map((t) => parseAddress(t, 'sector address'));
    if (addresses.length === 0) throw new CliUsageError('--sectors names no sector', 'List sector start addresses separated by commas: --sectors 0x08020000,0x08040000.');
    return { kind: 'sectors', addresses };
  }
  if (lengthText === undefined) throw new CliUsageError(`an address (${addressText}) but no length`, 'Give the range as address and length, e.g. dfu-hil erase 0x08020000 256K.');
  return { kind: 'range', address: parseAddress(addressText!), length: parseLength(lengthText) };
}

function describeResult(report: FlashEraseReport, flash: string): string {
  const checked = report.blankChecked ? ', blank-checked' : ' (not blank-checked: --no-verify)';
  if (report.erase === 'mass') return `mass-erased the whole flash (${flash}, ${formatSize(report.bytes)})${checked}`;
  const n = report.erasedSectors.length;
  return `erased ${n} sector${n === 1 ? '' : 's'} (${report.erasedSectors.map(hex32).join(', ')}; ${formatSize(report.bytes)})${checked}`;
}

/** `dfu-hil erase`: erases named flash sectors, a range of whole sectors, or the whole flash, over DfuSe. */
export function registerErase(program: Command, ctx: CliContext): void {
  program.command('erase')
    .description('erase flash over DfuSe: the sectors an address range covers exactly, a list of sectors, or the whole flash (--mass); enters DFU if needed and stays there')
    .argument('[address]', 'start of the range, a sector start, e.g. 0x08020000')
    .argument('[length]', 'length of the range, whole sectors: 131072, 0x20000, 128K, 1M')
    .option('--sectors <list>', 'sector start addresses, separated by commas: 0x08020000,0x08040000')
    .option('--mass', 'erase the whole flash with one mass-erase command')
    .option('--no-verify', 'do not read the erased flash back to check that it is blank')
    .option('--method <method>', 'entry method when the board is not in DFU mode yet (default: the rig\'s first)')
    .addHelpText('after', [
      '',
      'Only whole sectors are erased, and only those named: a range must start and end on sector',
      'boundaries. The option bytes are never erased. Afterwards the erased flash is read back and',
      'must be blank (the ST bootloader reports no error for a write-protected sector). The board',
      'stays in DFU mode: `dfu-hil flash` or `dfu-hil leave` next. Progress as for flash.',
    ].join('\n'))
    .action(async (addressText: string | undefined, lengthText: string | undefined, options: EraseOptions) => {
      const request = eraseRequest(addressText, lengthText, options);
      checkEntryMethodName(options.method);
      // Checked against the rig's description before the board is touched.
      const memories = rigMemories((await ctx.pickedRig()).rig);
      planErase(memories, request);
      await ctx.withRig(async (rig) => {
        let entered: DfuEntryReport | undefined;
        if (!(await rig.bootloaderPresent())) {
          const method = chooseEntryMethod(rig, options.method);
          if (!ctx.json) ctx.io.stderr.write(`${rig.name}: entering DFU mode via ${method}\n`);
          entered = await rig.enterDfu(method);
        }
        const dfu = await rig.openDfu({ altSetting: memories.flash.name });
        const view = flashProgressView(ctx.io.stderr, { json: ctx.json });
        let report: FlashEraseReport;
        try {
          // The device's own layout decides the sectors; it should be the one rigs.yaml describes.
          report = await eraseFlash(dfu, planErase({ ...memories, flash: dfu.layout }, request), { blankCheck: options.verify, onProgress: (p) => view.update(p) });
        } finally {
          view.stop();
          await dfu.close();
        }
        for (const r of report.recoveries) {
          ctx.warn(`the erase of ${hex32(r.address)} stayed dfuDNBUSY; recovered with CLRSTATUS twice (${r.afterFirstClear} in between), as the STM32H7 ROM V9.1 bank-2 erase needs`);
        }
        if (ctx.json) {
          ctx.outJson({
            rig: rig.name, erase: report.erase, erasedSectors: report.erasedSectors.map(hex32), bytes: report.bytes, blankChecked: report.blankChecked,
            recoveries: report.recoveries.map((r) => ({ address: hex32(r.address), afterFirstClear: r.afterFirstClear })),
            entered: entered ? entryJson(entered) : null,
          });
          return;
        }
        ctx.out(`${rig.name}: ${describeResult(report, describeMemory(dfu.layout))}; staying in DFU mode`);
      });
    });
}
