// Memory figures are taken in a child process of their own, bundled with esbuild and run by plain
// Node: neither tsx's loader nor the benchmark runner's heap then blurs them.
import { build } from 'esbuild';
import { execa } from 'execa';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Set in the child: the repository's root, which a bundle in node_modules/.cache cannot find from its own address. */
export const BENCH_ROOT_ENV = 'DFU_HIL_BENCH_ROOT';

/** Bundles bench/`entry` into the repository's node_modules cache (where its packages resolve), runs it with `args`, and parses its last stdout line as JSON. */
export async function runBundledChild<T>(entry: string, args: readonly string[] = [], nodeFlags: readonly string[] = []): Promise<{ ok: true; value: T } | { ok: false; reason: string }> {
  const dir = path.join(here, '..', 'node_modules', '.cache', 'dfu-hil', 'bench');
  await mkdir(dir, { recursive: true });
  const outfile = path.join(dir, entry.replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [path.join(here, entry)], outfile, bundle: true, platform: 'node', format: 'esm',
    target: 'node20', packages: 'external', logLevel: 'silent',
  });
  const child = await execa(process.execPath, [...nodeFlags, outfile, ...args], { reject: false, env: { [BENCH_ROOT_ENV]: path.resolve(here, '..') } });
  if (child.exitCode !== 0) return { ok: false, reason: child.stderr.split('\n').slice(-3).join(' ') };
  return { ok: true, value: JSON.parse(child.stdout.trim().split('\n').pop()!) as T };
}
