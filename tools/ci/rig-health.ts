// Turns `dfu-hil doctor --json` into the rig's health for a CI job: writes it to --out for the
// nightly summary, shows it in the job summary, annotates the run when the rig is unhealthy, and
// sets the step output `healthy` (true/false) that decides whether the suite runs.
//
//   npx tsx tools/ci/rig-health.ts --rig bench-1 --shard 1/2 --doctor-output ci-out/doctor.json \
//     --doctor-exit 4 --out ci-out/health.json
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import { parseArgs } from 'node:util';
import { appendStepSummary, errorAnnotation, setStepOutputs } from '../../harness/ci/github-actions.js';
import { describeVerdict, formatRigHealth, rigHealthFromDoctor } from '../../harness/ci/rig-health.js';

const USAGE = 'usage: npx tsx tools/ci/rig-health.ts --rig <name> [--shard <i>/<n>] --doctor-output <file> --doctor-exit <code> --out <health.json>';

async function main(argv: string[]): Promise<number> {
  let o: { rig?: string; shard?: string; 'doctor-output'?: string; 'doctor-exit'?: string; out?: string };
  try {
    o = parseArgs({
      args: argv,
      options: { rig: { type: 'string' }, shard: { type: 'string' }, 'doctor-output': { type: 'string' }, 'doctor-exit': { type: 'string' }, out: { type: 'string' } },
    }).values;
  } catch (error) {
    console.error(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }
  const shard = /^(\d+)\/(\d+)$/.exec(o.shard ?? '1/1');
  const exitCode = Number.parseInt(o['doctor-exit'] ?? '', 10);
  if (!o.rig || !o['doctor-output'] || !o.out || !shard || Number.isNaN(exitCode)) {
    console.error(USAGE);
    return 2;
  }
  const output = await readFile(o['doctor-output'], 'utf8').catch(() => '');
  const health = rigHealthFromDoctor({ rig: o.rig, shard: Number(shard[1]), shardCount: Number(shard[2]) }, exitCode, output);
  await mkdir(path.dirname(o.out), { recursive: true });
  await writeFile(o.out, `${JSON.stringify(health, null, 2)}\n`);
  const text = formatRigHealth(health);
  console.log(text);
  await appendStepSummary(process.env.GITHUB_STEP_SUMMARY, text);
  if (!health.healthy) {
    const first = health.problems[0];
    console.log(errorAnnotation(`Rig ${health.rig} ${describeVerdict(health)}`, first ? `${first.check}: ${first.detail}${first.fix ? ` (fix: ${first.fix})` : ''}` : 'see the doctor step'));
  }
  await setStepOutputs(process.env.GITHUB_OUTPUT, { healthy: String(health.healthy), verdict: health.verdict });
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
