import type { RigConfig } from './config/load-rigs.js';
import { loadReferenceImages, type ReferenceImages } from './reference-images.js';
import { RigNotAvailable, type Rig, type RigContext } from './rig.js';
import { SimRig } from './sim/sim-rig.js';

/** Options of {@link createRig} beyond the rig's description. */
export interface CreateRigOptions {
  /** Images to restore between tests; default the committed firmware, else synthetic ones. */
  images?: ReferenceImages;
}

/** Builds the rig `config` describes: the simulated board, or a bench board. */
export async function createRig(config: RigConfig, _context: RigContext, options: CreateRigOptions = {}): Promise<Rig> {
  switch (config.kind) {
    case 'sim':
      return SimRig.create(config, options.images ?? await loadReferenceImages());
    case 'nucleo-h745':
      throw new RigNotAvailable('the hardware rig', config.kind);
  }
}
