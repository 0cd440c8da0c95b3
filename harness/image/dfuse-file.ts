// ST DfuSe file format (UM0391): prefix, targets of elements, DFU suffix.
//
//   prefix  11 bytes  "DfuSe" | bVersion 0x01 | DFUImageSize u32 (prefix + targets) | bTargets u8
//   target 274 bytes  "Target" | bAlternateSetting u8 | bTargetNamed u32 | szTargetName[255]
//                     | dwTargetSize u32 (bytes of its elements, headers included) | dwNbElements u32
//   element  8 bytes  dwElementAddress u32 | dwElementSize u32, then the data
//   suffix  16 bytes  bcdDevice u16 | idProduct u16 | idVendor u16 | bcdDFU u16 (0x011A)
//                     | "UFD" | bLength 16 | dwCRC u32
// All integers little-endian. dwCRC covers every byte before it (see dfuSuffixCrc).
import { DFUSE_BCD_DFU_VERSION } from '../dfu-wire/dfuse.js';
import { hex32 } from '../errors.js';
import { dfuSuffixCrc } from './crc32.js';
import { ImageError } from './errors.js';
import { createFirmwareImage, describeRange, type DeviceIdentity, type DfuseTarget, type FirmwareImage } from './firmware-image.js';

export const DFUSE_PREFIX_SIZE = 11;
export const DFUSE_TARGET_PREFIX_SIZE = 274;
export const DFUSE_ELEMENT_HEADER_SIZE = 8;
export const DFU_SUFFIX_SIZE = 16;
/** bcdDFU of a plain DFU 1.0/1.1 file's suffix (accepted on read). */
export const DFU_BCD_DFU = 0x0100;
const TARGET_NAME_FIELD = 255;

/**
 * Suffix identity written when the image carries none: ST's bootloader VID:PID and
 * bcdDevice 0xFFFF ("any version"), so hosts that check the suffix accept the file on any ROM.
 */
export const DEFAULT_DFUSE_DEVICE: Readonly<DeviceIdentity> = Object.freeze({ vendorId: 0x0483, productId: 0xdf11, bcdDevice: 0xffff });

/** The parsed 16-byte DFU suffix. */
export interface DfuSuffix extends DeviceIdentity {
  bcdDfu: number;
  length: number;
  crc: number;
}

const SIGNATURE_DFUSE = Buffer.from('DfuSe', 'latin1');
const SIGNATURE_TARGET = Buffer.from('Target', 'latin1');
const SIGNATURE_UFD = Buffer.from('UFD', 'latin1');

/** True when `bytes` starts with "DfuSe". */
export function hasDfusePrefix(bytes: Uint8Array): boolean {
  return bytes.length >= SIGNATURE_DFUSE.length && Buffer.from(bytes.buffer, bytes.byteOffset, SIGNATURE_DFUSE.length).equals(SIGNATURE_DFUSE);
}

/** True when `bytes` ends with something shaped like a DFU suffix ("UFD" and bLength 16). */
export function hasDfuSuffix(bytes: Uint8Array): boolean {
  if (bytes.length < DFU_SUFFIX_SIZE) return false;
  const at = bytes.length - DFU_SUFFIX_SIZE;
  return Buffer.from(bytes.buffer, bytes.byteOffset + at + 8, 3).equals(SIGNATURE_UFD) && bytes[at + 11] === DFU_SUFFIX_SIZE;
}

/**
 * Bounds-checked little-endian reads within [at, limit) that fail as ImageError, never
 * RangeError. The file length was checked against DFUImageSize before, so running past a limit
 * means the headers disagree (size-mismatch), not that the file was cut.
 */
class DfuseCursor {
  private readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly limit: number, private readonly source: string, public at: number, private readonly region: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  need(count: number, what: string): void {
    if (this.at + count > this.limit) {
      throw new ImageError(this.source, 'size-mismatch', `${what} at offset ${this.at} needs ${count} bytes but ${this.region} ends at offset ${this.limit}`);
    }
  }

  u8(): number {
    return this.view.getUint8(this.at++);
  }

  u32(): number {
    const value = this.view.getUint32(this.at, true);
    this.at += 4;
    return value;
  }

  take(count: number): Uint8Array {
    const out = this.bytes.subarray(this.at, this.at + count);
    this.at += count;
    return out;
  }
}

/** Reads and checks a DFU suffix (signature, length, CRC); does not judge bcdDFU. */
export function readDfuSuffix(bytes: Uint8Array, source: string): DfuSuffix {
  if (bytes.length < DFU_SUFFIX_SIZE) {
    throw new ImageError(source, 'truncated', `the file is ${bytes.length} bytes, too short for the 16-byte DFU suffix`);
  }
  const at = bytes.length - DFU_SUFFIX_SIZE;
  const view = new DataView(bytes.buffer, bytes.byteOffset + at, DFU_SUFFIX_SIZE);
  if (!Buffer.from(bytes.buffer, bytes.byteOffset + at + 8, 3).equals(SIGNATURE_UFD)) {
    throw new ImageError(source, 'signature', `no DFU suffix: the bytes at offset ${at + 8} are not "UFD"`, {
      hint: 'The file was cut off, or it is not a .dfu file. dfu-util\'s dfu-suffix --check shows what a tool sees.',
    });
  }
  const length = view.getUint8(11);
  if (length !== DFU_SUFFIX_SIZE) {
    throw new ImageError(source, 'size-mismatch', `the DFU suffix's bLength is ${length}; a DfuSe suffix is 16 bytes`);
  }
  const crc = view.getUint32(12, true);
  const actual = dfuSuffixCrc(bytes.subarray(0, bytes.length - 4));
  if (crc !== actual) {
    throw new ImageError(source, 'crc', `DFU suffix CRC mismatch: the file says ${hex32(crc)}, its contents give ${hex32(actual)}`);
  }
  return {
    bcdDevice: view.getUint16(0, true),
    productId: view.getUint16(2, true),
    vendorId: view.getUint16(4, true),
    bcdDfu: view.getUint16(6, true),
    length,
    crc,
  };
}

/** Parses a DfuSe .dfu file; every fault is an ImageError naming `source`. */
export function readDfu(bytes: Uint8Array, source: string): FirmwareImage {
  if (bytes.length < DFUSE_PREFIX_SIZE) {
    throw new ImageError(source, 'truncated', `the file is ${bytes.length} bytes, too short for the 11-byte DfuSe prefix`);
  }
  if (!hasDfusePrefix(bytes)) {
    const plain = hasDfuSuffix(bytes);
    throw new ImageError(source, 'signature', `the file does not start with "DfuSe" (found ${JSON.stringify(Buffer.from(bytes.subarray(0, 5)).toString('latin1'))})`, {
      hint: plain
        ? 'It has a DFU suffix but no DfuSe prefix: a plain DFU file carries no load address. Flash the payload as a .bin at its address, or pack it with dfuse-pack.'
        : 'This is not a DfuSe file; if it is raw firmware, name it .bin and give its load address.',
    });
  }
  const prefix = new DataView(bytes.buffer, bytes.byteOffset, DFUSE_PREFIX_SIZE);
  const version = prefix.getUint8(5);
  if (version !== 0x01) throw new ImageError(source, 'signature', `DfuSe prefix bVersion is ${version}; only version 1 exists`);
  const imageSize = prefix.getUint32(6, true);
  const targetCount = prefix.getUint8(10);
  if (imageSize < DFUSE_PREFIX_SIZE) {
    throw new ImageError(source, 'size-mismatch', `DfuSe prefix says DFUImageSize is ${imageSize}, smaller than the prefix itself`);
  }
  const expected = imageSize + DFU_SUFFIX_SIZE;
  if (bytes.length < expected) {
    throw new ImageError(source, 'truncated', `the file is ${bytes.length} bytes, but its DfuSe prefix announces ${imageSize} bytes of images plus a 16-byte suffix (${expected})`);
  }
  if (bytes.length > expected) {
    throw new ImageError(source, 'size-mismatch', `the file is ${bytes.length} bytes, ${bytes.length - expected} more than its DfuSe prefix announces (${imageSize} + 16-byte suffix)`);
  }
  const suffix = readDfuSuffix(bytes, source);
  if (suffix.bcdDfu !== DFUSE_BCD_DFU_VERSION && suffix.bcdDfu !== DFU_BCD_DFU) {
    throw new ImageError(source, 'signature', `DFU suffix bcdDFU is 0x${suffix.bcdDfu.toString(16).padStart(4, '0')}; expected 0x011a (DfuSe)`);
  }
  if (targetCount === 0) throw new ImageError(source, 'empty', 'the DfuSe prefix says bTargets = 0: the file holds no targets');

  const cursor = new DfuseCursor(bytes, imageSize, source, DFUSE_PREFIX_SIZE, `the image data (DFUImageSize ${imageSize})`);
  const targets: DfuseTarget[] = [];
  for (let t = 0; t < targetCount; t++) targets.push(readTarget(cursor, t, source));
  if (cursor.at !== imageSize) {
    throw new ImageError(source, 'size-mismatch', `DFUImageSize is ${imageSize} but the ${targetCount} target(s) end at offset ${cursor.at}`);
  }
  return createFirmwareImage({
    source,
    format: 'dfu',
    targets,
    device: { vendorId: suffix.vendorId, productId: suffix.productId, bcdDevice: suffix.bcdDevice },
  });
}

/** Reads one target prefix and its elements. */
function readTarget(cursor: DfuseCursor, index: number, source: string): DfuseTarget {
  const where = `target ${index}`;
  cursor.need(DFUSE_TARGET_PREFIX_SIZE, `${where} prefix`);
  const start = cursor.at;
  if (!Buffer.from(cursor.take(SIGNATURE_TARGET.length)).equals(SIGNATURE_TARGET)) {
    throw new ImageError(source, 'signature', `${where} at offset ${start} does not start with "Target"`);
  }
  const alternateSetting = cursor.u8();
  const named = cursor.u32() !== 0;
  const nameField = cursor.take(TARGET_NAME_FIELD);
  const nul = nameField.indexOf(0);
  const name = Buffer.from(nameField.subarray(0, nul === -1 ? TARGET_NAME_FIELD : nul)).toString('latin1');
  const targetSize = cursor.u32();
  const elementCount = cursor.u32();
  const label = `${where} (alt ${alternateSetting})`;
  const end = cursor.at + targetSize;
  if (end > cursor.limit) {
    throw new ImageError(source, 'size-mismatch', `${label} says dwTargetSize is ${targetSize}, which runs past the end of the image data (DFUImageSize ${cursor.limit})`);
  }
  // Each element needs at least its header; refusing impossible counts early also bounds the loop.
  if (elementCount * DFUSE_ELEMENT_HEADER_SIZE > targetSize) {
    throw new ImageError(source, 'size-mismatch', `${label} says it has ${elementCount} elements but dwTargetSize ${targetSize} cannot hold their headers`);
  }
  const segments: { address: number; data: Uint8Array }[] = [];
  const scoped = new DfuseCursor(cursor.bytes, end, source, cursor.at, `${label} (dwTargetSize ${targetSize})`);
  for (let e = 0; e < elementCount; e++) {
    scoped.need(DFUSE_ELEMENT_HEADER_SIZE, `${label} element ${e} header`);
    const address = scoped.u32();
    const size = scoped.u32();
    scoped.need(size, `${label} element ${e} (${size} bytes at ${hex32(address)})`);
    if (address + size > 0x1_0000_0000) {
      throw new ImageError(source, 'size-mismatch', `${label} element ${e} ${describeRange(address, size)} runs past the 32-bit address space`);
    }
    segments.push({ address, data: scoped.take(size).slice() });
  }
  if (scoped.at !== end) {
    throw new ImageError(source, 'size-mismatch', `${label} says dwTargetSize is ${targetSize} but its ${elementCount} element(s) take ${scoped.at - (end - targetSize)} bytes`);
  }
  cursor.at = end;
  return { alternateSetting, ...(named ? { name } : {}), segments };
}

/** Options of {@link writeDfu}. */
export interface WriteDfuOptions {
  /** Suffix identity; default the image's own, else DEFAULT_DFUSE_DEVICE. */
  device?: DeviceIdentity;
  /** Used when the image has no DfuSe targets: the alt setting of the single target. Default 0. */
  alternateSetting?: number;
  /** Used when the image has no DfuSe targets: the target's name. Default unnamed. */
  targetName?: string;
}

/** Serialises an image as a DfuSe file. */
export function writeDfu(image: FirmwareImage, options: WriteDfuOptions = {}): Uint8Array {
  const source = image.source;
  const targets: readonly DfuseTarget[] = image.targets ?? [{
    alternateSetting: options.alternateSetting ?? 0,
    ...(options.targetName !== undefined ? { name: options.targetName } : {}),
    segments: image.segments,
  }];
  if (targets.length === 0) throw new ImageError(source, 'empty', 'the image has no DfuSe targets');
  if (targets.length > 255) throw new ImageError(source, 'invalid-argument', `${targets.length} targets do not fit bTargets (at most 255)`);
  const device = options.device ?? image.device ?? DEFAULT_DFUSE_DEVICE;
  for (const [key, value] of Object.entries(device)) {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) throw new ImageError(source, 'invalid-argument', `suffix ${key} ${String(value)} is not a 16-bit value`);
  }

  const targetSizes = targets.map((t) => t.segments.reduce((n, s) => n + DFUSE_ELEMENT_HEADER_SIZE + s.data.length, 0));
  const imageSize = DFUSE_PREFIX_SIZE + targetSizes.reduce((n, size) => n + DFUSE_TARGET_PREFIX_SIZE + size, 0);
  if (imageSize > 0xffffffff) throw new ImageError(source, 'invalid-argument', `the image is ${imageSize} bytes, too large for DFUImageSize`);
  const out = new Uint8Array(imageSize + DFU_SUFFIX_SIZE);
  const view = new DataView(out.buffer);
  out.set(SIGNATURE_DFUSE, 0);
  view.setUint8(5, 0x01);
  view.setUint32(6, imageSize, true);
  view.setUint8(10, targets.length);
  let at = DFUSE_PREFIX_SIZE;
  targets.forEach((target, t) => {
    const { alternateSetting, name, segments } = target;
    if (!Number.isInteger(alternateSetting) || alternateSetting < 0 || alternateSetting > 255) {
      throw new ImageError(source, 'invalid-argument', `target ${t} has alternate setting ${String(alternateSetting)}; it must be 0..255`);
    }
    out.set(SIGNATURE_TARGET, at);
    view.setUint8(at + 6, alternateSetting);
    if (name !== undefined) {
      const nameBytes = Buffer.from(name, 'latin1');
      if (nameBytes.length > TARGET_NAME_FIELD - 1 || nameBytes.includes(0) || !/^[\x20-\x7e]*$/.test(name)) {
        throw new ImageError(source, 'invalid-argument', `target ${t} name ${JSON.stringify(name)} must be printable ASCII of at most 254 characters`);
      }
      view.setUint32(at + 7, 1, true);
      out.set(nameBytes, at + 11);
    }
    view.setUint32(at + 266, targetSizes[t]!, true);
    view.setUint32(at + 270, segments.length, true);
    at += DFUSE_TARGET_PREFIX_SIZE;
    for (const segment of segments) {
      view.setUint32(at, segment.address, true);
      view.setUint32(at + 4, segment.data.length, true);
      out.set(segment.data, at + DFUSE_ELEMENT_HEADER_SIZE);
      at += DFUSE_ELEMENT_HEADER_SIZE + segment.data.length;
    }
  });
  view.setUint16(at, device.bcdDevice, true);
  view.setUint16(at + 2, device.productId, true);
  view.setUint16(at + 4, device.vendorId, true);
  view.setUint16(at + 6, DFUSE_BCD_DFU_VERSION, true);
  out.set(SIGNATURE_UFD, at + 8);
  view.setUint8(at + 11, DFU_SUFFIX_SIZE);
  view.setUint32(at + 12, dfuSuffixCrc(out.subarray(0, at + 12)), true);
  return out;
}
