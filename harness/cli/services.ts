// The real services `dfu-hil` runs with: rigs from createRig, simulated rigs on a saved board,
// and libusb for `devices` on hardware. Tests pass their own (or these with synthetic images).
import { createRig } from '../rig/create-rig.js';
import { loadReferenceImages, type ReferenceImages } from '../rig/reference-images.js';
import { RigInfrastructureError } from '../rig/rig.js';
import { SimRig } from '../rig/sim/sim-rig.js';
import type { CliServices } from './context.js';

/** Options of {@link defaultCliServices}. */
export interface DefaultCliServicesOptions {
  /** The images a factory-fresh simulated board is programmed with; default the committed firmware, else synthetic. */
  images?: () => Promise<ReferenceImages>;
}

/** The services of the installed command. */
export function defaultCliServices(options: DefaultCliServicesOptions = {}): CliServices {
  const images = options.images ?? (() => loadReferenceImages());
  return {
    rigFactory: (config, context) => createRig(config, context),
    openSimRig: async (config, state, context) => SimRig.create(config, await images(), { initialState: state, ...(context.lease ? { lease: context.lease } : {}) }),
    usbBus: async () => {
      // Loaded on demand: the native module is needed only for hardware, and a machine without
      // libusb should still run every simulated command.
      try {
        const { LibusbBus } = await import('../usb/libusb-bus.js');
        return new LibusbBus();
      } catch (error) {
        throw new RigInfrastructureError('usb-unavailable', `cannot load libusb: ${(error as Error).message}`, {
          cause: error, hint: 'Install libusb (sudo apt-get install libusb-1.0-0) and reinstall dependencies with `npm ci`.',
        });
      }
    },
  };
}
