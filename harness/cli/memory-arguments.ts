// Addresses and byte counts as a person types them at a bench: `0x08020000`, `131072`, `128K`.
import { CliUsageError } from './usage-error.js';

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 * 1024 };

function parseNumber(text: string): number | undefined {
  const m = /^(0x[0-9a-f]+|\d+)([km]?)$/i.exec(text.trim());
  if (!m) return undefined;
  const digits = m[1]!;
  const value = (/^0x/i.test(digits) ? Number.parseInt(digits.slice(2), 16) : Number.parseInt(digits, 10)) * UNITS[m[2]!.toUpperCase()]!;
  return Number.isSafeInteger(value) ? value : undefined;
}

/** An address: hex with 0x, as ST's documents write them, or decimal. */
export function parseAddress(text: string, what = 'address'): number {
  const value = /[km]$/i.test(text.trim()) ? undefined : parseNumber(text);
  if (value === undefined || value > 0xffff_ffff) {
    throw new CliUsageError(`"${text}" is not an ${what}`, 'Give a 32-bit address in hex, e.g. 0x08020000 (bank 1 starts at 0x08000000, bank 2 at 0x08100000).');
  }
  return value;
}

/** A byte count: decimal, hex with 0x, or with K or M for 1024 or 1024² (128K, 2M). */
export function parseLength(text: string, what = 'length'): number {
  const value = parseNumber(text);
  if (value === undefined || value === 0 || value > 0x1_0000_0000) {
    throw new CliUsageError(`"${text}" is not a ${what}`, 'Give a number of bytes greater than 0: 1024, 0x400, 128K (K = 1024) or 2M.');
  }
  return value;
}

/** "128 KiB", "2 MiB", "1000 bytes". */
export function formatSize(bytes: number): string {
  if (bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0) return `${bytes / (1024 * 1024)} MiB`;
  if (bytes >= 1024 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes} byte${bytes === 1 ? '' : 's'}`;
}
