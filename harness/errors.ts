/**
 * The root of every error dfu-hil throws on purpose. `code` is stable for scripts; `hint`
 * tells the person at the bench what to do next.
 */
export class DfuHilError extends Error {
  readonly code: string;
  readonly hint: string | undefined;

  constructor(code: string, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

/** Formats an address the way ST documents do: 0x08100000. */
export function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}
