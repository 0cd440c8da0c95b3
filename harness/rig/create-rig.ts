// Builds the rig a description names: one table from rig kind to the set of backends that kind
// binds (pytest-embedded's services). Each kind's backends load only when a rig of that kind is
// opened, so a simulated rig never loads libusb or the probe tools, and a bench never the simulator.
import type { RigConfig } from './config/load-rigs.js';
import type { RigKind } from './config/vocabulary.js';
import { borrowedLease } from './lease-gate.js';
import { loadReferenceImages, referenceImagesFor, type ReferenceImages } from './reference-images.js';
import { type Rig, type RigContext } from './rig.js';
import { RigInfrastructureError } from './rig-errors.js';

/** Options of {@link createRig} beyond the rig's description. */
export interface CreateRigOptions {
  /** Images to restore between tests; default the committed firmware, else synthetic ones. */
  images?: ReferenceImages;
}

/** Opens a rig of one kind. */
type RigOpener = (config: RigConfig, context: RigContext, images: ReferenceImages) => Promise<Rig>;

/** The backends of each kind of rig. */
const BACKEND_TABLE: Readonly<Record<RigKind, RigOpener>> = {
  // A simulated board lives in this process: nobody else can reach it, so it needs no lease of its
  // own; a caller that keeps it between runs (the CLI's saved boards) holds one and passes it.
  sim: async (config, context, base) => {
    const images = await referenceImagesFor(config, base);
    const { createSimRig } = await import('./sim/sim-rig.js');
    return createSimRig(config, images, {
      usb: await simUsbWiring(context.env), env: context.env, warn: context.warn,
      ...(context.lease ? { lease: borrowedLease(context.lease) } : {}),
      ...(context.savedBoard ? { savedBoard: context.savedBoard } : {}),
    });
  },
  // The lease is taken inside, before the console or USB is opened.
  'nucleo-h745': (config, context, base) => openBench(config, context, base),
  // Another board of the family: the same backends, over its own description (layout, console, pins, firmware).
  stm32h7: (config, context, base) => openBench(config, context, base),
};

/** A board on a bench, restored between tests to its own reference image when the rig names one. */
async function openBench(config: RigConfig, context: RigContext, base: ReferenceImages): Promise<Rig> {
  const images = await referenceImagesFor(config, base);
  const { createNucleoH745Rig } = await import('./hardware/nucleo-h745-rig.js');
  return createNucleoH745Rig(config, context, { images });
}

/**
 * How the host reaches a simulated board's USB. DFU_HIL_SIM_USB=umockdev: through libusb and the
 * umockdev emulation instead of the in-process bus (the `usb:` vitest projects set it).
 */
async function simUsbWiring(env: RigContext['env']) {
  const usb = env.DFU_HIL_SIM_USB;
  if (usb !== undefined && usb !== '' && usb !== 'umockdev' && usb !== 'in-process') {
    throw new RigInfrastructureError('sim-usb', `DFU_HIL_SIM_USB is "${usb}"; it must be "umockdev" or "in-process"`, {
      hint: 'Unset it for the in-process bus, or set DFU_HIL_SIM_USB=umockdev (Linux, with umockdev installed) to reach the board through libusb.',
    });
  }
  if (usb === 'umockdev') return (await import('../usb-emulation/libusb-over-umockdev.js')).connectThroughUmockdev;
  return (await import('./sim/sim-rig.js')).inProcessSimUsb;
}

/** Builds the rig `config` describes: the simulated board, or a bench board. */
export async function createRig(config: RigConfig, context: RigContext, options: CreateRigOptions = {}): Promise<Rig> {
  return BACKEND_TABLE[config.kind](config, context, options.images ?? await loadReferenceImages());
}
