import { describe, expect, it } from 'vitest';
import { skipReason, summariseSkips, type SkippedTest } from './skip-summary.js';

describe('skipReason', () => {
  it('prefers the note given to skip(), then a "(skipped: …)" title, then the mode', () => {
    expect(skipReason('rig "bench-1" has no debug probe', ['recovery', 'by probe'], 'run')).toBe('rig "bench-1" has no debug probe');
    expect(skipReason(undefined, ['dfu-util interop (skipped: dfu-util is not installed (sudo apt-get install -y dfu-util))', 'lists'], 'skip'))
      .toBe('dfu-util is not installed (sudo apt-get install -y dfu-util)');
    expect(skipReason(undefined, ['x', 'a later item'], 'todo')).toBe('todo');
    expect(skipReason(undefined, ['x'], 'skip')).toBe('no reason given');
  });
});

describe('summariseSkips', () => {
  const skip = (project: string, file: string, reason: string): SkippedTest => ({ project, file, title: ['t'], reason });

  it('says nothing when nothing was skipped', () => {
    expect(summariseSkips([])).toEqual([]);
  });

  it('groups by reason, most first, with the project and file of each and a count per file', () => {
    const lines = summariseSkips([
      skip('unit', 'harness/a.test.ts', 'tshark is not installed'),
      skip('hil:bench-1', 'specs/recovery.spec.ts', 'rig "bench-1" has no debug probe'),
      skip('hil:bench-1', 'specs/recovery.spec.ts', 'rig "bench-1" has no debug probe'),
      skip('hil:bench-1', 'specs/gpio.spec.ts', 'rig "bench-1" has no debug probe'),
    ]);
    expect(lines).toEqual([
      'Skipped: 4 tests, by reason:',
      '  3 × rig "bench-1" has no debug probe',
      '      [hil:bench-1] specs/recovery.spec.ts (2)',
      '      [hil:bench-1] specs/gpio.spec.ts',
      '  1 × tshark is not installed',
      '      [unit] harness/a.test.ts',
    ]);
  });

  it('keeps a long list of files short', () => {
    const lines = summariseSkips(['a', 'b', 'c', 'd', 'e', 'f'].map((f) => skip('unit', `${f}.test.ts`, 'no board')), 4);
    expect(lines.at(-1)).toBe('      … and 2 more files');
    expect(lines).toHaveLength(7);
  });
});
