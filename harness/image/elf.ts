// ELF32 little-endian executables as firmware images: the bytes of every PT_LOAD segment at its
// physical (load) address, which is where a linker script's `AT > FLASH` puts initialised data.
// Tool Interface Standard ELF 1.2 (Book I, "ELF Header" and "Program Header"); ARM is e_machine 40.
import { ImageError } from './errors.js';
import { createFirmwareImage, type FirmwareImage, type ImageSegment } from './firmware-image.js';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const ELFCLASS32 = 1;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_ARM = 40;
const PT_LOAD = 1;

/** True when `bytes` start like an ELF file. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

/** Reads an ARM ELF32 executable: one segment per PT_LOAD with file bytes, at its physical address. */
export function readElf(bytes: Uint8Array, source: string): FirmwareImage {
  if (!isElf(bytes)) throw new ImageError(source, 'signature', 'not an ELF file (no 0x7F "ELF" at its start)');
  if (bytes.length < 52) throw new ImageError(source, 'truncated', `${bytes.length} bytes is shorter than an ELF32 header (52)`);
  if (bytes[4] !== ELFCLASS32 || bytes[5] !== ELFDATA2LSB) {
    throw new ImageError(source, 'unknown-format', 'only 32-bit little-endian ELF files hold Cortex-M firmware', { hint: 'Pass the .elf your arm-none-eabi toolchain linked.' });
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const type = view.getUint16(16, true);
  const machine = view.getUint16(18, true);
  if (type !== ET_EXEC || machine !== EM_ARM) {
    throw new ImageError(source, 'unknown-format', `an ELF of type ${type} for machine ${machine}; an ARM executable (type 2, machine 40) is needed`, {
      hint: 'Pass the linked firmware (.elf), not an object file or a library.',
    });
  }
  const phoff = view.getUint32(28, true);
  const phentsize = view.getUint16(42, true);
  const phnum = view.getUint16(44, true);
  if (phentsize < 32 || phoff + phnum * phentsize > bytes.length) {
    throw new ImageError(source, 'truncated', `its ${phnum} program headers at ${phoff} run past the end of the file`);
  }
  const segments: ImageSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (view.getUint32(at, true) !== PT_LOAD) continue;
    const offset = view.getUint32(at + 4, true);
    const paddr = view.getUint32(at + 12, true);
    const filesz = view.getUint32(at + 16, true);
    if (filesz === 0) continue;
    if (offset + filesz > bytes.length) throw new ImageError(source, 'truncated', `program header ${i} holds ${filesz} bytes at ${offset}, past the end of the file`);
    segments.push({ address: paddr, data: bytes.slice(offset, offset + filesz) });
  }
  if (segments.length === 0) throw new ImageError(source, 'empty', 'no loadable segment with bytes in it');
  return createFirmwareImage({ source, format: 'elf', segments });
}
