// What the interop tests with real clients share: the committed rigs.yaml's simulated board in
// its ROM bootloader, exposed on the emulated bus, and test data no wrong address can pass.
import path from 'node:path';
import { loadRigs } from '../../rig/config/load-rigs.js';
import { REPO_ROOT, type ReferenceImages } from '../../rig/reference-images.js';
import { createSimRig, type SimRig } from '../../rig/sim/sim-rig.js';
import { ExposedBoard } from '../exposed-board.js';
import type { UmockdevTools } from '../umockdev-support.js';

/** A simulated board in DFU mode that child programs see on the emulated bus. */
export interface ExposedSimBoard {
  rig: SimRig;
  exposed: ExposedBoard;
  close(): Promise<void>;
}

/** The rig `sim-h745` (ROM V9.2) entered into DFU by console-jump, exposed with the given busy-time scale. */
export async function exposeSimBoard(images: ReferenceImages, tools: UmockdevTools, busyTimeScale: number): Promise<ExposedSimBoard> {
  const rig = await createSimRig((await loadRigs(path.join(REPO_ROOT, 'rigs.yaml'))).rigs.get('sim-h745')!, images);
  try {
    await rig.enterDfu('console-jump');
    const exposed = await ExposedBoard.start({ clock: rig.clock, connector: rig.backends.board.usb }, tools, { busyTimeScale });
    return {
      rig, exposed,
      close: async () => {
        try { await exposed.close(); } finally { await rig.close(); }
      },
    };
  } catch (error) {
    await rig.close();
    throw error;
  }
}

/** Bytes that differ at every offset (xorshift), so a block read from the wrong address cannot pass. */
export function distinctBytes(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  let x = (0x9e3779b9 ^ seed) | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
