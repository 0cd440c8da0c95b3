// The one check a rig uses to tell that its application is up, chosen from its description
// (rigs.yaml `appReady`) and wired to its backends: the console's log, its USB bus, its probe,
// and on a simulated board what the simulation sees.
import type { RigBackends } from '../backends.js';
import { speaksTestAppConsole, type RigConfig } from '../config/load-rigs.js';
import type { AppReadySetting } from '../config/schema.js';
import { RigInfrastructureError } from '../rig-errors.js';
import type { AppReadyCheck } from './app-ready.js';
import { consoleLogLines } from './console-banner-ready.js';
import { ImageRunningReady } from './image-running-ready.js';
import { createAppReadyCheck, type AppReadySpec } from './index.js';
import { TestAppReady } from './test-app-ready.js';

/** The form `setting` describes, for a board on `config`'s rig. */
export function appReadySpecOf(setting: AppReadySetting, config: RigConfig): AppReadySpec {
  switch (setting.form) {
    case 'none': return { form: 'none' };
    case 'settle-time': return { form: 'settle-time', ms: setting.settleMs };
    case 'gpio-level': return { form: 'gpio-level', pin: setting.gpio, level: setting.level, ...(setting.pollMs ? { pollMs: setting.pollMs } : {}) };
    case 'console-banner': {
      const port = setting.port ?? config.console.path ?? `sim:${config.name}`;
      return { form: 'console-banner', pattern: new RegExp(setting.banner), port, baudRate: setting.baud ?? config.console.baud };
    }
    case 'usb-device':
      // The application's own device on the board's port: the ROM's serial number is not its.
      return {
        form: 'usb-device',
        device: { ...setting.usb, ...(config.usb.portPath ? { portPath: config.usb.portPath } : {}) },
        ...(setting.product ? { productPattern: new RegExp(setting.product) } : {}),
      };
  }
}

/**
 * The check the rig's description asks for. Without `appReady`: the test application's READY
 * where the image speaks its console, else (a simulated board only) the core running the image.
 */
export function appReadyCheckFor(config: RigConfig, backends: RigBackends): AppReadyCheck {
  const { clock } = backends;
  if (config.appReady === undefined) {
    if (speaksTestAppConsole(config)) return new TestAppReady({ clock, console: backends.console });
    if (backends.simulation) return new ImageRunningReady({ clock, simulation: backends.simulation });
    throw new RigInfrastructureError('rig-config', `rig "${config.name}" runs firmware that speaks no test-application console, and does not say how to tell it is up`, {
      hint: 'Add appReady: to the rig in rigs.yaml (a banner, its USB device, a pin, a settle time, or none).',
    });
  }
  const consolePath = config.console.path ?? `sim:${config.name}`;
  return createAppReadyCheck(appReadySpecOf(config.appReady, config), {
    clock,
    // The rig's own console is read from its log, whichever port object is open; another port is the backends' to open.
    lines: (port, baudRate) => {
      if (port === consolePath) return consoleLogLines(backends.console.log);
      if (!backends.serialLines) {
        throw new RigInfrastructureError('rig-config', `rig "${config.name}" has no serial port ${port} besides its console for appReady.banner`, {
          hint: 'Leave out appReady.port to watch the console, or use another appReady form.',
        });
      }
      return backends.serialLines(port, baudRate ?? config.console.baud);
    },
    bus: backends.usb.bus,
    ...(backends.probe ? { probe: backends.probe.probe } : {}),
  });
}
