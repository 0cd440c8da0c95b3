// The seam between the simulated chip (board, MCU, GPIO, RCC) and the code it runs from
// system memory (the DfuSe bootloader). A team's own in-flash bootloader would sit on the
// same seam with its own profile.
import type { Clock } from '../clock/clock.js';
import type { UsbGadget } from '../usb/gadget.js';

/** How long the flash stays busy for one operation, in virtual ms. */
export interface FlashBusy {
  durationMs: number;
}

/** Bank number on the STM32H745: bank 1 at 0x08000000, bank 2 at 0x08100000. */
export type BankNumber = 1 | 2;

/** One change to the flash: bytes programmed, or a range erased. */
export interface FlashChange {
  kind: 'program' | 'erase';
  address: number;
  length: number;
}

/**
 * The user flash: the one seam through which everything on the simulated chip reaches it (code
 * on the chip through the flash interface, the bootloader, the debug port, an executing core).
 * Reads, 256-bit flash-word programming, sector/bank/mass erase, the cuts a power loss leaves,
 * ECC state, and a report of every change. Timing is returned, not slept, so the caller decides
 * how the busy time shows (a bootloader reports it as dfuDNBUSY).
 */
export interface FlashMemory {
  readonly base: number;
  readonly size: number;
  readonly sectorSize: number;
  readonly sectorsPerBank: number;
  /** True when [address, address+length) is user flash. */
  contains(address: number, length: number): boolean;
  read(address: number, length: number): Uint8Array;
  /** Programs bytes; a flash word that was not erased gets a sticky ECC error. */
  program(address: number, data: Uint8Array): FlashBusy;
  /** Programs only the first `bytesBeforeLoss` bytes of `data`, as when power fails part-way; a flash word cut mid-way gets an ECC error. */
  programUntilPowerLoss(address: number, data: Uint8Array, bytesBeforeLoss: number): FlashBusy;
  eraseSector(bank: BankNumber, sector: number): FlashBusy;
  /** Erases only the first `fraction` of a sector (rounded to flash words), as when power fails mid-erase. */
  eraseSectorUntilPowerLoss(bank: BankNumber, sector: number, fraction: number): FlashBusy;
  massErase(): FlashBusy;
  isWriteProtected(bank: BankNumber, sector: number): boolean;
  /** Start addresses of the flash words in [address, address+length) that carry an ECC error (default: all of the flash). */
  eccErrorWords(address?: number, length?: number): number[];
  /** The flash array itself, for a core that maps it and executes from it: read it, never write it. */
  memoryView(): Uint8Array;
  /** Bytes of host memory the model holds. */
  memoryFootprintBytes(): number;
  /** Calls `listener` with every program and erase (translated code goes stale; a core loses its image); returns an unsubscribe. */
  onChange(listener: (change: FlashChange) => void): () => void;
}

/** Readout protection as RM0399 decodes the RDP byte: 0xAA level 0, 0xCC level 2, else level 1. */
export type RdpLevel = 0 | 1 | 2;

/** The option bytes as seen through FLASH_OPTSR_CUR and the registers after it (0x5200201C). */
export interface OptionBytesStore {
  /** Address of the block the bootloader exposes (0x5200201C). */
  readonly base: number;
  /** Bytes in that block (128 on the H7 ROM's layout string). */
  readonly blockSize: number;
  readBlock(): Uint8Array;
  /** Bytes of option registers readable from the base, the block included (308 on the STM32H745: both banks). */
  readonly windowSize: number;
  /** The whole register window from the base. */
  readWindow(): Uint8Array;
  /** Erases then programs the whole block (or window); values take effect at the next reset. */
  programBlock(bytes: Uint8Array): FlashBusy;
  rdpLevel(): RdpLevel;
  /** Regression to level 0: mass erase and option bytes back to their defaults (Read Unprotect). */
  regressToLevel0(): FlashBusy;
}

/** Why the chip reset, as RCC_RSR would record it. */
export type ResetCause = 'power-on' | 'pin' | 'software' | 'watchdog';

/** What the chip gives the code running from system memory. */
export interface BootloaderHost {
  readonly clock: Clock;
  readonly flash: FlashMemory;
  readonly optionBytes: OptionBytesStore;
  /** Plugs the bootloader's USB device into the board's USB socket (after the profile's startup delay). */
  attachUsb(gadget: UsbGadget): void;
  /** Takes it off the bus. */
  detachUsb(): void;
  /** Puts PA11/PA12 in AF10 push-pull, no pull, as the ROM does while it runs. */
  claimUsbPins(): void;
  /** Returns the peripherals the bootloader used to reset values; `complete` is the profile's choice. */
  restorePeripherals(complete: boolean): void;
  /** Leaves the bootloader for code whose vector table is at `vectorTable`; the chip resets if it is not valid code. */
  jumpTo(vectorTable: number): void;
  /** System reset, as after an option-byte write or Read Unprotect. */
  systemReset(cause: ResetCause): void;
  /** The board lost power (an armed fault): nothing runs until it is powered again. */
  powerOff(): void;
}
