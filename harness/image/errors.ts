import { DfuHilError } from '../errors.js';

/**
 * What is wrong with an image, stable for scripts and negative specs (the error's `code` is
 * `image-<fault>`).
 */
export type ImageFault =
  | 'unreadable'
  | 'unknown-format'
  | 'signature'
  | 'crc'
  | 'truncated'
  | 'size-mismatch'
  | 'overlap'
  | 'outside-layout'
  | 'hex-record'
  | 'empty'
  | 'invalid-argument'
  | 'version-block'
  | 'no-address'
  | 'hash'
  | 'manifest';

const HINTS: Record<ImageFault, string> = {
  unreadable: 'Check the path and the file permissions.',
  'unknown-format': 'Name the file .bin (with a load address), .hex (Intel HEX) or .dfu (ST DfuSe).',
  signature: 'The file is not what its name says; regenerate it (e.g. with the project\'s writeDfuFile or ST DfuFileMgr).',
  crc: 'The file was altered or corrupted after it was written; regenerate or download it again.',
  truncated: 'The file is shorter than its headers announce; it was cut off in transfer. Download or build it again.',
  'size-mismatch': 'The headers contradict each other or the file length; regenerate the file.',
  overlap: 'Two pieces of the image claim the same bytes; fix the linker script or the tool that merged the images.',
  'outside-layout': 'The image targets memory the device does not expose for writing; check the load address and the alt setting.',
  'hex-record': 'The Intel HEX file is malformed; regenerate it with objcopy -O ihex.',
  empty: 'The image holds no bytes to flash; check the build output.',
  'invalid-argument': 'Check the values passed to the image functions.',
  'version-block': 'See docs/image-version-block.md for the block\'s layout.',
  'no-address': 'Give the load address, e.g. --address 0x08000000 (bank 1, where the CM7 boots) or --address 0x08100000 (bank 2, the CM4), or flash the .hex or .dfu, which carry their addresses.',
  hash: 'The file is not the one the manifest lists: it was changed after the build, or the manifest is stale. Rebuild the images (`make -C firmware-images images`) or restore the file from git.',
  manifest: 'Fix or regenerate the manifest.json beside the image (`make -C firmware-images images`).',
};

/** A firmware image file (or in-memory image) is malformed or does not fit the device. */
export class ImageError extends DfuHilError {
  /** Which kind of problem it is. */
  readonly fault: ImageFault;
  /** The file or image the problem is in. */
  readonly source: string;
  /** The problem, without the source. */
  readonly problem: string;

  constructor(source: string, fault: ImageFault, problem: string, options: { hint?: string; cause?: unknown } = {}) {
    // A file that cannot be read or placed is refused before anything reaches the board.
    super(`image-${fault}`, `${source}: ${problem}`, {
      hint: options.hint ?? HINTS[fault], cause: options.cause,
      failureClass: fault === 'unreadable' || fault === 'no-address' ? 'usage' : 'test',
    });
    this.fault = fault;
    this.source = source;
    this.problem = problem;
  }
}

/** A file the manifest beside it lists, whose bytes do not have the listed SHA-256. */
export class ImageHashError extends ImageError {
  constructor(source: string, readonly manifest: string, readonly expected: string, readonly actual: string) {
    super(source, 'hash', `SHA-256 ${actual} does not match ${expected}, listed for it in ${manifest}`);
  }
}
