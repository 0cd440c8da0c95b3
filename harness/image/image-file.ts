import { readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { hex32 } from '../errors.js';
import { loadBin } from './bin.js';
import { deriveBinPlacement } from './bin-placement.js';
import { DFU_SUFFIX_SIZE, hasDfusePrefix, hasDfuSuffix, readDfu, readDfuSuffix, writeDfu, type WriteDfuOptions } from './dfuse-file.js';
import { ImageError } from './errors.js';
import { createFirmwareImage, imageToBin, type BinPlacement, type FirmwareImage } from './firmware-image.js';
import { readHex, writeHex, type WriteHexOptions } from './intel-hex.js';
import { checkManifestHash } from './manifest-check.js';

/** A file format this module reads. */
export type ImageFileFormat = 'bin' | 'hex' | 'dfu';

const EXTENSIONS: Readonly<Record<string, ImageFileFormat>> = {
  '.bin': 'bin',
  '.dfu': 'dfu',
  '.hex': 'hex',
  '.ihex': 'hex',
  '.ihx': 'hex',
};

/**
 * Picks the format: content first where it is unambiguous (a "DfuSe" prefix makes a .dfu
 * whatever the name, so a renamed container is never flashed raw; no Cortex-M image starts with
 * it, as 0x53756644 is no stack address), then the extension, then a leading ':' for Intel HEX.
 */
export function detectImageFormat(bytes: Uint8Array, path: string): ImageFileFormat | undefined {
  if (hasDfusePrefix(bytes)) return 'dfu';
  const byName = EXTENSIONS[extname(path).toLowerCase()];
  if (byName) return byName;
  const firstText = Buffer.from(bytes.subarray(0, 64)).toString('latin1').trimStart();
  if (/^:[0-9A-Fa-f]{10}/.test(firstText)) return 'hex';
  return undefined;
}

/** Options of {@link loadImageFile}. */
export interface LoadImageOptions {
  /**
   * Load address of a .bin; refused for .hex/.dfu, which carry their own. Without it a .bin is
   * placed only where its vector table leaves no doubt (bin-placement.ts; the image's
   * `placement` says how), and refused otherwise.
   */
  address?: number;
}

/** Parses image bytes already in memory, as {@link loadImageFile} would. */
export function parseImage(bytes: Uint8Array, path: string, options: LoadImageOptions = {}): FirmwareImage {
  const format = detectImageFormat(bytes, path);
  if (format === undefined) {
    throw new ImageError(path, 'unknown-format', `cannot tell the format from the name "${extname(path) || '(no extension)'}" or the contents`);
  }
  if (format !== 'bin' && options.address !== undefined) {
    throw new ImageError(path, 'invalid-argument', `a load address (${hex32(options.address)}) was given, but a .${format} file carries its own addresses`, {
      hint: 'Drop the address, or convert the file to .bin if you mean to place it elsewhere.',
    });
  }
  switch (format) {
    case 'dfu': return readDfu(bytes, path);
    case 'hex': return readHex(bytes, path);
    case 'bin': return loadBinMaybeSuffixed(bytes, options.address, path);
  }
}

/** The given address, or the one the image's vector table leaves; an ImageError when there is none. */
function placeBin(payload: Uint8Array, address: number | undefined, path: string): { address: number; placement?: BinPlacement } {
  if (address !== undefined) return { address };
  if (payload.length === 0) throw new ImageError(path, 'empty', 'the file is empty');
  const derived = deriveBinPlacement(payload);
  if ('problem' in derived) {
    throw new ImageError(path, 'no-address', `a .bin carries no load address, and none can be derived without doubt: ${derived.problem}`);
  }
  return { address: derived.address, placement: derived };
}

/**
 * A .bin that ends in a DFU suffix (a plain DFU file, as `dfu-suffix -a` makes) is loaded
 * without it, as dfu-util does, keeping the suffix's device identity; a suffix whose CRC does
 * not match is an error rather than 16 stray bytes flashed after the firmware.
 */
function loadBinMaybeSuffixed(bytes: Uint8Array, given: number | undefined, path: string): FirmwareImage {
  const suffixed = hasDfuSuffix(bytes);
  const suffix = suffixed ? readDfuSuffix(bytes, path) : undefined;
  const body = suffixed ? bytes.subarray(0, bytes.length - DFU_SUFFIX_SIZE) : bytes;
  const { address, placement } = placeBin(body, given, path);
  const payload = loadBin(body, address, path);
  if (!suffix && !placement) return payload;
  return createFirmwareImage({
    source: path,
    format: 'bin',
    segments: payload.segments,
    ...(suffix ? { device: { vendorId: suffix.vendorId, productId: suffix.productId, bcdDevice: suffix.bcdDevice } } : {}),
    ...(placement ? { placement } : {}),
  });
}

/**
 * Reads a .bin/.hex/.dfu file into an image; every fault is an ImageError naming the file. A
 * file the manifest.json beside it lists must have the listed SHA-256 (manifest-check.ts).
 */
export async function loadImageFile(path: string, options: LoadImageOptions = {}): Promise<FirmwareImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ImageError(path, 'unreadable', `cannot read the file: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  await checkManifestHash(path, view);
  return parseImage(view, path, options);
}

/** Writes bytes, turning file-system errors into ImageError. */
async function writeImageBytes(path: string, data: Uint8Array | string): Promise<void> {
  try {
    await writeFile(path, data);
  } catch (error) {
    throw new ImageError(path, 'unreadable', `cannot write the file: ${error instanceof Error ? error.message : String(error)}`, {
      cause: error, hint: 'Check that the directory exists and is writable.',
    });
  }
}

/** Writes the image as a DfuSe .dfu file. */
export async function writeDfuFile(path: string, image: FirmwareImage, options: WriteDfuOptions = {}): Promise<void> {
  await writeImageBytes(path, writeDfu(image, options));
}

/** Writes the image as an Intel HEX file. */
export async function writeHexFile(path: string, image: FirmwareImage, options: WriteHexOptions = {}): Promise<void> {
  await writeImageBytes(path, writeHex(image, options));
}

/** Writes the image as a flat .bin from its first byte, gaps filled with 0xFF; the load address is not stored. */
export async function writeBinFile(path: string, image: FirmwareImage): Promise<void> {
  await writeImageBytes(path, imageToBin(image));
}
