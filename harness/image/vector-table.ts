// When an image counts as "valid code" (docs/image-version-block.md): the one rule the simulated
// chip's reset and its bootloader's leave apply, and the host's image tools (the placement of a
// .bin, synthetic images, negative specs) check.

/** An address range [start, end). */
export interface AddressRange {
  start: number;
  end: number;
}

/** RAM an initial MSP may point into on the STM32H745 (DTCM, AXI SRAM, SRAM1-3, SRAM4). */
export const H745_STACK_RAM: readonly AddressRange[] = Object.freeze([
  { start: 0x20000000, end: 0x20020000 },
  { start: 0x24000000, end: 0x24080000 },
  { start: 0x30000000, end: 0x30048000 },
  { start: 0x38000000, end: 0x38010000 },
]);

/** The two 1 MB user flash banks of the STM32H745. */
export const H745_FLASH_BANKS: readonly AddressRange[] = Object.freeze([
  { start: 0x08000000, end: 0x08100000 },
  { start: 0x08100000, end: 0x08200000 },
]);

/** Size of the Cortex-M7 vector table on the STM32H745 (166 words). */
export const H745_VECTOR_TABLE_SIZE = 0x298;

/** Why a vector table is not valid code, or undefined when it is. */
export function vectorTableProblem(
  initialMsp: number,
  resetVector: number,
  vectorTableAddress: number,
  banks: readonly AddressRange[] = H745_FLASH_BANKS,
  ram: readonly AddressRange[] = H745_STACK_RAM,
): string | undefined {
  const msp = initialMsp >>> 0;
  const reset = resetVector >>> 0;
  if (msp === 0xffffffff && reset === 0xffffffff) return 'the vector table is erased flash (0xFFFFFFFF)';
  if ((msp & 3) !== 0) return `initial MSP 0x${msp.toString(16)} is not word-aligned`;
  if (!ram.some((r) => msp >= r.start && msp < r.end)) return `initial MSP 0x${msp.toString(16)} does not point into RAM`;
  if ((reset & 1) === 0) return `reset vector 0x${reset.toString(16)} is even (not Thumb)`;
  const bank = banks.find((b) => vectorTableAddress >= b.start && vectorTableAddress < b.end);
  if (!bank) return `vector table at 0x${vectorTableAddress.toString(16)} is not in a flash bank`;
  const target = (reset & ~1) >>> 0;
  if (target < bank.start || target >= bank.end) return `reset vector 0x${reset.toString(16)} points outside the flash bank of the vector table`;
  return undefined;
}

/** Reads the first two words of `bytes` (an image's start) and applies {@link vectorTableProblem}. */
export function imageVectorProblem(bytes: Uint8Array, vectorTableAddress: number): string | undefined {
  if (bytes.length < 8) return 'the image is shorter than two words';
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  return vectorTableProblem(view.getUint32(0, true), view.getUint32(4, true), vectorTableAddress);
}
