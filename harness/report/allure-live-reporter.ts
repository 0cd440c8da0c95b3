// allure-vitest's reporter, writing each test's result as the test ends instead of at the end of
// the run (allure-vitest 3.12 writes them all in onTestRunEnd, so a killed run left nothing).
//
// - When a test starts, a stand-in result ("broken: the run stopped while this test was
//   running") is written; its real result replaces it when it ends. A run killed midway keeps
//   the results of every test that ended, and shows the test it was in.
// - Each run has its own results folder (run-folder.ts); until the run ends, an Allure global
//   error says it has not finished.
// - Each result carries its rig and transport as parameters and labels (test-identity.ts).
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LifecycleListener } from 'allure-js-commons/sdk/reporter';
import { Stage, Status, type TestResult } from 'allure-js-commons';
import AllureVitestReporter, { type AllureVitestReporterConfig } from 'allure-vitest/reporter';
import type { RunnerTask } from 'vitest';
import type { TestCase, TestModule, TestRunEndReason, Vitest } from 'vitest/node';
import { findRigsFile, loadRigs } from '../rig/config/load-rigs.js';
import { endRun, startRun, type RunFolders, type RunRecord } from './run-folder.js';
import { applyIdentity, identityOf, type TestIdentity } from './test-identity.js';

/** Options in vitest.config.ts. */
export interface LiveAllureReporterOptions extends Omit<AllureVitestReporterConfig, 'resultsDir' | 'listeners'> {
  /** The current run's results (default `allure-results`). */
  resultsDir?: string;
  /** Earlier runs (default `allure-runs`). */
  archiveDir?: string;
  /** Earlier runs kept (default 10). */
  keepRuns?: number;
}

const STAND_IN_MESSAGE = 'The run stopped while this test was running (killed, timed out or out of memory): it has no result.';
const INTERRUPTED_MESSAGE = 'The run was interrupted (Ctrl-C, --bail or a cancelled run) before this test ended: it has no result.';

type Writing = { task: RunnerTask; standIn: boolean };

/** The RunnerTask behind a reported test case (allure-vitest works on tasks). */
function taskOf(testCase: TestCase): RunnerTask {
  return (testCase as unknown as { task: RunnerTask }).task;
}

export default class LiveAllureReporter extends AllureVitestReporter {
  private readonly folders: RunFolders;
  private vitest: Vitest | undefined;
  private run: RunRecord | undefined;
  private writing: Writing | undefined;
  private standInMode = false;
  private lastWrittenUuid: string | undefined;
  private readonly finished = new Set<string>();
  private readonly standIns = new Map<string, string>();
  private readonly identities = new Map<string, TestIdentity | undefined>();

  constructor(options: LiveAllureReporterOptions = {}) {
    const { archiveDir = 'allure-runs', keepRuns, resultsDir = 'allure-results', ...config } = options;
    // The listener is built before `this` exists; it reaches the reporter through this box.
    const box: { reporter?: LiveAllureReporter } = {};
    const listener: LifecycleListener = {
      beforeTestResultStop: (result) => box.reporter?.decorate(result),
      afterTestResultWrite: (result) => { if (box.reporter) box.reporter.lastWrittenUuid = result.uuid; },
    };
    super({
      ...config,
      resultsDir,
      listeners: [listener],
      environmentInfo: {
        node: process.version,
        platform: `${process.platform}-${process.arch}`,
        rig: process.env.RIG ?? '(every simulated rig)',
        ci: process.env.CI ?? 'false',
      },
    });
    box.reporter = this;
    this.folders = { results: resultsDir, archive: archiveDir, ...(keepRuns !== undefined ? { keep: keepRuns } : {}) };
  }

  override onInit(vitest: Vitest): void {
    this.vitest = vitest;
    // Before allure-vitest writes its first files into the folder.
    this.run = startRun(this.folders, ['vitest', ...process.argv.slice(2)].join(' '));
    super.onInit(vitest);
  }

  async onTestRunStart(): Promise<void> {
    // Watch mode: every rerun is a run of its own.
    if (this.run && this.run.state !== 'running') this.run = startRun(this.folders, this.run.command);
    await this.resolveIdentities();
  }

  onTestCaseReady(testCase: TestCase): void {
    if (testCase.options.mode !== 'run') return;
    this.standInMode = true;
    try {
      this.handleTask(taskOf(testCase));
    } finally {
      this.standInMode = false;
    }
  }

  onTestCaseResult(testCase: TestCase): void {
    this.handleTask(taskOf(testCase));
  }

  override handleTask(task: RunnerTask): void {
    if (task.type !== 'test') {
      super.handleTask(task);
      return;
    }
    if (this.finished.has(task.id)) return;
    const standIn = this.standInMode;
    // A test the run never finished keeps its stand-in rather than a result with no status.
    const state = task.result?.state;
    if (!standIn && this.standIns.has(task.id) && state !== 'pass' && state !== 'fail' && state !== 'skip') return;
    this.writing = { task, standIn };
    this.lastWrittenUuid = undefined;
    try {
      super.handleTask(task);
    } finally {
      this.writing = undefined;
    }
    const written = this.lastWrittenUuid;
    if (standIn) {
      if (written) this.standIns.set(task.id, written);
      return;
    }
    this.finished.add(task.id);
    const standInUuid = this.standIns.get(task.id);
    if (standInUuid && written) {
      rmSync(path.join(this.folders.results, `${standInUuid}-result.json`), { force: true });
      this.standIns.delete(task.id);
    }
  }

  override onTestRunEnd(modules: ReadonlyArray<TestModule>, _errors?: unknown, reason?: TestRunEndReason): void {
    super.onTestRunEnd(modules);
    if (reason === 'interrupted') {
      // The tests still standing in were cut short by the interruption, not by a dying process.
      for (const uuid of this.standIns.values()) {
        const file = path.join(this.folders.results, `${uuid}-result.json`);
        const result = JSON.parse(readFileSync(file, 'utf8')) as TestResult;
        writeFileSync(file, JSON.stringify({ ...result, statusDetails: { message: INTERRUPTED_MESSAGE } }));
      }
    }
    if (this.run) this.run = endRun(this.folders, this.run, reason ?? 'passed');
  }

  /** Rig and transport of the test being written; a stand-in's status until the test ends. */
  private decorate(result: TestResult): void {
    const writing = this.writing;
    if (!writing) return;
    const identity = this.identities.get(writing.task.file.projectName ?? '');
    if (identity) applyIdentity(result, identity);
    if (writing.standIn) {
      result.status = Status.BROKEN;
      result.stage = Stage.RUNNING;
      result.statusDetails = { message: STAND_IN_MESSAGE };
    }
  }

  private async resolveIdentities(): Promise<void> {
    if (!this.vitest) return;
    let kinds = new Map<string, string>();
    try {
      const rigs = await loadRigs(findRigsFile(this.vitest.config.root, process.env));
      kinds = new Map([...rigs.rigs].map(([name, rig]) => [name, rig.kind]));
    } catch {
      // A broken rigs.yaml fails the specs with its own message; here the transport reads "unknown".
    }
    for (const project of this.vitest.projects) {
      this.identities.set(project.name, identityOf(project.config.env ?? {}, (rig) => kinds.get(rig)));
    }
  }
}
