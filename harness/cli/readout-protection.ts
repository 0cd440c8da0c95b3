// Readout protection as a person at the bench meets it: the ST ROM answers a read or an erase
// of protected flash with errVENDOR (AN3156 §4.1), and a probe finds the flash unreadable
// (RM0399 §4.5.3: RDP level 1 closes the user flash to a connected debugger).
import { DfuError } from '../dfu/errors.js';
import { RDP_LEVEL_2 } from '../dfu/option-bytes-guard.js';
import { DfuStatus } from '../dfu/protocol.js';
import { DfuHilError, hex32 } from '../errors.js';

const LEVEL_1_HINT = 'The board\'s flash is under readout protection (RDP level 1): neither DFU nor a debug probe may read it, nor erase it sector by sector. '
  + 'Lifting it (Read Unprotect, which `dfu-hil recover` sends on a rig with allowOptionBytes: true) mass-erases the flash: what it holds cannot be read back, only replaced.';
const LEVEL_2_HINT = 'RDP level 2 is permanent: the debug port is closed and the flash can never be read from outside again.';

/** RDP level 0, no protection (RM0399 Table 22). */
export const RDP_LEVEL_0 = 0xaa;

/** Offset of the RDP byte in the H7 option-byte block: bits 15:8 of FLASH_OPTSR_CUR, its first word (RM0399 §4.9). */
export const RDP_OFFSET = 1;

/** The board's flash is readout-protected, so it cannot be read, or erased sector by sector. */
export class ReadoutProtectedError extends DfuHilError {
  constructor(message: string, options: { level?: 1 | 2; cause?: unknown } = {}) {
    super('readout-protected', message, { hint: options.level === 2 ? LEVEL_2_HINT : LEVEL_1_HINT, cause: options.cause });
  }
}

/** `error` as a {@link ReadoutProtectedError} when it is the ROM's errVENDOR refusal to `what`; else `error` itself. */
export function explainReadoutProtection(error: unknown, what: string): unknown {
  if (!(error instanceof DfuError) || error.report.status !== DfuStatus.ErrVendor) return error;
  return new ReadoutProtectedError(`cannot ${what}: the flash is readout-protected (${error.message})`, { cause: error });
}

/** Throws {@link ReadoutProtectedError} unless `rdp`, the RDP byte a probe read at `address`, is level 0. */
export function refuseProtectedProbeRead(rdp: number, address: number, what: string): void {
  if (rdp === RDP_LEVEL_0) return;
  const level = rdp === RDP_LEVEL_2 ? 2 : 1;
  throw new ReadoutProtectedError(`cannot ${what} through the probe: the flash is readout-protected (RDP 0x${rdp.toString(16).toUpperCase().padStart(2, '0')} at ${hex32(address)}, level ${level})`, { level });
}
