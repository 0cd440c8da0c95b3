// What each probe tool can do, kept apart from the drivers so that describing a rig (which entry
// methods its probe allows) loads no driver.

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
