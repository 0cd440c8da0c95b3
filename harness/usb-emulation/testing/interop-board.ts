// What the interop tests with real clients share: the committed rigs.yaml's simulated board in
// its ROM bootloader, exposed on the emulated bus, and test data no wrong address can pass.
import path from 'node:path';
import { execaSync } from 'execa';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { loadRigs } from '../../rig/config/load-rigs.js';
import { REPO_ROOT, type ReferenceImages } from '../../rig/reference-images.js';
import { createSimRig, type SimRig } from '../../rig/sim/sim-rig.js';
import type { DfuRuntimeSettings } from '../../sim/app/dfu-runtime-interface.js';
import { SimulatedNucleoH745 } from '../../sim/board/nucleo-h745.js';
import { ST_ROM_H745_V9_2 } from '../../sim/bootloader/profiles.js';
import { ExposedBoard } from '../exposed-board.js';
import type { UmockdevSupport, UmockdevTools } from '../umockdev-support.js';

/** dfu-util's version on this machine, and why the tests that run it through umockdev cannot run here (undefined when they can). */
export function dfuUtilSupport(support: UmockdevSupport): { version: string | undefined; skipReason: string | undefined } {
  let version: string | undefined;
  try {
    version = /dfu-util (\S+)/.exec(execaSync('dfu-util', ['--version']).stdout)?.[1];
  } catch {
    version = undefined;
  }
  const skipReason = !support.available ? support.reason : version === undefined ? 'dfu-util is not installed (sudo apt-get install -y dfu-util)' : undefined;
  return { version, skipReason };
}

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

/** A simulated board running its application, which offers its own USB device with a DFU run-time interface. */
export interface ExposedSimApplication {
  clock: VirtualClock;
  board: SimulatedNucleoH745;
  exposed: ExposedBoard;
  close(): Promise<void>;
}

/**
 * Reference application A (and the CM4 image) on a simulated board at port 1-1, whose application
 * enumerates with `appUsb`; exposed once the application's device is on the bus.
 */
export async function exposeSimApplication(images: ReferenceImages, tools: UmockdevTools, appUsb: DfuRuntimeSettings): Promise<ExposedSimApplication> {
  const clock = new VirtualClock();
  const board = new SimulatedNucleoH745({ clock, profile: ST_ROM_H745_V9_2, portPath: '1-1', appUsb });
  for (const image of [images.appA, images.cm4]) for (const s of image.segments) board.loadImage(s.address, s.data);
  board.powerOn();
  await new Promise<void>((resolve) => {
    const stop = board.usb.watch((gadget) => { if (gadget) { stop(); resolve(); } });
  });
  try {
    const exposed = await ExposedBoard.start({ clock, connector: board.usb }, tools, { busyTimeScale: 0 });
    return {
      clock, board, exposed,
      close: async () => {
        try { await exposed.close(); } finally { board.dispose(); }
      },
    };
  } catch (error) {
    board.dispose();
    throw error;
  }
}

