// Whether a CI rig is fit to run the suite, from `dfu-hil doctor --json` and its exit code. An
// unhealthy rig is a bench problem (a cable, a permission, a tool, rigs.yaml), reported as such
// and kept apart from test failures: its specs are not run, so they cannot all fail for it.
import { ExitCode } from '../cli/exit-codes.js';

/** Why a rig is or is not fit to run. */
export type RigHealthVerdict = 'healthy' | 'config' | 'infrastructure' | 'doctor-failed';

/** One doctor check that failed or warned, with its fix. */
export interface HealthProblem {
  check: string;
  detail: string;
  fix?: string;
}

/** A rig's health before the suite runs, as one CI job records it. */
export interface RigHealth {
  rig: string;
  /** 1-based shard this job runs, and the number of shards of its group. */
  shard: number;
  shardCount: number;
  healthy: boolean;
  verdict: RigHealthVerdict;
  problems: HealthProblem[];
  warnings: HealthProblem[];
}

interface DoctorCheck {
  id: string;
  status: 'ok' | 'warn' | 'fail';
  detail: string;
  fix?: string;
}

function parseDoctorChecks(output: string): DoctorCheck[] | undefined {
  try {
    const report = JSON.parse(output) as { checks?: unknown };
    if (!Array.isArray(report.checks)) return undefined;
    return report.checks.filter((c): c is DoctorCheck => typeof c === 'object' && c !== null && typeof (c as DoctorCheck).id === 'string');
  } catch {
    return undefined;
  }
}

const problem = (c: DoctorCheck): HealthProblem => ({ check: c.id, detail: c.detail, ...(c.fix ? { fix: c.fix } : {}) });

/** Reads the doctor's verdict: its exit code says which kind of problem, its JSON which checks. */
export function rigHealthFromDoctor(job: { rig: string; shard: number; shardCount: number }, exitCode: number, doctorOutput: string): RigHealth {
  const checks = parseDoctorChecks(doctorOutput);
  const base = { ...job, warnings: (checks ?? []).filter((c) => c.status === 'warn').map(problem) };
  const failed = (checks ?? []).filter((c) => c.status === 'fail').map(problem);
  if (checks === undefined || ![ExitCode.Ok, ExitCode.Config, ExitCode.Infrastructure].includes(exitCode as 0 | 3 | 4)) {
    return {
      ...base, healthy: false, verdict: 'doctor-failed',
      problems: [{ check: 'doctor', detail: `dfu-hil doctor ended with exit code ${exitCode}${checks === undefined ? ' and no JSON report' : ''}`, fix: 'read the doctor step of this job\'s log' }],
    };
  }
  if (exitCode === ExitCode.Ok) return { ...base, healthy: true, verdict: 'healthy', problems: [] };
  return { ...base, healthy: false, verdict: exitCode === ExitCode.Config ? 'config' : 'infrastructure', problems: failed };
}

const VERDICT_TEXT: Record<RigHealthVerdict, string> = {
  healthy: 'healthy',
  config: 'unhealthy: rigs.yaml (fix the rig\'s entry, then re-run)',
  infrastructure: 'unhealthy: infrastructure (fix the bench or the runner, not the firmware)',
  'doctor-failed': 'unhealthy: the doctor itself failed',
};

/** One line for a summary table cell. */
export function describeVerdict(health: Pick<RigHealth, 'verdict'>): string {
  return VERDICT_TEXT[health.verdict];
}

/** The health of one rig as Markdown, for the job summary. */
export function formatRigHealth(health: RigHealth): string {
  const shard = health.shardCount > 1 ? ` (shard ${health.shard}/${health.shardCount})` : '';
  const lines = [`### Rig ${health.rig}${shard}: ${describeVerdict(health)}`, ''];
  if (!health.healthy) lines.push('The suite was not run on this rig: these checks failed before it could start.', '');
  for (const p of health.problems) lines.push(`- **${p.check}**: ${p.detail}${p.fix ? ` — fix: ${p.fix}` : ''}`);
  for (const w of health.warnings) lines.push(`- warning, **${w.check}**: ${w.detail}${w.fix ? ` — fix: ${w.fix}` : ''}`);
  return `${lines.join('\n').trimEnd()}\n`;
}
