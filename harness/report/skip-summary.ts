// A short list of the skipped tests and why, printed after vitest's own summary (its default
// output counts skipped tests but does not say why they were skipped).
import path from 'node:path';
import type { TestCase, TestModule, Vitest } from 'vitest/node';
import type { Reporter } from 'vitest/reporters';

/** One skipped test. */
export interface SkippedTest {
  project: string;
  /** The spec or test file, relative to the root. */
  file: string;
  /** Suite names, then the test's. */
  title: readonly string[];
  reason: string;
}

const TITLE_REASON = /\(skipped: (.*)\)\s*$/;

/**
 * Why a test was skipped: the note given to `skip(note)`, else a "(skipped: reason)" its title or
 * a suite's title carries (the `skipIf` convention here), else what its mode says.
 */
export function skipReason(note: string | undefined, title: readonly string[], mode: string): string {
  if (note) return note;
  for (const part of [...title].reverse()) {
    const match = TITLE_REASON.exec(part);
    if (match?.[1]) return match[1];
  }
  return mode === 'todo' ? 'todo' : 'no reason given';
}

/** The summary's lines: one group per reason, most tests first; each with its project and files. */
export function summariseSkips(skipped: readonly SkippedTest[], maxFiles = 4): string[] {
  if (skipped.length === 0) return [];
  const byReason = new Map<string, SkippedTest[]>();
  for (const s of skipped) byReason.set(s.reason, [...byReason.get(s.reason) ?? [], s]);
  const lines = [`Skipped: ${skipped.length} test${skipped.length === 1 ? '' : 's'}, by reason:`];
  for (const [reason, tests] of [...byReason].sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))) {
    lines.push(`  ${tests.length} × ${reason}`);
    const where = new Map<string, number>();
    for (const t of tests) {
      const key = `${t.project ? `[${t.project}] ` : ''}${t.file}`;
      where.set(key, (where.get(key) ?? 0) + 1);
    }
    const entries = [...where];
    for (const [file, count] of entries.slice(0, maxFiles)) lines.push(`      ${file}${count > 1 ? ` (${count})` : ''}`);
    if (entries.length > maxFiles) lines.push(`      … and ${entries.length - maxFiles} more files`);
  }
  return lines;
}

function titleOf(test: TestCase): string[] {
  const names: string[] = [test.name];
  for (let parent = test.parent; parent.type === 'suite'; parent = parent.parent) names.unshift(parent.name);
  return names;
}

/** Prints {@link summariseSkips} at the end of every run. */
export default class SkipSummaryReporter implements Reporter {
  private vitest: Vitest | undefined;

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const vitest = this.vitest;
    if (!vitest) return;
    const filter = vitest.config.testNamePattern;
    const skipped: SkippedTest[] = [];
    let filteredOut = 0;
    for (const module of modules) {
      for (const test of module.children.allTests('skipped')) {
        const title = titleOf(test);
        // Tests left out by -t are not skipped for a reason of their own.
        if (filter && !filter.test(title.join(' '))) {
          filteredOut++;
          continue;
        }
        const result = test.result();
        skipped.push({
          project: test.project.name,
          file: path.relative(vitest.config.root, module.moduleId),
          title,
          reason: skipReason(result.state === 'skipped' ? result.note : undefined, title, test.options.mode),
        });
      }
    }
    const lines = summariseSkips(skipped);
    if (filteredOut > 0) lines.push(`(${filteredOut} more left out by the test name filter)`);
    if (lines.length > 0) vitest.logger.log(`\n${lines.join('\n')}\n`);
  }
}
