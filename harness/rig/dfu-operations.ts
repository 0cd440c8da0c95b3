// Flash and leave as every rig does them, on a DfuSe session the rig opens.
import type { DfuseClient } from '../dfu/dfuse-client.js';
import { MemoryLayout } from '../dfu/layout.js';
import type { RigConfig } from './config/load-rigs.js';
import type { RigFlashImage, RigFlashOptions, RigFlashReport, RigLeaveReport } from './rig.js';

/** Opens a DfuSe session on the rig's bootloader. */
export type DfuSessionOpener = () => Promise<DfuseClient>;

/** Erases what `image` touches, writes and (by default) verifies it; option bytes only if the rig allows them. */
export async function flashOverDfu(open: DfuSessionOpener, config: RigConfig, image: RigFlashImage, options: RigFlashOptions = {}): Promise<RigFlashReport> {
  const dfu = await open();
  try {
    const report = await dfu.download(image, {
      erase: options.erase ?? 'touched', verify: options.verify ?? true, allowOptionBytes: config.allowOptionBytes,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
    return { bytesWritten: report.bytesWritten, erase: report.erase, erasedSectors: report.erasedSectors, verified: report.verified };
  } finally {
    await dfu.close();
  }
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
