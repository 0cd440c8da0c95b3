// The bench itself, checked once before the other specs (fixtures/rig-health-setup.ts). When
// it fails, this is the one failure reported, as infrastructure; every other spec is skipped
// with the same reason rather than failing for it.
import { RigInfrastructureError } from '../harness/rig/rig-errors.js';
import { expect, healthTest } from '../fixtures/hil.js';

healthTest('the rig is fit to run the suite: its description reads, its lease, console and USB open', ({ rigHealth }) => {
  if (!rigHealth.healthy) {
    throw new RigInfrastructureError(rigHealth.code, `rig ${rigHealth.rig ?? '(none)'} is not fit to run the suite: ${rigHealth.message}`, { ...(rigHealth.hint ? { hint: rigHealth.hint } : {}) });
  }
  expect(rigHealth.rig).toBe(process.env.RIG ?? rigHealth.rig);
});
