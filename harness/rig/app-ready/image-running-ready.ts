// On a simulated board, an image of the team's own that shows nothing the rig is told to look
// for is up once the core runs it: not the ROM, not a fault handler. Only a simulation can see
// that; a bench needs one of the other forms.
import type { Clock } from '../../clock/clock.js';
import type { SimulationBackend } from '../backends.js';
import { AppNotReadyError, type AppReadyCheck, type AppReadyWatch } from './app-ready.js';

/** The core runs the image; its name and version come from the image's version block. */
export class ImageRunningReady implements AppReadyCheck {
  readonly form = 'image-running' as const;

  constructor(private readonly io: { clock: Clock; simulation: Pick<SimulationBackend, 'runningApplication' | 'runningCode'> }) {}

  describe(): string {
    return 'the simulated core runs the image';
  }

  arm(): AppReadyWatch {
    const { clock, simulation } = this.io;
    const armedAt = clock.now();
    return {
      wait: async (timeoutMs) => {
        const deadline = clock.now() + timeoutMs;
        for (;;) {
          // Give the core its first millisecond: a broken image faults within it.
          await clock.sleep(1);
          const application = simulation.runningApplication();
          const t = clock.now();
          if (application) {
            return { form: this.form, checked: true, t, afterMs: t - armedAt, evidence: `the core runs ${application.name} ${application.version}`, ...application };
          }
          if (t >= deadline) {
            const running = simulation.runningCode();
            throw new AppNotReadyError(this.form, `the application did not start within ${timeoutMs} ms (the board runs ${running === 'none' ? 'nothing' : `its ${running}`})`,
              'Check that the image is valid code for 0x08000000 and sets the supply the board is wired for.');
          }
        }
      },
      cancel: () => undefined,
    };
  }
}
