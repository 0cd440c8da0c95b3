import type { RigConfig } from './config/load-rigs.js';
import { createNucleoH745Rig } from './hardware/nucleo-h745-rig.js';
import { loadReferenceImages, referenceImagesFor, type ReferenceImages } from './reference-images.js';
import { RigInfrastructureError, type Rig, type RigContext } from './rig.js';
import { SimRig } from './sim/sim-rig.js';

/** Options of {@link createRig} beyond the rig's description. */
export interface CreateRigOptions {
  /** Images to restore between tests; default the committed firmware, else synthetic ones. */
  images?: ReferenceImages;
}

/** Builds the rig `config` describes: the simulated board, or a bench board. */
export async function createRig(config: RigConfig, context: RigContext, options: CreateRigOptions = {}): Promise<Rig> {
  switch (config.kind) {
    case 'sim': {
      const images = await referenceImagesFor(config, options.images ?? await loadReferenceImages());
      // DFU_HIL_SIM_USB=umockdev: the host reaches the simulated board through libusb and the
      // umockdev emulation instead of the in-process bus (the `usb:` vitest projects set it).
      const usb = context.env.DFU_HIL_SIM_USB;
      if (usb !== undefined && usb !== '' && usb !== 'umockdev' && usb !== 'in-process') {
        throw new RigInfrastructureError('sim-usb', `DFU_HIL_SIM_USB is "${usb}"; it must be "umockdev" or "in-process"`, {
          hint: 'Unset it for the in-process bus, or set DFU_HIL_SIM_USB=umockdev (Linux, with umockdev installed) to reach the board through libusb.',
        });
      }
      if (usb === 'umockdev') {
        const { connectThroughUmockdev } = await import('../usb-emulation/libusb-over-umockdev.js');
        return SimRig.create(config, images, { usb: connectThroughUmockdev, env: context.env, ...(context.lease ? { lease: context.lease } : {}) });
      }
      return SimRig.create(config, images, { env: context.env, ...(context.lease ? { lease: context.lease } : {}) });
    }
    case 'nucleo-h745':
      // The lease is taken inside, before the console or USB is opened.
      return createNucleoH745Rig(config, context, { images: options.images ?? await loadReferenceImages() });
  }
}
