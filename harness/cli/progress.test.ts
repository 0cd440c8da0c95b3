import { describe, expect, it } from 'vitest';
import { FlashProgressBar, FlashProgressLines, flashProgressView } from './progress.js';

describe('flash progress', () => {
  it('writes a plain line per quarter of each phase when the output is not a terminal', () => {
    let text = '';
    const view = flashProgressView({ write: (t: string) => { text += t; } }, { json: false });
    expect(view).toBeInstanceOf(FlashProgressLines);
    for (let done = 0; done <= 4096; done += 512) view.update({ phase: 'download', bytesDone: done, bytesTotal: 4096 });
    view.update({ phase: 'verify', bytesDone: 4096, bytesTotal: 4096 });
    view.stop();
    expect(text.split('\n').filter(Boolean)).toEqual([
      'download   0% (0/4096 bytes)',
      'download  25% (1024/4096 bytes)',
      'download  50% (2048/4096 bytes)',
      'download  75% (3072/4096 bytes)',
      'download 100% (4096/4096 bytes)',
      'verify   100% (4096/4096 bytes)',
    ]);
  });

  it('draws a bar on a terminal and nothing at all with --json', () => {
    let text = '';
    const out = { write: (t: string) => { text += t; return true; }, isTTY: true, on: () => out, removeListener: () => out };
    expect(flashProgressView(out, { json: false })).toBeInstanceOf(FlashProgressBar);
    const silent = flashProgressView(out, { json: true });
    silent.update({ phase: 'erase', bytesDone: 1, bytesTotal: 2 });
    silent.stop();
    expect(text).toBe('');
  });
});
