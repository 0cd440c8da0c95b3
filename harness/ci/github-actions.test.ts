import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendStepSummary, errorAnnotation, setStepOutputs } from './github-actions.js';

describe('talking to GitHub Actions', () => {
  it('appends outputs and summaries to the files Actions names, and skips them outside Actions', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-gha-'));
    try {
      const output = path.join(dir, 'output');
      await setStepOutputs(output, { matrix: '{"include":[]}', count: '0' });
      await setStepOutputs(output, { healthy: 'true' });
      expect(await readFile(output, 'utf8')).toBe('matrix={"include":[]}\ncount=0\nhealthy=true\n');
      const summary = path.join(dir, 'summary');
      await appendStepSummary(summary, '## a');
      await appendStepSummary(summary, 'b\n');
      expect(await readFile(summary, 'utf8')).toBe('## a\nb\n');
      await expect(setStepOutputs(undefined, { count: '1' })).resolves.toBeUndefined();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a multi-line output value, which would corrupt the outputs file', async () => {
    await expect(setStepOutputs(undefined, { matrix: '{\n}' })).rejects.toThrow('step output "matrix" has a line break');
  });

  it('escapes annotation text so that colons, commas and line breaks survive', () => {
    expect(errorAnnotation('Rig bench-1: unhealthy, infrastructure', '100% down\nfix: replug')).toBe('::error title=Rig bench-1%3A unhealthy%2C infrastructure::100%25 down%0Afix: replug');
  });
});
