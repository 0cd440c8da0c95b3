// Images the firmware manifest lists are checked against it whenever they are loaded, so that
// a committed image changed after its build (by hand, by a bad merge, by a tool that rewrites
// line endings) is never flashed as the reference. The manifest is manifest.json beside the
// file (firmware-images/images/manifest.json, written by the image build).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ImageError, ImageHashError } from './errors.js';

/** One file of one image, as the manifest lists it. */
interface ManifestFile {
  path?: unknown;
  sha256?: unknown;
}

/** The manifest's shape; only what the check reads. */
interface Manifest {
  format?: unknown;
  images?: Array<{ files?: Record<string, ManifestFile> }>;
}

/** The manifest beside `file`, or undefined when there is none or it is not one of ours. */
async function manifestBeside(file: string): Promise<{ path: string; manifest: Manifest } | undefined> {
  const manifestPath = path.join(path.dirname(file), 'manifest.json');
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch {
    return undefined;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch (error) {
    throw new ImageError(file, 'manifest', `the manifest beside it, ${manifestPath}, is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
  // Another tool's manifest.json: not ours to judge.
  if (typeof manifest !== 'object' || manifest === null || manifest.format !== 1 || !Array.isArray(manifest.images)) return undefined;
  return { path: manifestPath, manifest };
}

/** Throws {@link ImageHashError} when the manifest beside `file` lists it with another SHA-256. */
export async function checkManifestHash(file: string, bytes: Uint8Array): Promise<void> {
  const found = await manifestBeside(file);
  if (!found) return;
  const name = path.basename(file);
  const listed = found.manifest.images!.flatMap((image) => Object.values(image?.files ?? {})).filter((f) => f?.path === name);
  if (listed.length === 0) return;
  const actual = createHash('sha256').update(bytes).digest('hex');
  for (const entry of listed) {
    if (typeof entry.sha256 !== 'string' || !/^[0-9a-f]{64}$/i.test(entry.sha256)) {
      throw new ImageError(file, 'manifest', `${found.path} lists it without a SHA-256`);
    }
    if (entry.sha256.toLowerCase() !== actual) throw new ImageHashError(file, found.path, entry.sha256.toLowerCase(), actual);
  }
}
