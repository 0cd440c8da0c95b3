import type { Command } from 'commander';
import { formatUsbId } from '../../rig/config/schema.js';
import type { CliContext } from '../context.js';

/** `dfu-hil status`: what the board runs now (the application and its version, or the bootloader) and what the rig can do. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program.command('status')
    .description('show what the board runs now (application and version, or the DFU bootloader with its serial and layouts) and the rig\'s capabilities')
    .action(async () => {
      await ctx.withRig(async (rig) => {
        const caps = rig.capabilities;
        let bootloader: { vidPid: string; serialNumber: string | null; portPath: string; product: string | null; alts: Array<{ alt: number; layout: string | null }> } | null = null;
        let app: { name: string; version: string } | { error: string } | null = null;
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
          app = await rig.console.version().catch((error: unknown) => ({ error: (error as Error).message }));
        }
        const running = bootloader ? 'bootloader' : app && !('error' in app) ? 'app' : 'unknown';
        if (ctx.json) {
          ctx.outJson({
            rig: rig.name, kind: rig.kind, running, app, bootloader,
            capabilities: { ...caps, bootloader: { ...caps.bootloader, vidPid: formatUsbId(caps.bootloader.vidPid) } },
          });
          return;
        }
        ctx.out(`${rig.name} (${rig.kind})`);
        if (bootloader) {
          ctx.out(`  running: DFU bootloader ${bootloader.vidPid}${bootloader.serialNumber ? ` SN ${bootloader.serialNumber}` : ''} @${bootloader.portPath}${bootloader.product ? ` (${bootloader.product})` : ''}`);
          for (const a of bootloader.alts) ctx.out(`    alt ${a.alt}  ${a.layout ?? '(no layout string)'}`);
        } else if (app && 'error' in app) {
          ctx.out(`  running: nothing answers on the console (${app.error})`);
        } else if (app) {
          ctx.out(`  running: application ${app.name} ${app.version}`);
        }
        ctx.out(`  entry methods: ${caps.entryMethods.join(', ') || 'none'}`);
        ctx.out(`  probe: ${caps.probe?.tool ?? 'none'}; power control: ${caps.powerControl ? 'yes' : 'no'}; option bytes: ${caps.optionBytes ? 'allowed' : 'refused'}`);
        ctx.out(`  bootloader expected: ${caps.bootloader.profile ?? 'ST ROM'} as ${formatUsbId(caps.bootloader.vidPid)}`);
      });
    });
}
