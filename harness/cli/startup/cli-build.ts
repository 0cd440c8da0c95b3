// The CLI compiled once, so that `dfu-hil` starts without compiling TypeScript on every run:
// esbuild bundles harness/cli/main.ts and what it imports, npm packages included, into plain
// JavaScript (one chunk per lazily loaded command). Node resolves and compiles a few dozen files
// instead of several hundred, which is most of what a command on a simulated rig costs. Packages
// with native code stay in node_modules. `npm install` builds it (the `prepare` script) into a
// git-ignored folder; bin/dfu-hil.js uses it while every source it was built from is unchanged,
// and the TypeScript through tsx otherwise.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Plugin } from 'esbuild';

/** Version of {@link CliBuildManifest}; bin/dfu-hil.js ignores a build of another format. */
export const CLI_BUILD_FORMAT = 1;

/** Where `npm install` puts the build, relative to the project. */
export const DEFAULT_CLI_BUILD_DIR = path.join('node_modules', '.cache', 'dfu-hil', 'cli');

/** Packages with native code (libusb, the serial port bindings): loaded from node_modules, never bundled. */
const NATIVE_PACKAGES = ['usb', 'serialport', '@serialport/*'];

/**
 * Bundled CommonJS packages call `require` for Node's own modules; an ES module has none, so
 * every chunk gets one.
 */
const REQUIRE_SHIM = 'import { createRequire as __dfuHilCreateRequire } from \'node:module\'; const require = __dfuHilCreateRequire(import.meta.url);';

/** The file beside the build that says what it was built from (read by bin/dfu-hil.js). */
export const CLI_BUILD_MANIFEST = 'build.json';

/** What a build was made from: bin/dfu-hil.js trusts it only while all of it is unchanged. */
export interface CliBuildManifest {
  format: number;
  /** The project folder it was built in: a moved or copied project starts from the TypeScript. */
  root: string;
  /** The module to import, relative to the build folder; it exports `main(argv)`. */
  entry: string;
  /** Every source bundled, relative to `root`, with its mtime when built (-1: it changed while building). */
  inputs: Record<string, number>;
  /**
   * Every package bundled, by its folder relative to `root`, with its version: a build of other
   * versions is not current (npm gives package files the same mtime whatever their version).
   */
  packages: Record<string, string>;
}

/** The folder of the package an input from node_modules belongs to: node_modules/a, node_modules/@s/b, node_modules/a/node_modules/c. */
function packageFolder(input: string): string {
  const parts = input.split('/');
  const last = parts.lastIndexOf('node_modules');
  return parts.slice(0, last + (parts[last + 1]?.startsWith('@') ? 3 : 2)).join('/');
}

/** Options of {@link buildCli}. */
export interface CliBuildOptions {
  /** The project folder (package.json, harness/). */
  root: string;
  /** Where the build goes; default {@link DEFAULT_CLI_BUILD_DIR} under `root`. */
  outDir?: string;
}

/** What {@link buildCli} made. */
export interface CliBuildReport {
  outDir: string;
  inputs: number;
  outputs: number;
}

/**
 * A module's own location, as the source has it: code that finds files beside itself (the
 * firmware images, the USB emulation's C sources) must find them from the bundle too.
 */
function keepModuleLocations(root: string): Plugin {
  return {
    name: 'dfu-hil-module-locations',
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (!args.path.startsWith(root) || args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const text = await readFile(args.path, 'utf8');
        return { contents: text.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'ts' };
      });
    },
  };
}

/** Builds the CLI into `outDir` (replacing what was there) and writes its manifest. */
export async function buildCli(options: CliBuildOptions): Promise<CliBuildReport> {
  const root = path.resolve(options.root);
  const outDir = path.resolve(root, options.outDir ?? DEFAULT_CLI_BUILD_DIR);
  // Built beside the old build and swapped in at the end: a dfu-hil starting meanwhile sees one or the other.
  const staging = `${outDir}.build-${process.pid}`;
  await rm(staging, { recursive: true, force: true });
  await mkdir(staging, { recursive: true });
  const { build } = await import('esbuild');
  const started = Date.now();
  try {
    const result = await build({
      absWorkingDir: root,
      entryPoints: { main: 'harness/cli/main.ts' },
      outdir: staging,
      bundle: true,
      splitting: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      external: NATIVE_PACKAGES,
      banner: { js: REQUIRE_SHIM },
      // Less to parse at every start (about a tenth of a status on a simulated rig); names stay,
      // and `node --enable-source-maps` maps a stack trace back to the TypeScript.
      minifyWhitespace: true,
      minifySyntax: true,
      sourcemap: 'linked',
      metafile: true,
      logLevel: 'silent',
      plugins: [keepModuleLocations(root)],
    });
    const inputs: Record<string, number> = {};
    const packages: Record<string, string> = {};
    for (const input of Object.keys(result.metafile.inputs)) {
      if (input.includes('node_modules/')) {
        const folder = packageFolder(input);
        packages[folder] ??= (JSON.parse(await readFile(path.join(root, folder, 'package.json'), 'utf8')) as { version: string }).version;
        continue;
      }
      const { mtimeMs } = await stat(path.join(root, input));
      inputs[input] = mtimeMs > started ? -1 : mtimeMs;
    }
    const manifest: CliBuildManifest = { format: CLI_BUILD_FORMAT, root, entry: 'main.js', inputs, packages };
    await writeFile(path.join(staging, CLI_BUILD_MANIFEST), `${JSON.stringify(manifest, null, 1)}\n`);
    await rm(outDir, { recursive: true, force: true });
    await rename(staging, outDir);
    return { outDir, inputs: Object.keys(inputs).length, outputs: Object.keys(result.metafile.outputs).length };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}
