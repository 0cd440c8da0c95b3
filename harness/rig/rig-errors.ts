// The errors of the rig layer, each with the class it counts as (harness/errors.ts):
// RigInfrastructureError is the bench failing (retry it, quarantine it, do not blame the
// firmware), RigTestError the board (a finding), RigCapabilityMissing a check this rig cannot
// run (skip it, with the reason).
import { DfuHilError, type FailureClass } from '../errors.js';

/** A spec needs something this rig lacks: skip it with `reason`, never pass it silently. */
export class RigCapabilityMissing extends DfuHilError {
  constructor(readonly rig: string, readonly need: string, readonly reason: string) {
    super('rig-capability-missing', reason, { hint: 'Run this on a rig that has it (`dfu-hil rigs` lists them), or describe the wiring in rigs.yaml.', failureClass: 'capability' });
  }
}

/** The bench failed (board absent, hub, probe tool, lock, power): retry or quarantine, not a firmware finding. */
export class RigInfrastructureError extends DfuHilError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code.startsWith('rig-') ? code : `rig-${code}`, message, { ...options, failureClass: 'infrastructure' });
  }
}

/** The board under test behaved wrongly: a finding about the firmware or bootloader. */
export class RigTestError extends DfuHilError {
  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

export type { FailureClass };

/**
 * How a failure counts for retries and reports: the class the typed error carries. Anything
 * else counts against the board: infrastructure is claimed only when it is certain.
 */
export function classifyFailure(error: unknown): FailureClass {
  return error instanceof DfuHilError ? error.failureClass : 'test';
}
