import type { Command } from 'commander';
import { formatUsbId } from '../../rig/config/vocabulary.js';
import type { CliContext } from '../context.js';
import type { RunningCode } from '../running-code.js';

/** `dfu-hil status`: what the board runs now (the application and its version, or the bootloader) and what the rig can do. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program.command('status')
    .description('show what the board runs now (the application and its version, or the DFU bootloader with its serial and layouts) and the rig\'s capabilities')
    .addHelpText('after', '\n"running" is application, bootloader or unknown (nothing answered on the console), in the text and in --json.')
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
        } else {
          application = await rig.console.version().catch((error: unknown) => ({ error: (error as Error).message }));
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
          ctx.out(`  running: unknown (nothing answers on the console: ${application.error})`);
        } else if (application) {
          ctx.out(`  running: application ${application.name} ${application.version}`);
        }
        ctx.out(`  entry methods: ${caps.entryMethods.join(', ') || 'none'}`);
        ctx.out(`  probe: ${caps.probe?.tool ?? 'none'}; power control: ${caps.powerControl ? 'yes' : 'no'}; option bytes: ${caps.optionBytes ? 'allowed' : 'refused'}`);
        ctx.out(`  bootloader expected: ${caps.bootloader.profile ?? 'ST ROM'} as ${formatUsbId(caps.bootloader.vidPid)}`);
      });
    });
}
