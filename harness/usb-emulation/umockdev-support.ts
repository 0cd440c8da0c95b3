// Finds umockdev on this machine and builds the bridge program against it. The bridge is C
// because umockdev's ioctl handler API is a C (GObject) library; it is compiled here, from the
// source in this folder, the first time it is needed, and cached by the hash of its source. So
// is the small usbfs seek shim that programs opening device nodes themselves (fwupd) need.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { UMOCKDEV_INSTALL_HINT, UsbEmulationError } from './errors.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const BRIDGE_SOURCE = path.join(here, 'umockdev-bridge.c');
const SEEK_SHIM_SOURCE = path.join(here, 'usbfs-seek-shim.c');
const PROJECT_ROOT = path.resolve(here, '..', '..');

/** What running the emulation needs: the bridge executable, umockdev's preload library and the seek shim. */
export interface UmockdevTools {
  bridge: string;
  preloadLibrary: string;
  /** Preloaded after umockdev's library into programs that see the emulated bus (usbfs-seek-shim.c says why). */
  seekShim: string;
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
    const cacheDir = options.cacheDir ?? path.join(PROJECT_ROOT, 'node_modules', '.cache', 'dfu-hil');
    const bridge = await buildBridge(cacheDir, version);
    const seekShim = await buildOnce(cacheDir, SEEK_SHIM_SOURCE, 'usbfs-seek-shim', '.so', version, ['-shared', '-fPIC'], ['-ldl']);
    return { available: true, bridge, preloadLibrary, seekShim, umockdevVersion: version };
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
  const flags = await output('pkg-config', ['--cflags', '--libs', 'umockdev-1.0']);
  if (flags === undefined) throw new UsbEmulationError(`pkg-config cannot give umockdev's compiler flags. ${UMOCKDEV_INSTALL_HINT}`);
  const defines = versionAtLeast(umockdevVersion, [0, 18, 4]) ? ['-DUMOCKDEV_SENDS_REMOVE_UEVENT'] : [];
  return buildOnce(cacheDir, BRIDGE_SOURCE, 'umockdev-bridge', '', umockdevVersion, defines, [...flags.split(/\s+/).filter(Boolean), '-lpthread']);
}

/** Compiles `source` into the cache once per source, umockdev version and architecture; returns the file. */
async function buildOnce(cacheDir: string, source: string, name: string, suffix: string, umockdevVersion: string, before: string[], after: string[]): Promise<string> {
  const text = await readFile(source);
  const key = createHash('sha256').update(text).update(umockdevVersion).update(process.arch).digest('hex').slice(0, 16);
  const target = path.join(cacheDir, `${name}-${key}${suffix}`);
  if (existsSync(target)) return target;
  await mkdir(cacheDir, { recursive: true });
  // Built beside the target and renamed, so parallel test workers never run a half-written file.
  const partial = `${target}.${process.pid}.tmp`;
  const cc = process.env.CC ?? 'gcc';
  const result = await execa(cc, ['-O2', '-Wall', ...before, '-o', partial, source, ...after], { reject: false, timeout: 120_000 });
  if (result.exitCode !== 0) {
    await rm(partial, { force: true });
    const why = (result as { code?: string }).code === 'ENOENT' ? `no C compiler (${cc}) on PATH` : `${cc} failed:\n${result.stderr}`;
    throw new UsbEmulationError(`cannot build ${path.basename(source)} for the USB emulation: ${why}`, { hint: UMOCKDEV_INSTALL_HINT });
  }
  await rename(partial, target);
  return target;
}
