import type { Command } from 'commander';
import type { Rig } from '../../rig/rig.js';
import { formatUsbId } from '../../rig/config/vocabulary.js';
import type { CliContext } from '../context.js';
import type { RunningCode } from '../running-code.js';

/** `dfu-hil status`: what the board runs now (the application and its version, or the bootloader) and what the rig can do. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program.command('status')
    .description('show what the board runs now (the application and its version, or the DFU bootloader with its serial and layouts) and the rig\'s capabilities')
    .addHelpText('after', '\n"running" is application, bootloader or unknown (nothing answered on the console, or a board\'s own firmware that has no console to ask), in the text and in --json.')
    .action(async () => {
      await ctx.withRig(async (rig) => {
        const caps = rig.capabilities;
        let bootloader: { vidPid: string; serialNumber: string | null; portPath: string; product: string | null; alts: Array<{ alt: number; layout: string | null }> } | null = null;
        let application: { name: string; version: string } | { error: string } | null = null;
        if (await rig.bootloaderPresent()) {
          const dfu = await rig.openDfu();
          try {
            const { info } = dfu.transport;
            bootloader = {
              vidPid: formatUsbId({ vendorId: info.vendorId, productId: info.productId }),
              serialNumber: info.serialNumber ?? null,
              portPath: info.portPath,
              product: dfu.description.product ?? null,
              alts: dfu.description.configuration.interfaces
                .filter((i) => i.bInterfaceNumber === 0)
                .map((i) => ({ alt: i.bAlternateSetting, layout: i.name ?? null })),
            };
          } finally {
            await dfu.close();
          }
        } else if (caps.testAppConsole) {
          application = await rig.console.version().catch((error: unknown) => ({ error: `nothing answers on the console: ${(error as Error).message}` }));
        } else {
          application = ownFirmwareRunning(rig);
        }
        const running: RunningCode = bootloader ? 'bootloader' : application && !('error' in application) ? 'application' : 'unknown';
        if (ctx.json) {
          ctx.outJson({
            rig: rig.name, kind: rig.kind, running, application, bootloader,
            capabilities: { ...caps, bootloader: { ...caps.bootloader, vidPid: formatUsbId(caps.bootloader.vidPid) } },
          });
          return;
        }
        ctx.out(`${rig.name} (${rig.kind})`);
        if (bootloader) {
          ctx.out(`  running: bootloader ${bootloader.vidPid}${bootloader.serialNumber ? ` SN ${bootloader.serialNumber}` : ''} @${bootloader.portPath}${bootloader.product ? ` (${bootloader.product})` : ''}`);
          for (const a of bootloader.alts) ctx.out(`    alt ${a.alt}  ${a.layout ?? '(no layout string)'}`);
        } else if (application && 'error' in application) {
          ctx.out(`  running: unknown (${application.error})`);
        } else if (application) {
          ctx.out(`  running: application ${application.name} ${application.version}`);
        }
        ctx.out(`  entry methods: ${caps.entryMethods.join(', ') || 'none'}`);
        ctx.out(`  probe: ${caps.probe?.tool ?? 'none'}; power control: ${caps.powerControl ? 'yes' : 'no'}; option bytes: ${caps.optionBytes ? 'allowed' : 'refused'}`);
        ctx.out(`  bootloader expected: ${caps.bootloader.profile ?? 'ST ROM'} as ${formatUsbId(caps.bootloader.vidPid)}`);
      });
    });
}

/**
 * What runs on a rig whose firmware speaks no test-application console: a simulated board's core
 * knows (the image's version block names it); a bench board cannot be asked.
 */
function ownFirmwareRunning(rig: Rig): { name: string; version: string } | { error: string } {
  const simulation = rig.simulation;
  if (!simulation) {
    return { error: 'its own firmware has no test-application console to ask (firmware.console: false); the rig sees it come up only as it boots (appReady)' };
  }
  const running = simulation.runningCode();
  const cause = simulation.likelyCause();
  return simulation.runningApplication()
    ?? { error: `the core runs ${running === 'none' ? 'nothing' : running === 'app' ? 'code that is not a valid image' : `its ${running}`}${cause ? `: ${cause}` : ''}` };
}
