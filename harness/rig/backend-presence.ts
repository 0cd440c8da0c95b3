// Which backends each kind of rig binds, read from its description alone: what `dfu-hil rigs`
// lists and what a rig that cannot start here still reports. The rig kinds' backend sets
// (sim/sim-rig.ts, hardware/nucleo-h745-rig.ts) bind exactly these.
import { PROBE_TOOL_FEATURES } from '../probe/tool-features.js';
import type { BackendPresence } from './backends.js';
import type { RigConfig } from './config/load-rigs.js';
import type { UhubctlPort } from './config/schema.js';
import type { RigKind } from './config/vocabulary.js';

/** The BOOT0 jumper's power switch: its own uhubctl port, else the rig's power switch. */
export function jumperSwitch(config: RigConfig): UhubctlPort | undefined {
  const jumper = config.entry['boot0-jumper'];
  return jumper === undefined ? undefined : jumper.uhubctl ?? config.power?.uhubctl;
}

/** Backends per rig kind, from the description. */
export const BACKEND_PRESENCE: Readonly<Record<RigKind, (config: RigConfig) => BackendPresence>> = {
  // The simulated board: its power is always switchable, its probe can do everything a probe
  // does, BOOT0 is an RC circuit when one is described (else tied low), and faults can be armed.
  sim: (config) => ({
    console: true,
    power: true,
    probe: config.probe ? { tool: config.probe.tool, memoryWrite: true, systemReset: true } : undefined,
    boot0: { rc: config.entry.rc !== undefined, jumper: false },
    faults: true,
    executesFirmware: config.application === 'executed',
    appDfuRuntime: config.usb.dfuRuntime !== undefined,
  }),
  // A bench: power only through a switched hub port, a probe as able as its tool.
  'nucleo-h745': (config) => benchPresence(config),
  // Another board of the family on a bench binds the same backends; its description differs.
  stm32h7: (config) => benchPresence(config),
};

/** The backends of a board on a bench. */
function benchPresence(config: RigConfig): BackendPresence {
  const probe = config.probe;
  const features = probe ? PROBE_TOOL_FEATURES[probe.tool] : undefined;
  return {
    console: true,
    power: config.power !== undefined,
    probe: probe && features ? { tool: probe.tool, memoryWrite: features.memoryWrite, systemReset: features.systemReset } : undefined,
    boot0: { rc: config.entry.rc !== undefined, jumper: jumperSwitch(config) !== undefined },
    faults: false,
    executesFirmware: true,
    // What the firmware offers is what its description says: the application's own id is where DETACH goes.
    appDfuRuntime: config.usb.app !== undefined,
  };
}
