// The real services `dfu-hil` runs with: rigs from createRig (simulated ones on their saved
// board), and libusb for `devices` on hardware. Tests pass their own (or these with synthetic images).
// Each loads what it needs when first used: a command on a simulated rig never loads the
// hardware rig, its probe tools or libusb.
import type { ReferenceImages } from '../rig/reference-images.js';
import { RigInfrastructureError } from '../rig/rig-errors.js';
import type { CliServices } from './context.js';

/** Options of {@link defaultCliServices}. */
export interface DefaultCliServicesOptions {
  /** The reference images of the rigs (a factory-fresh simulated board is programmed with them); default the committed firmware, else synthetic. */
  images?: () => Promise<ReferenceImages>;
}

/** The services of the installed command. */
export function defaultCliServices(options: DefaultCliServicesOptions = {}): CliServices {
  const images = options.images ?? (async () => (await import('../rig/reference-images.js')).loadReferenceImages());
  return {
    rigFactory: async (config, context) => (await import('../rig/create-rig.js')).createRig(config, context, { images: await images() }),
    usbBus: async () => {
      // The native module is needed only for hardware, and a machine without libusb should
      // still run every simulated command.
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
