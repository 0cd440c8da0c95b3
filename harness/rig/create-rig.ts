import type { RigConfig } from './config/load-rigs.js';
import { createNucleoH745Rig } from './hardware/nucleo-h745-rig.js';
import { loadReferenceImages, type ReferenceImages } from './reference-images.js';
import type { Rig, RigContext } from './rig.js';
import { SimRig } from './sim/sim-rig.js';

/** Options of {@link createRig} beyond the rig's description. */
export interface CreateRigOptions {
  /** Images to restore between tests; default the committed firmware, else synthetic ones. */
  images?: ReferenceImages;
}

/** Builds the rig `config` describes: the simulated board, or a bench board. */
export async function createRig(config: RigConfig, context: RigContext, options: CreateRigOptions = {}): Promise<Rig> {
  switch (config.kind) {
    case 'sim':
      return SimRig.create(config, options.images ?? await loadReferenceImages());
    case 'nucleo-h745':
      // The lease is taken inside, before the console or USB is opened.
      return createNucleoH745Rig(config, context, { images: options.images ?? await loadReferenceImages() });
  }
}
