import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildTestAppImage } from '../image/synthetic-app.js';
import { isElf, readElf } from '../image/elf.js';
import { loadImageFile } from '../image/image-file.js';
import { announcedIdentity } from '../image/version-block.js';
import { ImageError } from '../image/errors.js';
import type { FirmwareImage } from '../image/firmware-image.js';
import { DfuHilError } from '../errors.js';
import type { EntryMethod } from './config/schema.js';
import type { RigConfig } from './config/load-rigs.js';

/** The firmware manifest does not list what the harness needs. */
export class ManifestError extends DfuHilError {
  constructor(file: string, problem: string) {
    super('firmware-manifest', `${file}: ${problem}`, { hint: 'Rebuild the images with `make -C firmware-images images`.' });
  }
}

/** The images every rig needs: two application versions, a broken one, and the CM4 image for bank 2. */
export interface ReferenceImages {
  /** Version A: the application every test starts from. */
  appA: FirmwareImage;
  /** Version B: flashed to prove a flash took effect. */
  appB: FirmwareImage;
  /** An image with an invalid vector table: must not boot. */
  broken: FirmwareImage;
  /** The Cortex-M4 image in bank 2 that keeps the second core quiet. */
  cm4: FirmwareImage;
  /** Name and version the console announces for A and B. */
  identity: { a: { name: string; version: string }; b: { name: string; version: string } };
  /** 'firmware' when read from firmware-images/images, 'synthetic' when built in memory. */
  origin: 'firmware' | 'synthetic';
}

/** One image in firmware-images/images/manifest.json. */
interface ManifestEntry {
  role: string;
  name: string;
  version: string;
  files: Record<'bin' | 'hex' | 'dfu', { path: string }>;
}

/** The repository root (two levels above harness/rig). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where the committed firmware images and their manifest live. */
export const FIRMWARE_IMAGES_DIR = join(REPO_ROOT, 'firmware-images', 'images');

/** Synthetic images with valid vector tables and version blocks, for when no firmware is built. */
export function syntheticReferenceImages(): ReferenceImages {
  const a = { name: 'dfu-hil-testapp', version: '1.0.0' };
  const b = { name: 'dfu-hil-testapp', version: '1.1.0' };
  return {
    appA: buildTestAppImage({ ...a }),
    appB: buildTestAppImage({ ...b }),
    broken: buildTestAppImage({ name: 'dfu-hil-broken', version: '0.0.1', valid: false }),
    cm4: buildTestAppImage({ name: 'dfu-hil-cm4', version: '1.0.0', loadAddress: 0x08100000, core: 4 }),
    identity: { a, b },
    origin: 'synthetic',
  };
}

/**
 * The reference images: the built firmware when firmware-images/images/manifest.json lists
 * it, synthetic images otherwise. The simulated board runs either, since it reads what an
 * image is from the image's own version block.
 */
export async function loadReferenceImages(dir = FIRMWARE_IMAGES_DIR): Promise<ReferenceImages> {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return syntheticReferenceImages();
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { images: ManifestEntry[] };
  const pick = (role: string): ManifestEntry => {
    const entry = manifest.images.find((e) => e.role === role);
    if (!entry) throw new ManifestError(manifestPath, `no image with role "${role}"`);
    return entry;
  };
  // The .hex carries its load address, so nothing about placement is assumed here.
  const load = (entry: ManifestEntry): Promise<FirmwareImage> => loadImageFile(join(dir, entry.files.hex.path));
  const [appA, appB, broken, cm4] = await Promise.all(['A', 'B', 'broken', 'cm4'].map((role) => load(pick(role))));
  const id = (e: ManifestEntry): { name: string; version: string } => ({ name: e.name, version: e.version });
  return { appA: appA!, appB: appB!, broken: broken!, cm4: cm4!, identity: { a: id(pick('A')), b: id(pick('B')) }, origin: 'firmware' };
}

/** An application built with one deliberate bootloader-entry bug (firmware-images, "Mutants"). */
export interface MutantImage {
  /** The Makefile's name of the bug. */
  name: string;
  bug: string;
  /** The console entry that runs the broken code. */
  entry: EntryMethod;
  image: FirmwareImage;
  identity: { name: string; version: string };
}

/** The mutants the firmware manifest lists (none when the images are not built). */
export async function loadMutantImages(dir = FIRMWARE_IMAGES_DIR): Promise<MutantImage[]> {
  const manifestPath = join(dir, 'manifest.json');
  if (!existsSync(manifestPath)) return [];
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as {
    mutants?: Array<ManifestEntry & { mutant: { name: string; bug: string; entry: EntryMethod } }>;
  };
  return Promise.all((manifest.mutants ?? []).map(async (m) => ({
    name: m.mutant.name, bug: m.mutant.bug, entry: m.mutant.entry,
    image: await loadImageFile(join(dir, m.files.hex.path)),
    identity: { name: m.name, version: m.version },
  })));
}

/**
 * The images a rig restores between tests: the committed ones, with the rig's own reference image
 * (rigs.yaml `firmware.reference`: an .elf, .hex, .dfu or .bin of the team's application) in place
 * of application A when it names one. Its identity is its version block's, if it carries one.
 */
export async function referenceImagesFor(config: RigConfig, base?: ReferenceImages): Promise<ReferenceImages> {
  const images = base ?? await loadReferenceImages();
  const firmware = config.firmware;
  if (!firmware) return images;
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(firmware.reference));
  } catch (cause) {
    throw new ImageError(firmware.reference, 'unreadable', `rig ${config.name}'s reference image cannot be read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`);
  }
  const image = isElf(bytes)
    ? readElf(bytes, firmware.reference)
    : await loadImageFile(firmware.reference, firmware.address === undefined ? {} : { address: firmware.address });
  const first = [...image.segments].sort((a, b) => a.address - b.address)[0]!;
  return { ...images, appA: image, identity: { ...images.identity, a: announcedIdentity(first.data) } };
}
