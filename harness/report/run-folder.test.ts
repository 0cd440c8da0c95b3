import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { archivePreviousRun, endRun, RUN_FILE, runIdAt, startRun, unfinishedFile, type RunFolders } from './run-folder.js';

let dir = '';
let folders: RunFolders;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'dfu-hil-runs-'));
  folders = { results: path.join(dir, 'allure-results'), archive: path.join(dir, 'allure-runs'), keep: 2 };
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('run folders', () => {
  it('starts a run with its record and an "unfinished" error that only a clean end removes', () => {
    const run = startRun(folders, 'vitest run', new Date('2025-03-04T05:06:07.089Z'));
    expect(run.id).toBe('2025-03-04T05-06-07-089Z');
    expect(JSON.parse(readFileSync(path.join(folders.results, RUN_FILE), 'utf8'))).toMatchObject({ id: run.id, state: 'running', command: 'vitest run' });
    expect(readdirSync(folders.results).sort()).toEqual(['dfu-hil-run-2025-03-04T05-06-07-089Z-globals.json', RUN_FILE]);
    endRun(folders, run, 'failed');
    expect(readdirSync(folders.results)).toEqual([RUN_FILE]);
    expect(JSON.parse(readFileSync(path.join(folders.results, RUN_FILE), 'utf8')).state).toBe('failed');
  });

  it('says an interrupted run was interrupted', () => {
    const run = startRun(folders, 'vitest run');
    endRun(folders, run, 'interrupted');
    const globals = JSON.parse(readFileSync(path.join(folders.results, unfinishedFile(run.id)), 'utf8')) as { errors: { message: string }[] };
    expect(globals.errors[0]!.message).toContain('was interrupted');
  });

  it('moves earlier runs aside by id, keeps the newest, and names results from before run files by their time', () => {
    mkdirSync(folders.results);
    writeFileSync(path.join(folders.results, 'old-result.json'), '{}');
    utimesSync(folders.results, new Date('2024-01-01T00:00:00Z'), new Date('2024-01-01T00:00:00Z'));
    expect(archivePreviousRun(folders)).toBe(path.join(folders.archive, runIdAt(new Date('2024-01-01T00:00:00Z'))));
    for (const t of ['2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z']) {
      const run = startRun(folders, 'vitest run', new Date(t));
      endRun(folders, run, 'passed');
    }
    startRun(folders, 'vitest run specs/leave.spec.ts', new Date('2025-01-03T00:00:00Z'));
    expect(readdirSync(folders.archive).sort()).toEqual(['2025-01-01T00-00-00-000Z', '2025-01-02T00-00-00-000Z']);
    expect(archivePreviousRun({ ...folders, results: path.join(dir, 'none') })).toBeUndefined();
  });
});
