// Flash and leave as every rig does them, on a DfuSe session the rig opens; and the record of
// what the board's flash holds that makes a re-flash skip the sectors already there.
import type { DfuseClient } from '../dfu/dfuse-client.js';
import { FlashContentCache, transferTraceWitness } from '../dfu/flash-content-cache.js';
import { MemoryLayout } from '../dfu/layout.js';
import { hex32 } from '../errors.js';
import type { DebugProbe } from '../probe/probe.js';
import type { TransferTrace } from '../usb/trace.js';
import type { RigConfig } from './config/load-rigs.js';
import type { RigFlashImage, RigFlashOptions, RigFlashReport, RigLeaveReport } from './rig.js';

/** Opens a DfuSe session on the rig's bootloader. */
export type DfuSessionOpener = () => Promise<DfuseClient>;

/**
 * The rig's record of its board's flash (per-sector digests), watching the rig's USB bus for
 * writes from any other session. The rig tells it about what the bus does not show: power
 * cycles, resets into an unknown state, faults; a probe wrapped with {@link probeWatchedBy}
 * tells it about flash changed over SWD.
 */
export function boardFlashCache(usbTrace: TransferTrace): FlashContentCache {
  const cache = new FlashContentCache();
  cache.watch(transferTraceWitness(usbTrace));
  return cache;
}

/** Cortex-M's SRAM region (ARMv7-M Architecture Reference Manual B3.1, 0x20000000–0x3FFFFFFF): writes there leave the flash alone. */
const SRAM_REGION = { start: 0x2000_0000, end: 0x4000_0000 } as const;

/**
 * `probe` with every command that may change the flash reported to `cache` first: a mass erase,
 * programming, a memory write outside SRAM (the flash interface's registers, say). Resets and
 * reads change nothing.
 */
export function probeWatchedBy<P extends DebugProbe>(probe: P, cache: FlashContentCache): P {
  return new Proxy(probe, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      const method = (value as (...args: unknown[]) => unknown).bind(target);
      if (property === 'massErase') return (...args: unknown[]) => { cache.distrust('the debug probe mass-erased the flash'); return method(...args); };
      if (property === 'programFlash') {
        return (address: number, bytes: Uint8Array) => { cache.distrust(`the debug probe programmed ${bytes.length} bytes at ${hex32(address)}`); return method(address, bytes); };
      }
      if (property === 'writeMemory') {
        return (address: number, bytes: Uint8Array) => {
          if (address < SRAM_REGION.start || address + bytes.length > SRAM_REGION.end) cache.distrust(`the debug probe wrote ${bytes.length} bytes at ${hex32(address)}`);
          return method(address, bytes);
        };
      }
      return method;
    },
  });
}

/**
 * Erases what `image` touches, writes and (by default) verifies it; option bytes only if the rig
 * allows them. With sector erase, sectors that already hold the image's bytes are skipped
 * (differential flashing, known from `cache` or read back) unless `options.full` asks for the
 * cold path.
 */
export async function flashOverDfu(open: DfuSessionOpener, config: RigConfig, image: RigFlashImage, options: RigFlashOptions = {}, cache?: FlashContentCache): Promise<RigFlashReport> {
  const erase = options.erase ?? 'touched';
  const dfu = await open();
  try {
    const report = await dfu.download(image, {
      erase, verify: options.verify ?? true, allowOptionBytes: config.allowOptionBytes,
      skipUnchanged: erase === 'touched' && options.full !== true,
      ...(cache ? { cache } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return {
      bytesWritten: report.bytesWritten, erase: report.erase, erasedSectors: report.erasedSectors, skippedSectors: report.skippedSectors,
      verified: report.verified, ...(report.differential ? { differential: report.differential } : {}),
    };
  } finally {
    await dfu.close();
  }
}

/** One line for a rig step: "erased 1 sector, skipped 7 unchanged (read back)". */
export function describeFlash(report: RigFlashReport): string {
  const erased = report.erase === 'mass' ? 'mass-erased' : `erased ${report.erasedSectors.length} sector${report.erasedSectors.length === 1 ? '' : 's'}`;
  const d = report.differential;
  if (!d) return `${erased}, wrote ${report.bytesWritten} bytes${report.verified ? ', verified' : ''}`;
  const how = d.readBack.length === 0 ? 'known from the flash cache' : d.fromCache.length === 0 ? 'read back' : `${d.fromCache.length} from the flash cache, ${d.readBack.length} read back`;
  const distrusted = d.cacheDistrusted ? `; flash cache distrusted: ${d.cacheDistrusted}` : '';
  return `${erased}, skipped ${report.skippedSectors.length} unchanged (${how}), wrote ${report.bytesWritten} bytes${report.verified ? ', verified' : ''}${distrusted}`;
}

/**
 * Leaves DFU into the application. The ROM jumps to its last address pointer, which a verify
 * leaves inside the image, so the pointer is set to the application's vector table first (the
 * start of the flash layout), as dfu-util's `-s address:leave` does.
 */
export async function leaveDfu(open: DfuSessionOpener, config: RigConfig): Promise<RigLeaveReport> {
  const dfu = await open();
  try {
    const vectorTable = MemoryLayout.parse(config.bootloader.layout.flash).start;
    const report = await dfu.leave(vectorTable, { waitForDetachMs: config.timeouts.leaveMs });
    return { outcome: report.outcome };
  } finally {
    await dfu.close();
  }
}
