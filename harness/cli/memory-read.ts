// Reading a board's memory the way the board allows right now: over DfuSe while the bootloader
// is on the bus, else through the debug probe, which reads while the application runs.
import { H7_OPTION_BYTES_BASE } from '../dfu/option-bytes-guard.js';
import { hex32 } from '../errors.js';
import { ProbeError } from '../probe/probe.js';
import type { ProbeTool } from '../rig/config/vocabulary.js';
import { requireCapabilities, type FlashProgress, type Rig } from '../rig/rig.js';
import { CliUsageError } from './usage-error.js';
import { explainReadoutProtection, RDP_OFFSET, refuseProtectedProbeRead } from './readout-protection.js';
import type { RigMemory } from './rig-memory.js';

/** How a read reaches the board. */
export type ReadPath = 'dfu' | 'probe';

/** Which path to take: `auto` is DfuSe when the bootloader is on the bus, else the probe. */
export type ReadPathChoice = ReadPath | 'auto';

/** What a read did. */
export interface MemoryReadReport {
  via: ReadPath;
  data: Uint8Array;
  /** The DfuSe alternate setting read from (DfuSe only). */
  alt: number | undefined;
  /** The probe's tool (probe only). */
  probe: ProbeTool | undefined;
}

/**
 * Bytes per probe read. A tool-driven probe starts a process per read (~0.5 s), so the chunks
 * are large; they still give a 2 MiB read eight progress steps.
 */
const PROBE_CHUNK = 256 * 1024;

/** Picks the path a read takes on `rig` now, or says why none can be taken. */
export async function chooseReadPath(rig: Rig, choice: ReadPathChoice): Promise<ReadPath> {
  if (choice === 'probe') {
    requireCapabilities(rig, 'debug-probe');
    return 'probe';
  }
  if (await rig.bootloaderPresent()) return 'dfu';
  if (choice === 'dfu') {
    throw new CliUsageError(`${rig.name} is not in DFU mode, so there is nothing to read over DfuSe`,
      `Run \`dfu-hil enter\` first${rig.capabilities.probe ? ', or read through the probe (--via probe)' : ''}.`);
  }
  if (!rig.capabilities.probe || !rig.probe) {
    throw new CliUsageError(`${rig.name} is not in DFU mode, and the rig has no debug probe to read through while the application runs`,
      'Run `dfu-hil enter` first, then read again (or describe the rig\'s probe in rigs.yaml).');
  }
  return 'probe';
}

/** Reads [address, address + length) of `memory` (one of the rig's) over `via`. */
export async function readMemory(rig: Rig, memory: RigMemory, address: number, length: number, via: ReadPath, onProgress: (p: FlashProgress) => void): Promise<MemoryReadReport> {
  const what = `read ${hex32(address)}..${hex32(address + length - 1)}`;
  if (via === 'dfu') {
    // The alt setting whose layout holds the range: by its name, as the bootloader calls it.
    const dfu = await rig.openDfu({ altSetting: memory.layout.name });
    try {
      const data = await dfu.upload(address, length, { onProgress: (p) => onProgress({ ...p, phase: 'read' }) });
      return { via, data, alt: dfu.alternateSetting, probe: undefined };
    } catch (error) {
      throw explainReadoutProtection(error, what);
    } finally {
      await dfu.close();
    }
  }
  const probe = rig.probe!;
  if (memory.kind === 'flash') {
    // A probe meets protected flash as a bus fault, which says nothing of why: ask the option bytes first.
    const optsr = await probe.readMemory(H7_OPTION_BYTES_BASE, 4);
    refuseProtectedProbeRead(optsr[RDP_OFFSET]!, H7_OPTION_BYTES_BASE + RDP_OFFSET, what);
  }
  const data = new Uint8Array(length);
  onProgress({ phase: 'read', bytesDone: 0, bytesTotal: length });
  for (let done = 0; done < length;) {
    const want = Math.min(PROBE_CHUNK, length - done);
    const chunk = await probe.readMemory(address + done, want);
    if (chunk.length !== want) throw new ProbeError(`probe read of ${want} bytes at ${hex32(address + done)} returned ${chunk.length}`);
    data.set(chunk, done);
    done += chunk.length;
    onProgress({ phase: 'read', bytesDone: done, bytesTotal: length });
  }
  return { via, data, alt: undefined, probe: rig.capabilities.probe?.tool };
}
