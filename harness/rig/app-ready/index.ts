// The forms of "the application is up", and one way to build any of them from a description
// (a rig builds its own from rigs.yaml: rig-app-ready.ts).
import type { Clock } from '../../clock/clock.js';
import { DfuHilError } from '../../errors.js';
import type { DebugProbe } from '../../probe/probe.js';
import type { UsbBus } from '../../usb/transport.js';
import type { AppReadyCheck } from './app-ready.js';
import { ConsoleBannerReady, type ConsoleBannerOptions, type ConsoleLines } from './console-banner-ready.js';
import { GpioLevelReady, type GpioLevelOptions } from './gpio-level-ready.js';
import { NoAppCheck } from './no-app-check.js';
import { SettleTimeReady } from './settle-time-ready.js';
import { UsbDeviceReady, type UsbDeviceReadyOptions } from './usb-device-ready.js';

export {
  AppNotReadyError, AppReadyCancelled, type AppIdentity, type AppReadyCheck, type AppReadyForm, type AppReadyResult, type AppReadyWatch,
} from './app-ready.js';
export { ConsoleBannerReady, consoleLogLines, serialLines, type ConsoleLines } from './console-banner-ready.js';
export { GpioLevelReady, gpioInput } from './gpio-level-ready.js';
export { NoAppCheck } from './no-app-check.js';
export { SettleTimeReady } from './settle-time-ready.js';
export { UsbDeviceReady } from './usb-device-ready.js';
export { TestAppReady } from './test-app-ready.js';
export { ImageRunningReady } from './image-running-ready.js';

/** One form with its settings, as a rig describes it. */
export type AppReadySpec =
  | ({ form: 'console-banner'; baudRate?: number } & ConsoleBannerOptions)
  | ({ form: 'usb-device' } & UsbDeviceReadyOptions)
  | ({ form: 'gpio-level' } & GpioLevelOptions)
  | { form: 'settle-time'; ms: number }
  | { form: 'none' };

/** The time and I/O a rig gives the checks; a form whose I/O is missing cannot be built. */
export interface AppReadyIo {
  clock: Clock;
  /** The lines of a console port, opened by the rig (at `baudRate`, or the port's own). */
  lines?(port: string, baudRate?: number): ConsoleLines;
  bus?: UsbBus;
  probe?: DebugProbe;
}

/** The rig lacks what a form needs (a console port, a USB bus, a probe). */
export class AppReadyWiringError extends DfuHilError {
  constructor(readonly need: 'console' | 'usb' | 'probe', spec: AppReadySpec) {
    super('app-ready-unwired', `app-ready "${spec.form}" needs the rig's ${need === 'console' ? 'console port' : need === 'usb' ? 'USB bus' : 'debug probe'}, which this rig does not have`, {
      hint: need === 'probe' ? 'Add a probe: section to the rig, or pick another app-ready form.' : 'Describe it in the rig, or pick another app-ready form.',
    });
  }
}

/** Builds the check `spec` describes over the rig's `io`. */
export function createAppReadyCheck(spec: AppReadySpec, io: AppReadyIo): AppReadyCheck {
  const { clock } = io;
  switch (spec.form) {
    case 'console-banner': {
      if (!io.lines) throw new AppReadyWiringError('console', spec);
      return new ConsoleBannerReady(spec, { clock, lines: io.lines(spec.port, spec.baudRate) });
    }
    case 'usb-device': {
      if (!io.bus) throw new AppReadyWiringError('usb', spec);
      return new UsbDeviceReady(spec, { clock, bus: io.bus });
    }
    case 'gpio-level': {
      if (!io.probe) throw new AppReadyWiringError('probe', spec);
      return new GpioLevelReady(spec, { clock, probe: io.probe });
    }
    case 'settle-time': return new SettleTimeReady(spec, { clock });
    case 'none': return new NoAppCheck({ clock });
  }
}
