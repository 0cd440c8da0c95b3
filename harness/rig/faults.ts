// Faults a spec can arm on rigs that can inject them (the simulated rig). Named for what goes
// wrong on a bench, not for how the simulator does it, so specs stay transport-free.

/** DFU requests a fault can target, by their DFU 1.1 names. */
export type DfuRequestName = 'DETACH' | 'DNLOAD' | 'UPLOAD' | 'GETSTATUS' | 'CLRSTATUS' | 'GETSTATE' | 'ABORT';

/** An armed fault: whether it fired, and a way to stop it. */
export interface ArmedFault {
  readonly description: string;
  readonly fired: boolean;
  disarm(): void;
}

/** What can be made to go wrong, deliberately. */
export interface RigFaults {
  /** The device drops off the bus right after the zero-length DNLOAD of leave, before GETSTATUS. */
  leaveRace(): ArmedFault;
  /** The nth `request` (default the next) is answered with an EP0 STALL; `times` STALLs from there (default 1). */
  stall(request: DfuRequestName, nth?: number, times?: number): ArmedFault;
  /** The first GETSTATUS after a DfuSe command stalls (the STM32L4/F4 ROM behaviour). */
  stallFirstStatusAfterCommand(): ArmedFault;
  /** The device leaves the bus at the nth `request`; it comes back after `reattachAfterMs` if given. */
  disconnectAt(request: DfuRequestName, nth?: number, reattachAfterMs?: number): ArmedFault;
  /** Erases report `reportMs` as bwPollTimeout while really taking `busyMs`. */
  lyingPollTimeout(reportMs: number, busyMs?: number): ArmedFault;
  /** Power is lost after `bytes` more bytes have been programmed: a sector is left half written. */
  powerLossAfterBytes(bytes: number): ArmedFault;
  /** Garbage on the console line, now (without a line end it runs into the next line). */
  consoleNoise(text: string): void;
  /** Garbage on the console line at every reset, before the application prints anything (a UART waking up). */
  consoleNoiseAtReset(text: string): void;
  /** Every later bootloader enumeration takes `extraMs` longer (a slow host or hub). */
  slowReEnumeration(extraMs: number): void;
  /** The board loses power `afterMs` from now (its clock), whatever it is doing. */
  powerLossIn(afterMs: number): ArmedFault;
  /** The board is reset (NRST) `afterMs` from now (its clock), whatever it is doing. */
  resetIn(afterMs: number): ArmedFault;
  /** Disarms everything armed so far. */
  clear(): void;
}
