import { DfuHilError, hex32 } from '../../errors.js';

/** Code on the simulated chip touched an address the user flash does not have. */
export class FlashAddressError extends DfuHilError {
  constructor(readonly address: number, readonly length: number, what: string) {
    super('sim-flash-address', `${what} of ${length} bytes at ${hex32(address)} is outside user flash (0x08000000-0x081FFFFF)`, {
      hint: 'Check the address against the STM32H745 layout: bank 1 at 0x08000000, bank 2 at 0x08100000, 8 × 128 KiB sectors each.',
    });
  }
}

/** A sector or bank number the STM32H745 does not have. */
export class FlashSectorError extends DfuHilError {
  constructor(readonly bank: number, readonly sector: number) {
    super('sim-flash-sector', `there is no sector ${sector} in bank ${bank} (banks 1-2, sectors 0-7)`, {
      hint: 'Sectors are numbered 0-7 within each bank; bank 2 starts at 0x08100000.',
    });
  }
}
