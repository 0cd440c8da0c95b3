import { DfuHilError } from '../../errors.js';

/** Executed mode cannot run here: no libunicorn 2, or the FFI package does not load. */
export class CpuUnavailableError extends DfuHilError {
  constructor(message: string, hint: string) {
    super('sim-cpu-unavailable', message, { hint });
  }
}
