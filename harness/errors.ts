/**
 * How a failure counts, the way long-running labs count them (LAVA's InfrastructureError vs
 * TestError): `infrastructure`, the bench failed (its config, lock, console port, USB access, a
 * probe or tool): retry or quarantine it, do not blame the firmware; `test`, the board did
 * something wrong: a finding; `capability`, this rig cannot run the check at all: skip it, with
 * the reason; `usage`, the request was refused before anything reached the board (a bad
 * argument, an image that cannot be read or placed, a safety rule).
 */
export type FailureClass = 'infrastructure' | 'test' | 'capability' | 'usage';

/** Options every {@link DfuHilError} takes. */
export interface DfuHilErrorOptions {
  hint?: string | undefined;
  cause?: unknown;
  /** How the failure counts; default `test`: infrastructure is claimed only where it is certain. */
  failureClass?: FailureClass;
}

/**
 * The root of every error dfu-hil throws on purpose. `code` is stable for scripts; `hint`
 * tells the person at the bench what to do next; `failureClass` says how the failure counts.
 */
export class DfuHilError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly failureClass: FailureClass;

  constructor(code: string, message: string, options: DfuHilErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
    this.failureClass = options.failureClass ?? 'test';
  }
}

/** Formats an address the way ST documents do: 0x08100000. */
export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}
