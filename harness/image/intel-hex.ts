// Intel HEX through nrf-intel-hex, plus the start linear address record (type 05), which it
// parses but drops. Its signed shifts turn addresses at or above 0x80000000 negative, so those
// are refused on read and on write (nothing the STM32H7 ROM bootloader can program lives there).
import nrfIntelHex from 'nrf-intel-hex';
import { hex32 } from '../errors.js';
import { ImageError } from './errors.js';
import { createFirmwareImage, type FirmwareImage } from './firmware-image.js';

// The package is CommonJS (module.exports = MemoryMap) while its typings declare an ES default
// export, so under NodeNext the types see one `.default` more than the runtime has.
const MemoryMap = nrfIntelHex as unknown as typeof nrfIntelHex.default;
type MemoryMap = InstanceType<typeof MemoryMap>;

/** First address Intel HEX files of this project may not reach. */
export const HEX_ADDRESS_LIMIT = 0x80000000;

const HIGH_EXTENDED_LINEAR_RECORD = /^:02000004([89A-Fa-f][0-9A-Fa-f]{3})/m;
const START_LINEAR_RECORD = /^:04000005([0-9A-Fa-f]{8})[0-9A-Fa-f]{2}\s*$/gm;

/** Parses Intel HEX text (or its bytes); every fault is an ImageError naming `source`. */
export function readHex(input: string | Uint8Array, source: string): FirmwareImage {
  const text = (typeof input === 'string' ? input : Buffer.from(input).toString('latin1')).trim();
  if (text === '') throw new ImageError(source, 'empty', 'the file is empty');
  const high = HIGH_EXTENDED_LINEAR_RECORD.exec(text);
  if (high) {
    throw new ImageError(source, 'hex-record', `extended linear address 0x${high[1]!.toUpperCase()}0000 is at or above ${hex32(HEX_ADDRESS_LIMIT)}, which is not supported`, {
      hint: 'Only addresses below 0x80000000 (flash, RAM, option bytes) can be flashed over DFU here; drop the external-memory sections from the .hex.',
    });
  }
  let blocks: MemoryMap;
  try {
    blocks = MemoryMap.fromHex(text);
  } catch (error) {
    throw new ImageError(source, 'hex-record', `not valid Intel HEX: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const startAddresses = [...text.matchAll(START_LINEAR_RECORD)].map((m) => Number.parseInt(m[1]!, 16));
  if (new Set(startAddresses).size > 1) {
    throw new ImageError(source, 'hex-record', `the file has conflicting start linear address records: ${startAddresses.map(hex32).join(', ')}`);
  }
  const segments = [...blocks].map(([address, data]) => ({ address: address >>> 0, data: data.slice() }));
  if (segments.every((s) => s.data.length === 0)) throw new ImageError(source, 'empty', 'the file has no data records');
  return createFirmwareImage({
    source,
    format: 'hex',
    segments,
    ...(startAddresses[0] !== undefined ? { startAddress: startAddresses[0] } : {}),
  });
}

/** Options of {@link writeHex}. */
export interface WriteHexOptions {
  /** Data bytes per record; 16 (objcopy's choice) by default, at most 255. */
  recordSize?: number;
}

/** Serialises an image as Intel HEX text (extended linear address records, `\n` line ends). */
export function writeHex(image: FirmwareImage, options: WriteHexOptions = {}): string {
  const recordSize = options.recordSize ?? 16;
  if (!Number.isInteger(recordSize) || recordSize < 1 || recordSize > 255) {
    throw new ImageError(image.source, 'invalid-argument', `record size ${String(recordSize)} must be 1..255`);
  }
  const last = image.segments[image.segments.length - 1];
  if (last && last.address + last.data.length > HEX_ADDRESS_LIMIT) {
    throw new ImageError(image.source, 'invalid-argument', `bytes up to ${hex32(last.address + last.data.length - 1)} are at or above ${hex32(HEX_ADDRESS_LIMIT)}, which this project's Intel HEX support does not reach`, {
      hint: 'Write a .dfu instead, or leave external-memory sections out of the image.',
    });
  }
  const map = new MemoryMap(image.segments.map((s) => [s.address, s.data] as [number, Uint8Array]));
  let text: string;
  try {
    text = map.asHexString(recordSize);
  } catch (error) {
    throw new ImageError(image.source, 'invalid-argument', `cannot write Intel HEX: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  const lines = text.split('\n');
  if (image.startAddress !== undefined) lines.splice(lines.length - 1, 0, startLinearAddressRecord(image.startAddress));
  return `${lines.join('\n')}\n`;
}

/** The type-05 record for a 32-bit entry point. */
function startLinearAddressRecord(address: number): string {
  const bytes = [4, 0, 0, 5, (address >>> 24) & 0xff, (address >>> 16) & 0xff, (address >>> 8) & 0xff, address & 0xff];
  const checksum = (0x100 - (bytes.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
  return `:${[...bytes, checksum].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join('')}`;
}
