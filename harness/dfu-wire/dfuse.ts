// ST's DfuSe extensions to DFU 1.1 as they travel on the wire (AN3156): the commands carried by
// DNLOAD with wValue 0, and where a data block lands in memory. Shared by the DFU host and the
// simulated bootloader; it knows neither of them.

/** DfuSe command bytes sent in a DNLOAD with wValue=0 (AN3156 §3-5). */
export enum DfuseCommand {
  Get = 0x00,
  SetAddressPointer = 0x21,
  Erase = 0x41,
  ReadUnprotect = 0x92,
}

/**
 * bcdDFUVersion of ST's DfuSe extensions, in a DfuSe device's functional descriptor and in the
 * suffix of a .dfu file (ST UM0391, "DfuSe File Format"; fwupd's fu-dfu-firmware.h calls it
 * DFU_VERSION_DFUSE, "defined by ST").
 */
export const DFUSE_BCD_DFU_VERSION = 0x011a;

/** wValue of the first data block: blocks 0 and 1 are reserved for commands by DfuSe. */
export const DFUSE_FIRST_DATA_BLOCK = 2;

/**
 * Where an UPLOAD or DNLOAD data block lands: (wBlockNum − 2) × wTransferSize + address pointer,
 * with wTransferSize the device's functional descriptor value, never the request's wLength.
 * AN3156 §4.1 words it as "the length of the requested buffer"; ST's own DFU class computes
 * `(wblock_num - 2U) * USBD_DFU_XFER_SIZE + data_ptr` with the fixed size
 * (STMicroelectronics/stm32-mw-usb-device Class/DFU/Src/usbd_dfu.c), and dfu-util and pydfu
 * depend on it: they upload with incrementing block numbers and a short last block (dfu-util
 * src/dfuse.c dfuse_do_upload, MicroPython tools/pydfu.py).
 */
export function dfuseBlockAddress(blockNumber: number, transferSize: number, addressPointer: number): number {
  return ((blockNumber - DFUSE_FIRST_DATA_BLOCK) * transferSize + addressPointer) >>> 0;
}

/** Encodes a DfuSe command with an optional 32-bit little-endian address. */
export function encodeDfuseCommand(command: DfuseCommand, address?: number): Uint8Array {
  if (address === undefined) return Uint8Array.of(command);
  const a = address >>> 0;
  return Uint8Array.of(command, a & 0xff, (a >>> 8) & 0xff, (a >>> 16) & 0xff, (a >>> 24) & 0xff);
}

/** A decoded DfuSe command, as read from a DNLOAD wValue=0 payload. */
export type DecodedDfuseCommand =
  | { command: 'SET_ADDRESS'; address: number }
  | { command: 'ERASE'; address: number }
  | { command: 'MASS_ERASE' }
  | { command: 'READ_UNPROTECT' }
  | { command: 'GET' }
  | { command: 'UNKNOWN'; bytes: Uint8Array };

/** Decodes the payload of a DNLOAD with wValue=0. */
export function decodeDfuseCommand(bytes: Uint8Array): DecodedDfuseCommand {
  const address = (): number => (bytes[1]! | (bytes[2]! << 8) | (bytes[3]! << 16) | (bytes[4]! << 24)) >>> 0;
  if (bytes.length === 5 && bytes[0] === DfuseCommand.SetAddressPointer) return { command: 'SET_ADDRESS', address: address() };
  if (bytes.length === 5 && bytes[0] === DfuseCommand.Erase) return { command: 'ERASE', address: address() };
  if (bytes.length === 1 && bytes[0] === DfuseCommand.Erase) return { command: 'MASS_ERASE' };
  if (bytes.length === 1 && bytes[0] === DfuseCommand.ReadUnprotect) return { command: 'READ_UNPROTECT' };
  if (bytes.length === 1 && bytes[0] === DfuseCommand.Get) return { command: 'GET' };
  return { command: 'UNKNOWN', bytes };
}

/** Human form of a DfuSe command: "SET_ADDRESS 0x08000000", "MASS_ERASE". */
export function formatDfuseCommand(command: DecodedDfuseCommand): string {
  switch (command.command) {
    case 'SET_ADDRESS':
    case 'ERASE':
      return `${command.command} 0x${command.address.toString(16).toUpperCase().padStart(8, '0')}`;
    case 'UNKNOWN':
      return `COMMAND ${Array.from(command.bytes.slice(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ')}`;
    default:
      return command.command;
  }
}
