// Is the rig fit to run a suite at all? Checked once before the specs run: a bench without its
// board (nothing plugged in, a console port that is not there, a lease another run holds, a
// rigs.yaml that does not parse) fails this one check as infrastructure, and every spec is then
// skipped with its reason, instead of each of them failing the same way.
import { DfuHilError } from '../errors.js';
import { findRigsFile, loadRigs, pickRig } from './config/load-rigs.js';
import { createRig } from './create-rig.js';
import { type RigContext, type RigFactory } from './rig.js';
import { classifyFailure } from './rig-errors.js';

/** The verdict, plain data so it can be handed from vitest's global setup to the workers. */
export type RigHealth =
  | { healthy: true; rig: string }
  | { healthy: false; rig: string | undefined; code: string; message: string; hint: string | undefined; failure: 'infrastructure' | 'config' };

/** Options of {@link checkRigHealth}. */
export interface RigHealthOptions {
  env: Readonly<Record<string, string | undefined>>;
  cwd: string;
  warn?: RigContext['warn'];
  /** Builds the rig; default {@link createRig}. */
  factory?: RigFactory;
}

/**
 * Opens the rig RIG (or the file's default) names, as the specs' fixture will, and closes it
 * again. Simulated rigs are healthy once their description is: the board is in this process.
 */
export async function checkRigHealth(options: RigHealthOptions): Promise<RigHealth> {
  let rigName: string | undefined;
  try {
    const { rig: config } = pickRig(await loadRigs(findRigsFile(options.cwd, options.env)), { env: options.env.RIG });
    rigName = config.name;
    if (config.kind === 'sim') return { healthy: true, rig: config.name };
    const rig = await (options.factory ?? ((c, ctx) => createRig(c, ctx)))(config, { env: options.env, warn: options.warn ?? (() => undefined) });
    await rig.close();
    return { healthy: true, rig: config.name };
  } catch (error) {
    const kind = classifyFailure(error);
    // Only the bench's own failures keep the suite from running; anything else is for the specs to find.
    if (!(error instanceof DfuHilError) || kind !== 'infrastructure') return { healthy: true, rig: rigName ?? '(unknown)' };
    return {
      healthy: false, rig: rigName, code: error.code, message: error.message, hint: error.hint,
      failure: error.code === 'rig-config' ? 'config' : 'infrastructure',
    };
  }
}

/** The one line a skipped spec shows for an unhealthy rig. */
export function unhealthyReason(health: Extract<RigHealth, { healthy: false }>): string {
  return `rig ${health.rig ?? '(none)'} is not fit to run (${health.failure}): ${health.message.split('\n')[0]}`;
}
