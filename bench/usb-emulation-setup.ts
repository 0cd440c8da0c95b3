// What both hosts in usb-emulation-bench.ts flash: the same simulated rig and the same 1 MiB.
import path from 'node:path';
import type { ImageSegment } from '../harness/image/firmware-image.js';
import { loadRigs, type RigConfig } from '../harness/rig/config/load-rigs.js';
import { REPO_ROOT } from '../harness/rig/reference-images.js';
import { patternBytes } from '../harness/image/testing/pattern-bytes.js';

/** The committed rigs.yaml's simulated rig on ROM V9.2. */
export async function benchRig(): Promise<RigConfig> {
  return (await loadRigs(path.join(REPO_ROOT, 'rigs.yaml'))).rigs.get('sim-h745')!;
}

/** 1 MiB of pattern bytes at the start of bank 1 (eight 128 KiB sectors). */
export function benchImage(): ImageSegment {
  return { address: 0x0800_0000, data: patternBytes(1024 * 1024, 0x1f2e3d4c) };
}
