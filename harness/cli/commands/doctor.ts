import path from 'node:path';
import type { Command } from 'commander';
import { formatProblem, RigConfigError } from '../../rig/config/load-rigs.js';
import type { CliContext } from '../context.js';
import { runDoctorChecks, systemDoctorEnvironment, type CheckResult, type DoctorEnvironment } from '../doctor/checks.js';
import { ExitCode } from '../exit-codes.js';

const LABEL: Record<CheckResult['status'], string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

/** `dfu-hil doctor`: checks the rigs file and the chosen rig's bench, each with a fix. */
export function registerDoctor(program: Command, ctx: CliContext, environment?: DoctorEnvironment): void {
  program.command('doctor')
    .description('check rigs.yaml and what the chosen rig needs on this machine')
    .action(async () => {
      const results: Array<{ id: string } & CheckResult> = [];
      let rigName: string | undefined;
      try {
        const file = await ctx.rigsFile();
        const picked = await ctx.pickedRig();
        rigName = picked.rig.name;
        results.push({ id: 'config', status: 'ok', detail: `${file.file} is valid (${file.rigs.size} rig${file.rigs.size === 1 ? '' : 's'}); rig ${picked.rig.name} (${picked.rig.kind}) chosen by ${picked.source === 'flag' ? '--rig' : picked.source === 'env' ? 'RIG' : 'the default'}` });
        results.push(...await runDoctorChecks(picked.rig, environment ?? systemDoctorEnvironment(ctx.io.env, path.dirname(ctx.rigsPath))));
      } catch (error) {
        if (!(error instanceof RigConfigError)) throw error;
        const detail = error.problems.length > 1 ? `${error.problems.length} problems:\n${error.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}` : error.message;
        results.push({ id: 'config', status: 'fail', detail, ...(error.hint ? { fix: error.hint } : {}) });
      }
      const failed = results.filter((r) => r.status === 'fail');
      const warned = results.filter((r) => r.status === 'warn');
      if (results[0]?.status === 'fail') ctx.exitCode = ExitCode.Config;
      else if (failed.length > 0) ctx.exitCode = ExitCode.Infrastructure;
      if (ctx.json) {
        ctx.outJson({ rig: rigName ?? null, ok: failed.length === 0, checks: results });
        return;
      }
      const idWidth = Math.max(...results.map((r) => r.id.length));
      for (const r of results) {
        ctx.out(`${LABEL[r.status]}  ${r.id.padEnd(idWidth)}  ${r.detail}`);
        if (r.fix && r.status !== 'ok') ctx.out(`${' '.repeat(6 + idWidth)}  fix: ${r.fix}`);
      }
      ctx.out();
      ctx.out(failed.length === 0
        ? `doctor: ${rigName ?? 'rig'} is ready${warned.length ? ` (${warned.length} warning${warned.length === 1 ? '' : 's'})` : ''}`
        : `doctor: ${failed.length} check${failed.length === 1 ? '' : 's'} failed${warned.length ? `, ${warned.length} warning${warned.length === 1 ? '' : 's'}` : ''}`);
    });
}
