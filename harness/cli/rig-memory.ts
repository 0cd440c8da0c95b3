// The board's memory as its rig describes it (rigs.yaml `bootloader.layout`): the flash and the
// option bytes, each a DfuSe layout. Ranges a command is given are checked against it before the
// board is touched.
import { hex32 } from '../errors.js';
import { MemoryLayout } from '../dfu/layout.js';
import type { RigConfig } from '../rig/config/load-rigs.js';
import { CliUsageError } from './usage-error.js';

/** The flash and option-byte layouts the rig's bootloader reports (alt 0 and alt 1 on ST's ROM). */
export interface RigMemories {
  flash: MemoryLayout;
  optionBytes: MemoryLayout;
}

/** Parses the layouts of `config`. */
export function rigMemories(config: RigConfig): RigMemories {
  return { flash: MemoryLayout.parse(config.bootloader.layout.flash), optionBytes: MemoryLayout.parse(config.bootloader.layout.optionBytes) };
}

/** "Internal Flash 0x08000000..0x081FFFFF". */
export function describeMemory(layout: MemoryLayout): string {
  return `${layout.name} ${hex32(layout.start)}..${hex32(layout.end - 1)}`;
}

/** One memory of a rig: which, and its layout. */
export interface RigMemory {
  kind: keyof RigMemories;
  layout: MemoryLayout;
}

/** The memory of `config` that holds all of [address, address + length), readable; else a usage error naming the memories. */
export function readableMemory(config: RigConfig, address: number, length: number): RigMemory {
  const memories = rigMemories(config);
  const { flash, optionBytes } = memories;
  const kind = (['flash', 'optionBytes'] as const).find((k) => memories[k].contains(address, length));
  if (!kind) {
    throw new CliUsageError(`${hex32(address)}..${hex32(address + length - 1)} is outside the memory of rig ${config.name} (${describeMemory(flash)}, ${describeMemory(optionBytes)})`,
      'Give a range inside one memory (the flash, or the option-byte block); `dfu-hil status` shows the layouts the bootloader reports.');
  }
  const layout = memories[kind];
  const unreadable = layout.sectorsTouched(address, length).find((s) => !s.segment.readable);
  if (unreadable) {
    throw new CliUsageError(`${hex32(unreadable.start)} is not readable: the layout "${layout.source}" marks it so`, 'Read another range; the bootloader refuses to upload this one.');
  }
  return { kind, layout };
}
