// The 48-byte block a test-application image carries at offset 0x400 to say what it is
// (docs/image-version-block.md). Everything here works on plain bytes: the simulated board reads
// it from its flash, the host from image files, with this one reader.
import { ImageError } from './errors.js';

/** Offset of the block from the start of the image (after the 0x298-byte CM7 vector table). */
export const VERSION_BLOCK_OFFSET = 0x400;
/** Size of the block in bytes. */
export const VERSION_BLOCK_SIZE = 48;
/** "DHIL" read as a little-endian word. */
export const VERSION_BLOCK_MAGIC = 0x4c494844;
/** The only format this project defines. */
export const VERSION_BLOCK_FORMAT = 1;

const NAME_OFFSET = 0x08;
const NAME_FIELD = 24;
const VERSION_OFFSET = 0x20;
const VERSION_FIELD = 16;

/** Which core an image is built for. */
export type ImageCore = 4 | 7;

/** What the block says about an image. */
export interface VersionBlock {
  core: ImageCore;
  name: string;
  version: string;
}

/** The name and version an image announces (`READY <name> <version>`). */
export interface ImageIdentity {
  name: string;
  version: string;
}

/** How a valid image without a block announces itself (`READY unknown 0.0.0`). */
export const UNKNOWN_IMAGE_IDENTITY: Readonly<ImageIdentity> = Object.freeze({ name: 'unknown', version: '0.0.0' });

// Name and version become words of the console's `READY <name> <version>` line, so they must be
// printable ASCII without spaces. One byte is kept for a NUL so C code can print them with %s.
const TOKEN = /^[\x21-\x7e]+$/;

/** Checks a name/version token fits its field. */
function checkToken(what: string, value: string, field: number): void {
  if (!TOKEN.test(value)) {
    throw new ImageError('version block', 'invalid-argument', `${what} "${value}" must be non-empty printable ASCII without spaces`);
  }
  if (value.length > field - 1) {
    throw new ImageError('version block', 'invalid-argument', `${what} "${value}" is ${value.length} characters; at most ${field - 1} fit`);
  }
}

/** Encodes the 48-byte block. */
export function encodeVersionBlock(block: VersionBlock): Uint8Array {
  if (block.core !== 4 && block.core !== 7) {
    throw new ImageError('version block', 'invalid-argument', `core ${String(block.core)} must be 7 (Cortex-M7) or 4 (Cortex-M4)`);
  }
  checkToken('name', block.name, NAME_FIELD);
  checkToken('version', block.version, VERSION_FIELD);
  const bytes = new Uint8Array(VERSION_BLOCK_SIZE);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, VERSION_BLOCK_MAGIC, true);
  bytes[4] = VERSION_BLOCK_FORMAT;
  bytes[5] = block.core;
  bytes.set(Buffer.from(block.name, 'latin1'), NAME_OFFSET);
  bytes.set(Buffer.from(block.version, 'latin1'), VERSION_OFFSET);
  return bytes;
}

/** Reads a NUL-padded ASCII field; a full field without NUL is accepted. */
function readField(bytes: Uint8Array, offset: number, size: number, what: string, source: string): string {
  const field = bytes.subarray(offset, offset + size);
  const nul = field.indexOf(0);
  const text = Buffer.from(field.subarray(0, nul === -1 ? size : nul)).toString('latin1');
  if (!TOKEN.test(text)) throw new ImageError(source, 'version-block', `the version block's ${what} field is not printable ASCII: ${JSON.stringify(text)}`);
  return text;
}

/**
 * Decodes a block from `bytes` at `offset`. Returns undefined when there is no block (magic
 * absent); throws ImageError when the magic is there but the rest is malformed.
 */
export function decodeVersionBlock(bytes: Uint8Array, offset = 0, source = 'image'): VersionBlock | undefined {
  if (offset < 0 || bytes.length < offset + VERSION_BLOCK_SIZE) return undefined;
  const block = bytes.subarray(offset, offset + VERSION_BLOCK_SIZE);
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
  if (view.getUint32(0, true) !== VERSION_BLOCK_MAGIC) return undefined;
  const format = block[4];
  if (format !== VERSION_BLOCK_FORMAT) throw new ImageError(source, 'version-block', `version block format ${String(format)} is unknown (expected ${VERSION_BLOCK_FORMAT})`);
  const core = block[5];
  if (core !== 4 && core !== 7) throw new ImageError(source, 'version-block', `version block core ${String(core)} is neither 7 nor 4`);
  return {
    core,
    name: readField(block, NAME_OFFSET, NAME_FIELD, 'name', source),
    version: readField(block, VERSION_OFFSET, VERSION_FIELD, 'version', source),
  };
}

/** Reads the block of an image whose first byte is `imageBytes[0]` (at VERSION_BLOCK_OFFSET). */
export function readImageVersionBlock(imageBytes: Uint8Array, source = 'image'): VersionBlock | undefined {
  return decodeVersionBlock(imageBytes, VERSION_BLOCK_OFFSET, source);
}

/**
 * The `<name> <version>` an image's READY line shows: its block's, or `unknown 0.0.0` when the
 * block is absent or malformed (a boot never fails over the block). `offset` is where the block
 * starts in `bytes`: VERSION_BLOCK_OFFSET in an image's bytes, 0 in the block alone.
 */
export function announcedIdentity(bytes: Uint8Array, offset = VERSION_BLOCK_OFFSET): ImageIdentity {
  try {
    const block = decodeVersionBlock(bytes, offset);
    if (block) return { name: block.name, version: block.version };
  } catch {
    // A malformed block is reported by decodeVersionBlock to those who ask; a boot just goes on.
  }
  return { ...UNKNOWN_IMAGE_IDENTITY };
}
