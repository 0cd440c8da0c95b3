// How a rig knows the application is up, one object per way. The test application says so on
// its console (READY); an image of a team's own that speaks no console protocol is up once the
// simulated core runs it. Another form (a line of the team's own, the application's USB device
// appearing) is one more object here, chosen from the rig's description in `appReadyCheckFor`.
import { ConsoleError, type ReadyBanner } from '../serial/test-app-console.js';
import type { BackendPresence, RigBackends } from './backends.js';
import type { RigConfig } from './config/load-rigs.js';
import { RigTestError } from './rig-errors.js';

/** When to wait until, and for a boot after which console log position. */
export interface AppReadyWait {
  timeoutMs: number;
  /** Console log position of the reset, power-up or leave the application boots from. */
  after: number;
}

/** One way of knowing the application is up. */
export interface AppReadyCheck {
  readonly name: string;
  /** Why a rig with `presence` cannot use this check, or undefined when it can. */
  unavailable(presence: BackendPresence & { simulation: boolean }): string | undefined;
  /** Resolves with the application's name and version once it is up; rejects after the timeout. */
  wait(backends: RigBackends, wait: AppReadyWait): Promise<ReadyBanner>;
}

/**
 * The READY banner of the next boot. If the port vanished meanwhile (a power cycle on a bench),
 * the banner may have gone out while nobody listened: then `version` proves the application is
 * up, and its answer stands in for the banner.
 */
export const consoleBannerCheck: AppReadyCheck = {
  name: 'READY on the console',
  unavailable: (presence) => (presence.console ? undefined : 'it needs the test application\'s console'),
  async wait({ console: keeper, clock }, { timeoutMs, after }) {
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      try {
        return await keeper.current.waitForReady(Math.max(1, deadline - clock.now()), { after });
      } catch (error) {
        const remaining = deadline - clock.now();
        if (error instanceof ConsoleError && error.failure === 'port-closed' && remaining > 0) {
          await keeper.reopen(remaining);
          continue;
        }
        if (error instanceof ConsoleError && error.failure === 'timeout' && keeper.reopenedSince(after)) {
          const { name, version } = await keeper.current.version();
          return { name, version, t: clock.now() };
        }
        throw error;
      }
    }
  },
};

/**
 * An image of the team's own has no READY line to wait for: the application is up once the core
 * runs it (not the ROM, not a fault handler). Its name and version come from its version block.
 */
export const imageRunningCheck: AppReadyCheck = {
  name: 'the core runs the image',
  unavailable: (presence) => (presence.simulation ? undefined : 'only a simulated board can tell what its core runs'),
  async wait({ clock, simulation }, { timeoutMs }) {
    const deadline = clock.now() + timeoutMs;
    for (;;) {
      // Give the core its first millisecond: a broken image faults within it.
      await clock.sleep(1);
      const application = simulation!.runningApplication();
      if (application) return { ...application, t: clock.now() };
      if (clock.now() >= deadline) {
        const running = simulation!.runningCode();
        throw new RigTestError('sim-app-not-running', `the application did not start within ${timeoutMs} ms (the board runs ${running === 'none' ? 'nothing' : `its ${running}`})`, {
          hint: 'Check that the image is valid code for 0x08000000 and sets the supply the board is wired for.',
        });
      }
    }
  },
};

/** The check a rig's description asks for: the console banner, unless its own firmware speaks no console. */
export function appReadyCheckFor(config: RigConfig): AppReadyCheck {
  return config.firmware !== undefined && !config.firmware.console ? imageRunningCheck : consoleBannerCheck;
}
