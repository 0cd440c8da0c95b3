// The hardware rigs CI runs on, as a GitHub Actions job matrix: one job per rig with a `ci:`
// section, sent to its own self-hosted runner by label. Identical boards (one CI group) split the
// suite between them, each running one shard of it.
import { RigConfigError, rigCi, type RigsFile } from '../rig/config/load-rigs.js';

/** One job of the matrix: a rig, where it runs, and its part of the suite. */
export interface RigMatrixEntry {
  rig: string;
  /** runs-on labels of the runner the board is attached to. */
  labels: string[];
  group: string;
  /** 1-based: this rig runs `vitest --shard=<shard>/<shardCount>`. */
  shard: number;
  shardCount: number;
}

/** The value for `strategy.matrix` (`fromJSON` of it). An empty `include` means: skip the jobs. */
export interface RigMatrix {
  include: RigMatrixEntry[];
}

/** Options of {@link hardwareRigMatrix}. */
export interface RigMatrixOptions {
  /** Only these rigs (a manual run on some boards); every CI rig when absent or empty. */
  only?: readonly string[];
}

/** The matrix of the hardware rigs in `rigs` that take part in CI, in file order. */
export function hardwareRigMatrix(rigs: RigsFile, options: RigMatrixOptions = {}): RigMatrix {
  const ciRigs = [...rigs.rigs.values()].flatMap((rig) => {
    const ci = rig.kind === 'sim' ? undefined : rigCi(rig);
    return ci ? [{ name: rig.name, ...ci }] : [];
  });
  const only = options.only?.filter((name) => name.length > 0) ?? [];
  for (const name of only) {
    if (ciRigs.some((r) => r.name === name)) continue;
    const known = ciRigs.map((r) => r.name).join(', ') || 'none';
    const why = rigs.rigs.has(name) ? `rig "${name}" takes no part in CI (it is simulated or has no "ci:" section)` : `unknown rig "${name}"`;
    throw new RigConfigError([], {
      message: `${why}; the CI rigs in ${rigs.file} are: ${known}`,
      hint: 'Name CI rigs only, or give the hardware rig a "ci:" section in rigs.yaml (docs/ci.md).',
    });
  }
  const chosen = only.length > 0 ? ciRigs.filter((r) => only.includes(r.name)) : ciRigs;
  const groupSize = new Map<string, number>();
  for (const r of chosen) groupSize.set(r.group, (groupSize.get(r.group) ?? 0) + 1);
  const taken = new Map<string, number>();
  return {
    include: chosen.map((r) => {
      const shard = (taken.get(r.group) ?? 0) + 1;
      taken.set(r.group, shard);
      return { rig: r.name, labels: r.runnerLabels, group: r.group, shard, shardCount: groupSize.get(r.group)! };
    }),
  };
}
