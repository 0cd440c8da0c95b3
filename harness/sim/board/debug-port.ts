import { DfuHilError } from '../../errors.js';
import type { ResetCause } from '../contracts.js';
import type { SimOptionBytes } from '../option-bytes/sim-option-bytes.js';
import { BusFaultError } from '../mcu/bus-fault.js';
import type { Stm32h745 } from '../mcu/stm32h745.js';

/** The debug port refused an operation (readout protection, no power). */
export class DebugAccessError extends DfuHilError {
  constructor(message: string, hint: string) {
    super('sim-debug-access', message, { hint });
  }
}

/** How a probe resets the target: NRST (hardware) or SYSRESETREQ through the debug port (system). */
export type DebugResetKind = 'hardware' | 'system';

/**
 * What a simulated SWD probe reaches on the board: memory and registers, reset, and flash
 * programming. Readout protection applies as on the chip: level 2 closes the port, level 1
 * keeps the user flash out of reach.
 */
export class SimDebugPort {
  constructor(private readonly mcu: Stm32h745, private readonly optionBytes: SimOptionBytes) {}

  /** Reads `length` bytes: SRAM, user flash, system memory, the option bytes, or whole registers of any mapped peripheral. */
  readMemory(address: number, length: number): Uint8Array {
    this.checkAccess();
    const { flash, sram, map } = this.mcu;
    if (sram.contains(address, length)) return sram.read(address, length);
    if (flash.contains(address, length)) {
      this.checkFlashAccess(address);
      return flash.read(address, length);
    }
    const ob = this.optionBytes;
    if (address >= ob.base && address + length <= ob.base + ob.blockSize) return ob.readBlock().slice(address - ob.base, address - ob.base + length);
    const memory = map.findMemory(address, length);
    if (memory) return memory.read(address, length);
    // A debugger's read has no side effect on the register (no RXNE cleared, no COUNTFLAG consumed).
    return this.registers(address, length, (at) => map.peek(at, 4));
  }

  /** Writes SRAM or whole registers of any mapped peripheral (flash goes through {@link programFlash}). */
  writeMemory(address: number, bytes: Uint8Array): void {
    this.checkAccess();
    const { sram, map } = this.mcu;
    if (sram.contains(address, bytes.length)) { sram.write(address, bytes); return; }
    if (bytes.length === 0 || bytes.length % 4 !== 0 || address % 4 !== 0) throw new BusFaultError(address, 'registers take whole, aligned 32-bit words');
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
    for (let i = 0; i < bytes.length; i += 4) {
      const at = address + i;
      if (map.findMemory(at, 4) || !map.findPeripheral(at)) throw new BusFaultError(at, 'not writable through the simulated debug port');
      map.write(at, 4, view.getUint32(i, true));
    }
  }

  /** Resets the target: 'hardware' pulls NRST (a pin reset), 'system' sets SYSRESETREQ (a software reset). */
  reset(kind: DebugResetKind = 'hardware'): void {
    this.checkAccess();
    const cause: ResetCause = kind === 'hardware' ? 'pin' : 'software';
    this.mcu.reset(cause);
  }

  /** Programs user flash through the flash interface; returns the busy time in ms. */
  programFlash(address: number, bytes: Uint8Array): number {
    this.checkAccess();
    this.checkFlashAccess(address);
    return this.mcu.flash.program(address, bytes).durationMs;
  }

  /** Erases both banks; returns the busy time in ms. */
  massErase(): number {
    this.checkAccess();
    this.checkFlashAccess(this.mcu.flash.base);
    return this.mcu.flash.massErase().durationMs;
  }

  private registers(address: number, length: number, read: (at: number) => number): Uint8Array {
    if (length === 0 || length % 4 !== 0 || address % 4 !== 0) throw new BusFaultError(address, 'registers are read as whole, aligned 32-bit words');
    const out = new Uint8Array(length);
    const view = new DataView(out.buffer);
    for (let i = 0; i < length; i += 4) view.setUint32(i, read(address + i) >>> 0, true);
    return out;
  }

  private checkAccess(): void {
    if (!this.mcu.isPowered) throw new DebugAccessError('the target has no power', 'Power the board on before connecting the probe.');
    const trouble = this.mcu.cm7Trouble;
    if (trouble?.kind === 'supply') {
      throw new DebugAccessError(`the target is not responding: ${trouble.description}`,
        'Power the board with BOOT0 high, enter the ROM bootloader and mass-erase (or connect under reset), then flash firmware that sets the supply the board is wired for.');
    }
    if (this.optionBytes.rdpLevel() === 2) {
      throw new DebugAccessError('the debug port is disabled: RDP level 2', 'Level 2 is irreversible; the chip can no longer be debugged.');
    }
  }

  private checkFlashAccess(address: number): void {
    if (this.optionBytes.rdpLevel() === 1) {
      throw new BusFaultError(address, 'user flash is read-protected (RDP level 1) while a debugger is connected',
        'Regress to RDP level 0 (Read Unprotect), which mass-erases the flash.');
    }
  }
}
