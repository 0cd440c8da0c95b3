// The committed firmware images: their manifest, their contents read back with the harness's own
// image library, and (with the toolchain installed) a from-scratch rebuild that must reproduce
// them byte for byte.
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DFUSE_DEVICE, imageDigest, imageToBin, imageVectorProblem, readDfu, readHex, readImageVersionBlock,
} from '../harness/image/index.js';
import { IMAGE_ROLES, MUTANTS, packageImages, type ImageRole, type Manifest } from './tools/package-images.js';

const here = dirname(fileURLToPath(import.meta.url));
const imagesDir = join(here, 'images');
const manifest = JSON.parse(await readFile(join(imagesDir, 'manifest.json'), 'utf8')) as Manifest;
const read = async (file: string): Promise<Uint8Array> => new Uint8Array(await readFile(join(imagesDir, file)));
const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

const gcc = await execa('arm-none-eabi-gcc', ['--version'], { reject: false }).catch(() => undefined);
const hasToolchain = gcc !== undefined && gcc.exitCode === 0;
const localToolchain = hasToolchain ? String(gcc.stdout).split('\n')[0]!.trim() : undefined;

describe('firmware-images manifest', () => {
  it('lists one image per role: A, B, broken, cm4', () => {
    expect(manifest.format).toBe(1);
    expect(manifest.images.map((i) => i.role)).toEqual([...IMAGE_ROLES]);
  });

  it.each(manifest.images.map((i) => [i.id, i] as const))('%s: sizes and sha256 match the committed files', async (_id, image) => {
    for (const file of Object.values(image.files)) {
      const bytes = await read(file.path);
      expect({ path: file.path, size: bytes.length, sha256: sha256(bytes) }).toEqual(file);
    }
    expect(image.size).toBe(image.files.bin.size);
    expect(image.sha256).toBe(image.files.bin.sha256);
  });

  it('lists the five mutants, each the application with a version of its own and the entry that shows its bug', () => {
    const a = manifest.images.find((i) => i.role === 'A')!;
    expect((manifest.mutants ?? []).map((m) => m.mutant.name)).toEqual(Object.keys(MUTANTS));
    for (const m of manifest.mutants ?? []) {
      expect(m).toMatchObject({ role: 'mutant', name: a.name, core: 7, loadAddress: '0x08000000', validCode: true, mutant: MUTANTS[m.mutant.name] });
      expect(m.version).not.toBe(a.version);
    }
    expect(new Set((manifest.mutants ?? []).map((m) => m.sha256)).size).toBe(5);
  });

  it.each((manifest.mutants ?? []).map((m) => [m.id, m] as const))('%s: sizes and sha256 match the committed files', async (_id, image) => {
    for (const file of Object.values(image.files)) {
      const bytes = await read(file.path);
      expect({ path: file.path, size: bytes.length, sha256: sha256(bytes) }).toEqual(file);
    }
  });

  it('lists the example of a team\'s own application: a CM7 image in bank 1 that is not the test application', async () => {
    const a = manifest.images.find((i) => i.role === 'A')!;
    expect((manifest.examples ?? []).map((e) => `${e.id} ${e.version}`)).toEqual(['example-app-2.0.0 2.0.0', 'example-app-2.1.0 2.1.0']);
    for (const e of manifest.examples ?? []) {
      expect(e).toMatchObject({ role: 'example', name: 'example-app', core: 7, loadAddress: '0x08000000', validCode: true });
      expect(e.name).not.toBe(a.name);
      for (const file of Object.values(e.files)) {
        const bytes = await read(file.path);
        expect({ path: file.path, size: bytes.length, sha256: sha256(bytes) }).toEqual(file);
      }
      const bin = await read(e.files.bin.path);
      expect(readImageVersionBlock(bin, e.files.bin.path)).toEqual({ core: 7, name: e.name, version: e.version });
      expect(imageVectorProblem(bin, 0x08000000)).toBeUndefined();
    }
  });

  it('versions A and B share the application name and differ in version', () => {
    const byRole = Object.fromEntries(manifest.images.map((i) => [i.role, i]));
    expect(byRole.A!.name).toBe('dfu-hil-testapp');
    expect(byRole.B!.name).toBe(byRole.A!.name);
    expect(byRole.B!.version).not.toBe(byRole.A!.version);
  });
});

describe.each(manifest.images.map((i) => [i.id, i] as const))('firmware image %s', (_id, image) => {
  const address = Number.parseInt(image.loadAddress, 16);

  it('version block decodes to the manifest identity and names its core', async () => {
    const bin = await read(image.files.bin.path);
    expect(readImageVersionBlock(bin, image.files.bin.path)).toEqual({ core: image.core, name: image.name, version: image.version });
    expect(image.core).toBe(image.role === 'cm4' ? 4 : 7);
    expect(address).toBe(image.role === 'cm4' ? 0x08100000 : 0x08000000);
  });

  it(image.role === 'broken' ? 'vector table is NOT valid code' : 'vector table is valid code', async () => {
    const bin = await read(image.files.bin.path);
    const problem = imageVectorProblem(bin, address);
    if (image.role === 'broken') {
      expect(problem).toBeDefined();
      expect(image.validCode).toBe(false);
      expect(image.vectorProblem).toBe(problem);
    } else {
      expect(problem).toBeUndefined();
      expect(image.validCode).toBe(true);
    }
  });

  it('.hex and .dfu hold exactly the .bin bytes at the load address', async () => {
    const bin = await read(image.files.bin.path);
    const hex = readHex(await read(image.files.hex.path), image.files.hex.path);
    const dfu = readDfu(await read(image.files.dfu.path), image.files.dfu.path);
    for (const parsed of [hex, dfu]) {
      expect(parsed.segments).toHaveLength(1);
      expect(parsed.segments[0]!.address).toBe(address);
      expect(Buffer.from(imageToBin(parsed)).equals(Buffer.from(bin))).toBe(true);
      expect(imageDigest(parsed).sha256).toBe(image.sha256);
    }
    expect(dfu.targets?.map((t) => t.alternateSetting)).toEqual([0]);
    expect(dfu.device).toEqual(DEFAULT_DFUSE_DEVICE);
  });
});

describe('firmware-images rebuild', () => {
  it.skipIf(!hasToolchain)(`a clean build from copied sources reproduces every committed file${!hasToolchain ? ' (skipped: arm-none-eabi-gcc not installed; .ci/run installs it)' : ''}`, async (ctx) => {
    const built = new Set(manifest.images.map((i) => i.toolchain));
    ctx.skip(!built.has(localToolchain!), `the images were built with ${[...built].join(', ')}; this machine has ${localToolchain}, whose code may differ`);
    const work = await mkdtemp(join(tmpdir(), 'dfu-hil-firmware-'));
    try {
      await cp(join(here, 'Makefile'), join(work, 'Makefile'));
      await cp(join(here, 'src'), join(work, 'src'), { recursive: true });
      await execa('make', ['-C', work, '--no-print-directory', 'all']);
      const ids = Object.fromEntries(manifest.images.map((i) => [i.role, i.id])) as Record<ImageRole, string>;
      const mutants = Object.fromEntries((manifest.mutants ?? []).map((m) => [m.mutant.name, m.id]));
      const examples = (manifest.examples ?? []).map((e) => e.id);
      const rebuilt = await packageImages(join(work, 'build'), join(work, 'images'), ids, { toolchain: localToolchain!, mutants, examples });
      expect(rebuilt).toEqual(manifest);
      for (const image of [...manifest.images, ...(manifest.mutants ?? []), ...(manifest.examples ?? [])]) {
        for (const file of Object.values(image.files)) {
          const fresh = new Uint8Array(await readFile(join(work, 'images', file.path)));
          expect(Buffer.from(fresh).equals(Buffer.from(await read(file.path))), `${file.path} differs after a rebuild`).toBe(true);
        }
      }
      expect(await readFile(join(work, 'images', 'manifest.json'), 'utf8')).toBe(await readFile(join(imagesDir, 'manifest.json'), 'utf8'));
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }, 120_000);
});
