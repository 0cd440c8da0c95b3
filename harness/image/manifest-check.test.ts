// Committed images are checked against the manifest beside them whenever they are loaded.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageError, ImageHashError } from './errors.js';
import { loadImageFile } from './image-file.js';

const FIRMWARE_IMAGES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../firmware-images/images');

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-manifest-'));
  await cp(FIRMWARE_IMAGES_DIR, dir, { recursive: true });
});
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

describe('image hashes from the manifest', () => {
  it('loads every committed file the manifest lists', async () => {
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { images: Array<{ role: string; files: Record<string, { path: string }> }> };
    for (const image of manifest.images) {
      for (const [format, file] of Object.entries(image.files)) {
        // The broken image's vector table is erased on purpose: its .bin has no derivable address.
        const options = format === 'bin' && image.role === 'broken' ? { address: 0x08000000 } : {};
        await expect(loadImageFile(path.join(dir, file.path), options)).resolves.toMatchObject({ source: path.join(dir, file.path) });
      }
    }
  });

  it('refuses a tampered committed image, naming the file, the expected and the actual hash', async () => {
    const file = path.join(dir, 'testapp-1.0.0.bin');
    const manifest = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { images: Array<{ files: Record<string, { path: string; sha256: string }> }> };
    const listed = manifest.images.flatMap((i) => Object.values(i.files)).find((f) => f.path === 'testapp-1.0.0.bin')!.sha256;
    const bytes = await readFile(file);
    bytes[0x500] = bytes[0x500]! ^ 0x01;
    await writeFile(file, bytes);
    const error = await loadImageFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageHashError);
    const hashError = error as ImageHashError;
    expect(hashError.expected).toBe(listed);
    expect(hashError.actual).toMatch(/^[0-9a-f]{64}$/);
    expect(hashError.actual).not.toBe(hashError.expected);
    expect(hashError.code).toBe('image-hash');
    expect(hashError.message).toBe(`${file}: SHA-256 ${hashError.actual} does not match ${listed}, listed for it in ${path.join(dir, 'manifest.json')}`);
  });

  it('names a manifest that is not JSON; ignores another tool\'s manifest and files it does not list', async () => {
    await writeFile(path.join(dir, 'manifest.json'), '{ "format": 1, ');
    const broken = await loadImageFile(path.join(dir, 'testapp-1.0.0.hex')).catch((e: unknown) => e);
    expect(broken).toBeInstanceOf(ImageError);
    expect((broken as ImageError).fault).toBe('manifest');
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ name: 'some other tool', files: ['testapp-1.0.0.hex'] }));
    await expect(loadImageFile(path.join(dir, 'testapp-1.0.0.hex'))).resolves.toMatchObject({ format: 'hex' });
    await cp(path.join(FIRMWARE_IMAGES_DIR, 'manifest.json'), path.join(dir, 'manifest.json'));
    await writeFile(path.join(dir, 'unlisted.hex'), await readFile(path.join(dir, 'testapp-1.0.0.hex')));
    await expect(loadImageFile(path.join(dir, 'unlisted.hex'))).resolves.toMatchObject({ format: 'hex' });
  });
});
