// Reading a capture back with Wireshark's tshark (Debian `tshark`), to check what Wireshark's
// dissectors make of the captures the report attaches.
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';

/** tshark's path on PATH, or undefined when it is not installed. */
export function findTshark(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return (env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, 'tshark')).find((p) => existsSync(p));
}

/** What to read from a capture. */
export interface TsharkQuery {
  /** A display filter (`-Y`). */
  filter?: string;
  /** Field names (`-e`), one column each. */
  fields: readonly string[];
  /** "Decode As" rules (`-d`), e.g. `usb.product==0x0483df11,usbdfu`. */
  decodeAs?: readonly string[];
}

/** One row per packet the filter keeps: field name → value ('' when the packet has none). */
export async function tsharkFields(tshark: string, file: string, query: TsharkQuery): Promise<Record<string, string>[]> {
  const args = ['-r', file, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f'];
  for (const rule of query.decodeAs ?? []) args.push('-d', rule);
  if (query.filter) args.push('-Y', query.filter);
  for (const field of query.fields) args.push('-e', field);
  // Preferences and profiles of the user running the tests must not change what is decoded.
  const { stdout } = await execa(tshark, args, { env: { WIRESHARK_CONFIG_DIR: '/nonexistent' }, stdin: 'ignore' });
  return stdout.split('\n').filter((line) => line !== '').map((line) => {
    const values = line.split('\t');
    return Object.fromEntries(query.fields.map((f, i) => [f, values[i] ?? '']));
  });
}
