// One folder of Allure results per vitest run. `allure-results/` always holds the current (or
// last) run: what `npm run report`, CI artifacts and the nightly summary read. When a run
// starts, the results already there are moved to `allure-runs/<run id>/`, so a single-spec run
// never wipes the full run before it; the newest runs are kept there.
//
// A run also says whether it ended: `dfu-hil-run.json` records its state, and until the run
// ends an Allure global error (a `*-globals.json` file) says it has not finished. A run that is
// killed (CI timeout, out of memory, SIGKILL) keeps that error, and the report shows it.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The file that names a run and says how far it got. */
export const RUN_FILE = 'dfu-hil-run.json';
/** The global error present while the run has not ended (a name of its own, so merged runs keep theirs). */
export function unfinishedFile(runId: string): string {
  return `dfu-hil-run-${runId}-globals.json`;
}

/** What `dfu-hil-run.json` holds. */
export interface RunRecord {
  id: string;
  startedAt: string;
  /** The command line, as typed. */
  command: string;
  state: 'running' | 'passed' | 'failed' | 'interrupted';
  endedAt?: string;
}

/** Where runs go. */
export interface RunFolders {
  /** The current run's results: `allure-results`. */
  results: string;
  /** Earlier runs, one folder each: `allure-runs`. */
  archive: string;
  /** How many earlier runs to keep (default 10). */
  keep?: number;
}

/** A run id that sorts by time and reads as one: `2025-01-31T14-05-09-123Z`. */
export function runIdAt(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

function readRun(dir: string): RunRecord | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, RUN_FILE), 'utf8')) as RunRecord;
  } catch {
    return undefined;
  }
}

/** Moves the previous run's results (if any) into the archive and keeps the newest `keep` runs there. */
export function archivePreviousRun(folders: RunFolders): string | undefined {
  const { results, archive, keep = 10 } = folders;
  if (!existsSync(results) || readdirSync(results).length === 0) return undefined;
  // Results from before run folders existed have no run file: their time names them.
  const id = readRun(results)?.id ?? runIdAt(statSync(results).mtime);
  mkdirSync(archive, { recursive: true });
  let target = path.join(archive, id);
  for (let n = 2; existsSync(target); n++) target = path.join(archive, `${id}-${n}`);
  renameSync(results, target);
  const runs = readdirSync(archive).filter((name) => statSync(path.join(archive, name)).isDirectory()).sort();
  for (const old of runs.slice(0, Math.max(0, runs.length - keep))) rmSync(path.join(archive, old), { recursive: true, force: true });
  return target;
}

function unfinishedError(record: RunRecord): object {
  return {
    attachments: [],
    errors: [{
      message: `Run ${record.id} did not finish: vitest stopped before the end of the run (killed, timed out or out of memory). `
        + 'The tests that ended have their results; a test marked "broken" with "the run stopped while this test was running" was running then.',
      trace: `command: ${record.command}\nstarted: ${record.startedAt}`,
      timestamp: Date.parse(record.startedAt),
    }],
  };
}

/** Starts a run in a fresh results folder: the run file, and the error that stays if the run never ends. */
export function startRun(folders: RunFolders, command: string, now: Date = new Date()): RunRecord {
  archivePreviousRun(folders);
  mkdirSync(folders.results, { recursive: true });
  const record: RunRecord = { id: runIdAt(now), startedAt: now.toISOString(), command, state: 'running' };
  writeFileSync(path.join(folders.results, RUN_FILE), `${JSON.stringify(record, null, 2)}\n`);
  writeFileSync(path.join(folders.results, unfinishedFile(record.id)), JSON.stringify(unfinishedError(record)));
  return record;
}

/** Records how the run ended; an interrupted run keeps an error that says so. */
export function endRun(folders: RunFolders, record: RunRecord, state: RunRecord['state'], now: Date = new Date()): RunRecord {
  const ended: RunRecord = { ...record, state, endedAt: now.toISOString() };
  writeFileSync(path.join(folders.results, RUN_FILE), `${JSON.stringify(ended, null, 2)}\n`);
  const marker = path.join(folders.results, unfinishedFile(record.id));
  if (state === 'interrupted') {
    writeFileSync(marker, JSON.stringify({
      attachments: [],
      errors: [{ message: `Run ${record.id} was interrupted (Ctrl-C or a cancelled run): tests that had not ended have no result.`, timestamp: now.getTime() }],
    }));
  } else {
    rmSync(marker, { force: true });
  }
  return ended;
}
