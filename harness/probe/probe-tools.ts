// Picks the probe driver a rig's `probe.tool` names (what each tool can do is in tool-features.ts).
import type { Clock } from '../clock/clock.js';
import type { CommandRunner } from './command-runner.js';
import { CubeProgrammerProbe } from './cube-programmer-probe.js';
import { DEFAULT_OPENOCD_BOARD, OpenOcdProbe } from './openocd-probe.js';
import type { DebugProbe, ProbeLog } from './probe.js';
import type { ProbeToolName } from './tool-features.js';
import { StFlashProbe } from './st-flash-probe.js';

/** A rig's `probe:` section, as the factory needs it. */
export interface ProbeSettings {
  tool: ProbeToolName;
  serial?: string | undefined;
  openocdConfig?: string | undefined;
}

/** Everything a driver needs besides the rig's settings. */
export interface ProbeDriverOptions {
  runner: CommandRunner;
  clock?: Clock;
  timeoutMs?: number;
  log?: ProbeLog;
  tempDir?: string;
  connectUnderReset?: boolean;
}

/** Builds the driver for `settings.tool`. */
export function createDebugProbe(settings: ProbeSettings, options: ProbeDriverOptions): DebugProbe {
  const common = {
    runner: options.runner,
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.log ? { log: options.log } : {}),
    ...(options.tempDir ? { tempDir: options.tempDir } : {}),
    ...(settings.serial ? { serial: settings.serial } : {}),
  };
  switch (settings.tool) {
    case 'st-flash':
      return new StFlashProbe({ ...common, connectUnderReset: options.connectUnderReset ?? false });
    case 'openocd':
      return new OpenOcdProbe({ ...common, config: settings.openocdConfig ?? DEFAULT_OPENOCD_BOARD });
    case 'stm32-programmer-cli':
      return new CubeProgrammerProbe({ ...common, connectUnderReset: options.connectUnderReset ?? false });
  }
}
