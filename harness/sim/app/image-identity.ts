// The simulator's own reading of a test-application image (docs/image-version-block.md):
// the version block and the "valid code" rule. Kept apart from the host's image tools on
// purpose: the simulated chip must not depend on host code.

/** Offset of the version block from the start of the image. */
export const VERSION_BLOCK_OFFSET = 0x400;
/** Bytes in the version block. */
export const VERSION_BLOCK_LENGTH = 48;
const MAGIC = 0x4c494844; // "DHIL" as a little-endian word

/** Name and version the console announces. */
export interface ImageIdentity {
  name: string;
  version: string;
  core: 4 | 7 | undefined;
}

/** What a valid image without a block announces. */
export const UNKNOWN_IDENTITY: Readonly<ImageIdentity> = Object.freeze({ name: 'unknown', version: '0.0.0', core: undefined });

/** Decodes a NUL-padded ASCII field; undefined when it holds no printable token. */
function asciiField(bytes: Uint8Array): string | undefined {
  let text = '';
  for (const b of bytes) {
    if (b === 0) break;
    if (b < 0x21 || b > 0x7e) return undefined;
    text += String.fromCharCode(b);
  }
  return text.length > 0 ? text : undefined;
}

/** Reads the 48-byte block; anything that is not a format-1 block gives `unknown 0.0.0`. */
export function parseVersionBlock(block: Uint8Array): ImageIdentity {
  if (block.length < VERSION_BLOCK_LENGTH) return UNKNOWN_IDENTITY;
  const view = new DataView(block.buffer, block.byteOffset, block.length);
  if (view.getUint32(0, true) !== MAGIC || block[4] !== 1) return UNKNOWN_IDENTITY;
  const name = asciiField(block.subarray(0x08, 0x20));
  const version = asciiField(block.subarray(0x20, 0x30));
  if (name === undefined || version === undefined) return UNKNOWN_IDENTITY;
  const core = block[5] === 7 || block[5] === 4 ? block[5] : undefined;
  return { name, version, core };
}

/** RAM an initial MSP may point into: DTCM, AXI SRAM, SRAM1-3, SRAM4. */
const STACK_RAM: ReadonlyArray<readonly [number, number]> = [
  [0x20000000, 0x20020000], [0x24000000, 0x24080000], [0x30000000, 0x30048000], [0x38000000, 0x38010000],
];
/** The two user flash banks. */
const FLASH_BANKS: ReadonlyArray<readonly [number, number]> = [[0x08000000, 0x08100000], [0x08100000, 0x08200000]];

/** True when the first two words at `vectorTable` are "valid code" by the project's rule. */
export function isValidCode(vectorTable: number, firstWords: Uint8Array): boolean {
  if (firstWords.length < 8) return false;
  const view = new DataView(firstWords.buffer, firstWords.byteOffset, 8);
  const msp = view.getUint32(0, true);
  const reset = view.getUint32(4, true);
  if (msp === 0xffffffff || (msp & 3) !== 0) return false;
  if (!STACK_RAM.some(([s, e]) => msp >= s && msp < e)) return false;
  if ((reset & 1) === 0) return false;
  const bank = FLASH_BANKS.find(([s, e]) => vectorTable >= s && vectorTable < e);
  if (!bank) return false;
  const target = (reset & ~1) >>> 0;
  return target >= bank[0] && target < bank[1];
}
