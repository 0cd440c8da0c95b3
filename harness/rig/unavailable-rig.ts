// A rig that cannot run on this machine at all (a simulated rig in executed mode without
// libunicorn): it stands in for the real one so the suite still runs, and every spec is
// skipped with the reason instead of failing to start.
import type { RigConfig } from './config/load-rigs.js';
import { capabilitiesFromConfig, type Rig } from './rig.js';
import { RigCapabilityMissing } from './rig-errors.js';

const UNAVAILABLE = Symbol('rig unavailable');

/** A stand-in whose every operation throws {@link RigCapabilityMissing} with `reason`. */
export function unavailableRig(config: RigConfig, reason: string): Rig {
  const base = { name: config.name, kind: config.kind, config, capabilities: capabilitiesFromConfig(config), [UNAVAILABLE]: reason };
  return new Proxy(base, {
    get(target, property) {
      if (property in target) return (target as Record<PropertyKey, unknown>)[property];
      if (property === 'then') return undefined;
      if (property === 'close') return async () => undefined;
      return () => { throw new RigCapabilityMissing(config.name, 'rig', reason); };
    },
  }) as unknown as Rig;
}

/** Why `rig` cannot run here, when it is a stand-in from {@link unavailableRig}. */
export function rigUnavailableReason(rig: Rig): string | undefined {
  return (rig as unknown as Record<symbol, string | undefined>)[UNAVAILABLE];
}
