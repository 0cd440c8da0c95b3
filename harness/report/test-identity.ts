// Which rig and transport a vitest project runs the specs on. The same spec runs in
// `hil:<rig>` (the rig's own bus) and `usb:<rig>` (the simulated board reached through libusb
// and umockdev); Allure must see each (spec, rig, transport) as a test of its own, not as
// retries of one.
import type { Label, Parameter } from 'allure-js-commons';

/** The rig and transport of a project's tests. */
export interface TestIdentity {
  rig: string;
  /** `in-process` (a simulated rig's own bus), `libusb+umockdev` (the USB emulation), `libusb` (a bench board). */
  transport: string;
}

/**
 * What a project's environment says about its tests: `RIG` names the rig, `DFU_HIL_SIM_USB`
 * the emulated USB. `kindOf` tells simulated rigs from bench boards (from rigs.yaml).
 */
export function identityOf(env: Readonly<Record<string, string | undefined>>, kindOf: (rig: string) => string | undefined): TestIdentity | undefined {
  const rig = env.RIG;
  if (!rig) return undefined;
  if (env.DFU_HIL_SIM_USB === 'umockdev') return { rig, transport: 'libusb+umockdev' };
  const kind = kindOf(rig);
  return { rig, transport: kind === undefined ? 'unknown' : kind === 'sim' ? 'in-process' : 'libusb' };
}

/**
 * Adds the identity to an Allure result as parameters (they enter its history id, so results
 * on different rigs or transports are never retries of each other) and as labels (to group by).
 */
export function applyIdentity(result: { parameters: Parameter[]; labels: Label[] }, identity: TestIdentity): void {
  for (const [name, value] of [['rig', identity.rig], ['transport', identity.transport]] as const) {
    if (!result.parameters.some((p) => p.name === name)) result.parameters.push({ name, value });
    if (!result.labels.some((l) => l.name === name)) result.labels.push({ name, value });
  }
}
