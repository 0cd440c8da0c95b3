import type { Command } from 'commander';
import type { RigConfig } from '../../rig/config/load-rigs.js';
import { formatUsbId, rigsJsonSchema } from '../../rig/config/schema.js';
import { capabilitiesFromConfig } from '../../rig/rig.js';
import type { CliContext } from '../context.js';

function summary(rig: RigConfig, isDefault: boolean, isSelected: boolean) {
  const caps = capabilitiesFromConfig(rig);
  return {
    name: rig.name,
    kind: rig.kind,
    default: isDefault,
    selected: isSelected,
    description: rig.description,
    entryMethods: [...caps.entryMethods],
    probe: caps.probe?.tool ?? null,
    powerControl: caps.powerControl,
    bootloader: { profile: caps.bootloader.profile ?? null, vidPid: formatUsbId(caps.bootloader.vidPid) },
    console: rig.console.path,
  };
}

/** `dfu-hil rigs`: lists the rigs of rigs.yaml, marking the default and the one chosen. */
export function registerRigs(program: Command, ctx: CliContext): void {
  program.command('rigs')
    .description('list the rigs in rigs.yaml (* marks the default)')
    .option('--schema', 'print the JSON Schema of rigs.yaml instead')
    .action(async (options: { schema?: boolean }) => {
      if (options.schema) {
        ctx.outJson(rigsJsonSchema());
        return;
      }
      const file = await ctx.rigsFile();
      const chosen = ctx.options.rig !== undefined || ctx.io.env.RIG ? await ctx.pickedRig() : undefined;
      const rows = [...file.rigs.values()].map((rig) => summary(rig, rig.name === file.defaultRig, rig.name === chosen?.rig.name));
      if (ctx.json) {
        ctx.outJson({ file: file.file, default: file.defaultRig ?? null, selected: chosen?.rig.name ?? null, rigs: rows });
        return;
      }
      const nameWidth = Math.max(4, ...rows.map((r) => r.name.length));
      const kindWidth = Math.max(4, ...rows.map((r) => r.kind.length));
      const entryWidth = Math.max(5, ...rows.map((r) => r.entryMethods.join(',').length));
      ctx.out(`  ${'NAME'.padEnd(nameWidth)}  ${'KIND'.padEnd(kindWidth)}  ${'ENTRY'.padEnd(entryWidth)}  DESCRIPTION`);
      for (const r of rows) {
        const mark = r.default ? '*' : ' ';
        ctx.out(`${mark} ${r.name.padEnd(nameWidth)}  ${r.kind.padEnd(kindWidth)}  ${r.entryMethods.join(',').padEnd(entryWidth)}  ${r.description}`.trimEnd());
      }
      ctx.out();
      ctx.out(`${file.file}${file.defaultRig ? `; * = default (${file.defaultRig})` : '; no default rig'}`);
      if (chosen) ctx.out(`chosen: ${chosen.rig.name} (from ${chosen.source === 'flag' ? '--rig' : 'RIG'})`);
    });
}
