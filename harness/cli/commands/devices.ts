import type { Command } from 'commander';
import type { RigConfig } from '../../rig/config/load-rigs.js';
import { formatUsbId } from '../../rig/config/vocabulary.js';
import { describeDevice, type UsbBus } from '../../usb/transport.js';
import type { CliContext } from '../context.js';
import { describeDfuDevice, type DfuDescriptorSummary } from './board-checks.js';

async function listDevices(ctx: CliContext, rig: RigConfig, bus: UsbBus, busName: string): Promise<void> {
  const devices = await bus.list();
  const dfu = rig.bootloader.vidPid;
  const rows: Array<{
    vidPid: string; serialNumber: string | null; portPath: string; bootloader: boolean; thisRig: boolean;
    description: string; dfu: DfuDescriptorSummary | null;
  }> = [];
  for (const d of devices) {
    const bootloader = d.vendorId === dfu.vendorId && d.productId === dfu.productId;
    rows.push({
      vidPid: formatUsbId({ vendorId: d.vendorId, productId: d.productId }),
      serialNumber: d.serialNumber ?? null,
      portPath: d.portPath,
      bootloader,
      thisRig: bootloader && (rig.usb.serial === undefined || rig.usb.serial === d.serialNumber) && (rig.usb.portPath === undefined || rig.usb.portPath === d.portPath),
      description: describeDevice(d),
      // Only DFU bootloaders are opened: reading every device's strings would touch hubs and keyboards too.
      dfu: bootloader ? await describeDfuDevice(bus, d) : null,
    });
  }
  if (ctx.json) {
    ctx.outJson({ rig: rig.name, bus: busName, devices: rows });
    return;
  }
  if (rows.length === 0) ctx.out(`no USB devices on the ${busName}`);
  for (const r of rows) {
    const product = r.dfu && 'product' in r.dfu && r.dfu.product ? `  ${r.dfu.product}` : '';
    ctx.out(`${r.bootloader ? (r.thisRig ? 'DFU*' : 'DFU ') : '    '}  ${r.description}${product}`);
    if (r.dfu && 'error' in r.dfu) ctx.out(`        (cannot read its descriptors: ${r.dfu.error})`);
    else if (r.dfu) for (const a of r.dfu.alts) ctx.out(`        alt ${a.alt}  ${a.layout ?? '(no layout string)'}`);
  }
  ctx.out(`(${busName}; DFU* = ${formatUsbId(dfu)} matching rig ${rig.name}'s serial/port)`);
}

/** `dfu-hil devices`: USB devices on the rig's bus, with the alt settings and layouts of DFU bootloaders. */
export function registerDevices(program: Command, ctx: CliContext): void {
  program.command('devices')
    .description('list USB devices (VID:PID, serial, port path) and the alt settings of DFU bootloaders')
    .addHelpText('after', '\nOn a simulated rig this is the simulated board\'s in-process bus, as the board is now (run\n`dfu-hil enter` first to see its bootloader); on hardware rigs, the machine\'s USB through libusb.')
    .action(async () => {
      const { rig } = await ctx.pickedRig();
      if (rig.kind === 'sim' && ctx.exposure?.rig !== rig.name) {
        // The simulated board's bus exists only with the board: the rig is opened for it.
        await ctx.withRig(async (opened) => listDevices(ctx, rig, opened.bus, 'simulated bus'));
        return;
      }
      // Under `sim expose`, libusb sees the exposed board as it sees hardware.
      await listDevices(ctx, rig, await ctx.services.usbBus(), ctx.exposure ? 'exposed USB bus (libusb)' : 'USB bus (libusb)');
    });
}
