// Erasing flash over DfuSe on request: whole sectors the person names, or the whole flash, each
// checked blank afterwards, because the ST ROM reports no error for a write-protected sector it
// leaves as it was (AN3156 §4.1).
import type { DfuseClient, StuckEraseRecovery } from '../dfu/dfuse-client.js';
import type { MemoryLayout, Sector } from '../dfu/layout.js';
import { DfuHilError, hex32 } from '../errors.js';
import type { FlashProgress } from '../rig/rig.js';
import { CliUsageError } from './usage-error.js';
import { formatSize } from './memory-arguments.js';
import { explainReadoutProtection } from './readout-protection.js';
import { describeMemory, type RigMemories } from './rig-memory.js';

/** What a person asked to erase. */
export type EraseRequest =
  | { kind: 'mass' }
  | { kind: 'sectors'; addresses: readonly number[] }
  | { kind: 'range'; address: number; length: number };

/** What to send: a mass erase, or these sectors one by one. */
export type ErasePlan = { kind: 'mass' } | { kind: 'sectors'; sectors: readonly Sector[] };

/** What an erase did. */
export interface FlashEraseReport {
  erase: 'sectors' | 'mass';
  /** Start addresses of the sectors erased one by one (empty after a mass erase). */
  erasedSectors: number[];
  /** Bytes erased. */
  bytes: number;
  /** True when every erased byte was read back as 0xFF. */
  blankChecked: boolean;
  /** Sector erases that stayed dfuDNBUSY and were recovered (the STM32H7 ROM V9.1 bank-2 erase). */
  recoveries: StuckEraseRecovery[];
}

/** After the erase, a byte that does not read 0xFF. */
export class FlashNotBlankError extends DfuHilError {
  constructor(readonly address: number, readonly value: number, sector: Sector) {
    super('erase-not-blank', `${hex32(address)} reads 0x${value.toString(16).toUpperCase().padStart(2, '0')} after the erase of the sector at ${hex32(sector.start)}: the flash was not erased`, {
      hint: 'The ST bootloader reports no error for a write-protected sector and leaves it as it is: check the option bytes\' write protection (WPSN). Otherwise the erase was cut short (power, a reset): erase again.',
    });
  }
}

function sectorRange(sector: Sector): string {
  return `${hex32(sector.start)}..${hex32(sector.start + sector.size - 1)}`;
}

/** The sector of `flash` starting at `address`, or a usage error saying where the sectors are. */
function sectorStartingAt(memories: RigMemories, address: number, what: string): Sector {
  const { flash, optionBytes } = memories;
  if (optionBytes.contains(address, 1)) {
    throw new CliUsageError(`${what} ${hex32(address)} is in the option bytes; dfu-hil erase erases only the flash`,
      'Option bytes are only ever written as a whole block, on a rig with allowOptionBytes: true (dfu-hil flash of the block at its address).');
  }
  const sector = flash.sectorAt(address);
  if (!sector) throw new CliUsageError(`${what} ${hex32(address)} is outside the flash (${describeMemory(flash)})`, 'Give an address in the flash; `dfu-hil status` shows the layout the bootloader reports.');
  if (sector.start !== address) {
    throw new CliUsageError(`${what} ${hex32(address)} is not the start of a sector: it lies in the sector ${sectorRange(sector)}`,
      `Erase works on whole sectors (${formatSize(sector.size)} here). Give ${hex32(sector.start)} to erase that sector; nothing is erased that you did not name.`);
  }
  if (!sector.segment.erasable) throw new CliUsageError(`the sector ${sectorRange(sector)} is not erasable: the layout "${flash.source}" marks it so`, 'Erase another sector.');
  return sector;
}

/**
 * The sectors `request` names in `memories.flash`, each once, in address order; the request must
 * name whole sectors, so that nothing is erased that the person did not ask for.
 */
export function planErase(memories: RigMemories, request: EraseRequest): ErasePlan {
  if (request.kind === 'mass') return request;
  const sectors = new Map<number, Sector>();
  if (request.kind === 'sectors') {
    for (const address of request.addresses) sectors.set(address, sectorStartingAt(memories, address, 'sector'));
  } else {
    const { address, length } = request;
    const first = sectorStartingAt(memories, address, 'range start');
    const end = address + length;
    const outside = memories.flash.uncovered(address, length);
    if (outside !== undefined) throw new CliUsageError(`the range ${hex32(address)}..${hex32(end - 1)} leaves the flash at ${hex32(outside)} (${describeMemory(memories.flash)})`, 'Give a range inside the flash.');
    const touched = memories.flash.sectorsTouched(address, length);
    const last = touched.at(-1) ?? first;
    if (last.start + last.size !== end) {
      const ends = [last.start, last.start + last.size].filter((e) => e > address).map((e) => `${hex32(e)} (length ${formatSize(e - address)})`);
      throw new CliUsageError(`the range ${hex32(address)}..${hex32(end - 1)} ends inside the sector ${sectorRange(last)}`,
        `Erase works on whole sectors; nothing is erased that you did not name. End the range at ${ends.join(' or ')}.`);
    }
    for (const sector of touched) sectors.set(sector.start, sectorStartingAt(memories, sector.start, 'sector'));
  }
  return { kind: 'sectors', sectors: [...sectors.values()].sort((a, b) => a.start - b.start) };
}

/** Every erasable sector of `layout`: what a mass erase clears. */
function allSectors(layout: MemoryLayout): Sector[] {
  return layout.segments.filter((s) => s.erasable).flatMap((segment) => Array.from({ length: segment.sectorCount }, (_, i) => ({ start: segment.start + i * segment.sectorSize, size: segment.sectorSize, segment })));
}

/**
 * Erases what `plan` names on `dfu`'s memory (its selected alt setting), then, unless told not
 * to, reads every erased byte back and throws {@link FlashNotBlankError} on the first that is
 * not 0xFF. Progress comes as the 'erase' and 'verify' phases `dfu-hil flash` shows.
 */
export async function eraseFlash(dfu: DfuseClient, plan: ErasePlan, options: { blankCheck: boolean; onProgress: (p: FlashProgress) => void }): Promise<FlashEraseReport> {
  const { onProgress } = options;
  const erased = plan.kind === 'mass' ? allSectors(dfu.layout) : plan.sectors;
  const bytes = erased.reduce((n, s) => n + s.size, 0);
  const report: FlashEraseReport = { erase: plan.kind, erasedSectors: [], bytes, blankChecked: false, recoveries: [] };
  onProgress({ phase: 'erase', bytesDone: 0, bytesTotal: bytes });
  if (plan.kind === 'mass') {
    try {
      await dfu.massErase();
    } catch (error) {
      throw explainReadoutProtection(error, 'mass-erase the flash');
    }
    onProgress({ phase: 'erase', bytesDone: bytes, bytesTotal: bytes });
  } else {
    let done = 0;
    for (const sector of plan.sectors) {
      let recovery: StuckEraseRecovery | undefined;
      try {
        recovery = await dfu.eraseSector(sector.start);
      } catch (error) {
        throw explainReadoutProtection(error, `erase the sector at ${hex32(sector.start)}`);
      }
      if (recovery) report.recoveries.push(recovery);
      report.erasedSectors.push(sector.start);
      done += sector.size;
      onProgress({ phase: 'erase', bytesDone: done, bytesTotal: bytes });
    }
  }
  if (!options.blankCheck) return report;
  let checked = 0;
  onProgress({ phase: 'verify', bytesDone: 0, bytesTotal: bytes });
  for (const sector of erased) {
    const data = await dfu.upload(sector.start, sector.size, { onProgress: (p) => onProgress({ phase: 'verify', bytesDone: checked + p.bytesDone, bytesTotal: bytes }) });
    const dirty = data.findIndex((b) => b !== 0xff);
    if (dirty >= 0) throw new FlashNotBlankError(sector.start + dirty, data[dirty]!, sector);
    checked += sector.size;
  }
  report.blankChecked = true;
  return report;
}
