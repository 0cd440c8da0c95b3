// Finds umockdev on this machine and builds the bridge program against it. The bridge is C
// because umockdev's ioctl handler API is a C (GObject) library; it is compiled here, from the
// source in this folder, the first time it is needed, and cached by the hash of its source.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { UMOCKDEV_INSTALL_HINT, UsbEmulationError } from './errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BRIDGE_SOURCE = path.join(here, 'umockdev-bridge.c');
const PROJECT_ROOT = path.resolve(here, '..', '..');

/** What running the emulation needs: the bridge executable and umockdev's preload library. */
export interface UmockdevTools {
  bridge: string;
  preloadLibrary: string;
  umockdevVersion: string;
}

/** Either the tools, or why the emulation cannot run here. */
export type UmockdevSupport = ({ available: true } & UmockdevTools) | { available: false; reason: string };

async function output(file: string, args: string[]): Promise<string | undefined> {
  const result = await execa(file, args, { reject: false, timeout: 60_000 });
  return result.exitCode === 0 ? result.stdout.trim() : undefined;
}

/** Options of {@link findUmockdevSupport}. */
export interface UmockdevSupportOptions {
  /** Where built bridges are kept; default node_modules/.cache/dfu-hil in the project. */
  cacheDir?: string;
}

/** Checks for umockdev, its preload library and a compiler, and builds the bridge if needed. */
export async function findUmockdevSupport(options: UmockdevSupportOptions = {}): Promise<UmockdevSupport> {
  if (process.platform !== 'linux') return { available: false, reason: 'USB emulation uses umockdev, which exists only on Linux' };
  const version = await output('pkg-config', ['--modversion', 'umockdev-1.0']).catch(() => undefined);
  if (!version) return { available: false, reason: `umockdev's development files were not found by pkg-config. ${UMOCKDEV_INSTALL_HINT}` };
  const libdir = await output('pkg-config', ['--variable=libdir', 'umockdev-1.0']);
  const preloadLibrary = [libdir, '/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib']
    .filter((d): d is string => Boolean(d))
    .map((d) => path.join(d, 'libumockdev-preload.so.0'))
    .find((p) => existsSync(p));
  if (!preloadLibrary) return { available: false, reason: `umockdev's preload library (libumockdev-preload.so.0) is missing. ${UMOCKDEV_INSTALL_HINT}` };
  try {
    const bridge = await buildBridge(options.cacheDir ?? path.join(PROJECT_ROOT, 'node_modules', '.cache', 'dfu-hil'), version);
    return { available: true, bridge, preloadLibrary, umockdevVersion: version };
  } catch (error) {
    return { available: false, reason: (error as Error).message };
  }
}

/** Like {@link findUmockdevSupport}, but throws a {@link UsbEmulationError} saying what to install. */
export async function requireUmockdev(options: UmockdevSupportOptions = {}): Promise<UmockdevTools> {
  const support = await findUmockdevSupport(options);
  if (!support.available) throw new UsbEmulationError(`USB emulation is not available: ${support.reason}`, { hint: UMOCKDEV_INSTALL_HINT });
  return support;
}

/** Compares a dotted version with `[major, minor, patch]`. */
export function versionAtLeast(version: string, wanted: readonly number[]): boolean {
  const parts = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  for (let i = 0; i < wanted.length; i++) {
    const have = parts[i] ?? 0;
    if (have !== wanted[i]) return have > wanted[i]!;
  }
  return true;
}

async function buildBridge(cacheDir: string, umockdevVersion: string): Promise<string> {
  const source = await readFile(BRIDGE_SOURCE);
  const key = createHash('sha256').update(source).update(umockdevVersion).update(process.arch).digest('hex').slice(0, 16);
  const target = path.join(cacheDir, `umockdev-bridge-${key}`);
  if (existsSync(target)) return target;
  await mkdir(cacheDir, { recursive: true });
  const flags = await output('pkg-config', ['--cflags', '--libs', 'umockdev-1.0']);
  if (flags === undefined) throw new UsbEmulationError(`pkg-config cannot give umockdev's compiler flags. ${UMOCKDEV_INSTALL_HINT}`);
  // Built beside the target and renamed, so parallel test workers never run a half-written file.
  const partial = `${target}.${process.pid}.tmp`;
  const cc = process.env.CC ?? 'gcc';
  const defines = versionAtLeast(umockdevVersion, [0, 18, 4]) ? ['-DUMOCKDEV_SENDS_REMOVE_UEVENT'] : [];
  const result = await execa(cc, ['-O2', '-Wall', ...defines, '-o', partial, BRIDGE_SOURCE, ...flags.split(/\s+/).filter(Boolean), '-lpthread'], { reject: false, timeout: 120_000 });
  if (result.exitCode !== 0) {
    await rm(partial, { force: true });
    const why = (result as { code?: string }).code === 'ENOENT' ? `no C compiler (${cc}) on PATH` : `${cc} failed:\n${result.stderr}`;
    throw new UsbEmulationError(`cannot build the umockdev bridge: ${why}`, { hint: UMOCKDEV_INSTALL_HINT });
  }
  await rename(partial, target);
  return target;
}
