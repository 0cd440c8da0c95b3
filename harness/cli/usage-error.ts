import { DfuHilError } from '../errors.js';

/** A usage mistake found after parsing (a bad address, an unknown entry method). */
export class CliUsageError extends DfuHilError {
  constructor(message: string, hint: string) {
    super('cli-usage', message, { hint, failureClass: 'usage' });
  }
}
