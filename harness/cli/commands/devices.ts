import type { Command } from 'commander';
import { formatUsbId } from '../../rig/config/schema.js';
import { RigNotAvailable } from '../../rig/rig.js';
import { describeDevice } from '../../usb/transport.js';
import type { CliContext } from '../context.js';

/** `dfu-hil devices`: USB devices on the bus, marking the ones the chosen rig expects in DFU mode. */
export function registerDevices(program: Command, ctx: CliContext): void {
  program.command('devices')
    .description('list USB devices, marking DFU bootloaders the chosen rig expects')
    .action(async () => {
      const { rig } = await ctx.pickedRig();
      if (!ctx.services.usbBus) throw new RigNotAvailable('listing USB devices', rig.kind);
      const bus = await ctx.services.usbBus();
      const devices = await bus.list();
      const dfu = rig.bootloader.vidPid;
      const rows = devices.map((d) => ({
        id: formatUsbId({ vendorId: d.vendorId, productId: d.productId }),
        serialNumber: d.serialNumber ?? null,
        portPath: d.portPath,
        bootloader: d.vendorId === dfu.vendorId && d.productId === dfu.productId,
        thisRig: (rig.usb.serial === undefined || rig.usb.serial === d.serialNumber) && (rig.usb.portPath === undefined || rig.usb.portPath === d.portPath),
        description: describeDevice(d),
      }));
      if (ctx.json) {
        ctx.outJson({ rig: rig.name, devices: rows });
        return;
      }
      if (rows.length === 0) ctx.out('no USB devices found');
      for (const r of rows) ctx.out(`${r.bootloader ? (r.thisRig ? 'DFU*' : 'DFU ') : '    '}  ${r.description}`);
      ctx.out(`(DFU* = ${formatUsbId(dfu)} matching rig ${rig.name}'s serial/port)`);
    });
}
