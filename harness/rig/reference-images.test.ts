import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FIRMWARE_IMAGES_DIR, loadReferenceImages } from './reference-images.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-reference-'));
  await cp(FIRMWARE_IMAGES_DIR, dir, { recursive: true });
});
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('the reference images', () => {
  it('load from the committed firmware, each checked against the manifest', async () => {
    const images = await loadReferenceImages(dir);
    expect(images.origin).toBe('firmware');
    expect(images.identity.b).toEqual({ name: 'dfu-hil-testapp', version: '1.1.0' });
  });

  it('fail when one was changed after the build, even in a way that still parses', async () => {
    // An extra line ending leaves valid Intel HEX with the same bytes, but it is not the file that was built.
    await writeFile(path.join(dir, 'testapp-1.1.0.hex'), `${await readFile(path.join(dir, 'testapp-1.1.0.hex'), 'utf8')}\n`);
    await expect(loadReferenceImages(dir)).rejects.toMatchObject({ code: 'image-hash', source: path.join(dir, 'testapp-1.1.0.hex') });
  });
});
