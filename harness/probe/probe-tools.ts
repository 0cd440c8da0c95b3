// Picks the probe driver a rig's `probe.tool` names, and says what each tool can do, so that a
// rig can offer only the entry methods its probe supports.
import type { Clock } from '../clock/clock.js';
import type { CommandRunner } from './command-runner.js';
import { CubeProgrammerProbe } from './cube-programmer-probe.js';
import { DEFAULT_OPENOCD_BOARD, OpenOcdProbe } from './openocd-probe.js';
import type { DebugProbe, ProbeLog } from './probe.js';
import { StFlashProbe } from './st-flash-probe.js';

/** Probe tools by their rigs.yaml names (the same list as the rig schema's PROBE_TOOLS). */
export type ProbeToolName = 'st-flash' | 'openocd' | 'stm32-programmer-cli';

/** What a tool can do beyond reads, flash programming, mass erase and an NRST reset. */
export interface ProbeToolFeatures {
  /** Writes RAM or registers without side effects (the magic word of the probe entry). */
  memoryWrite: boolean;
  /** A software (SYSRESETREQ) reset, the cause the magic-word check wants. */
  systemReset: boolean;
  /** The executable looked up on PATH. */
  executable: string;
}

/** Features per tool; st-flash 1.7 lacks both (see st-flash-probe.ts). */
export const PROBE_TOOL_FEATURES: Readonly<Record<ProbeToolName, ProbeToolFeatures>> = {
  'st-flash': { memoryWrite: false, systemReset: false, executable: 'st-flash' },
  openocd: { memoryWrite: true, systemReset: true, executable: 'openocd' },
  'stm32-programmer-cli': { memoryWrite: true, systemReset: true, executable: 'STM32_Programmer_CLI' },
};

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
