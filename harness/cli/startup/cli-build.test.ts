// The compiled CLI: bin/dfu-hil.js starts it while it matches the sources, it behaves as the
// TypeScript does (files found beside the sources included), and anything it was not built from
// sends the launcher back to the TypeScript.
import { execa } from 'execa';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../rig/reference-images.js';
import { buildCli, CLI_BUILD_MANIFEST, type CliBuildManifest } from './cli-build.js';

const BIN = path.join(REPO_ROOT, 'bin', 'dfu-hil.js');
const RIGS = 'default: sim-a\nrigs:\n  sim-a:\n    kind: sim\n    probe: { tool: st-flash }\n';

// Inside the project, as the real build is: the packages left out of the bundle resolve from there.
const buildDir = path.join(REPO_ROOT, 'node_modules', '.cache', 'dfu-hil', `test-build-${randomUUID()}`);
let project: string;
let manifest: CliBuildManifest;

beforeAll(async () => {
  await buildCli({ root: REPO_ROOT, outDir: buildDir });
  manifest = JSON.parse(await readFile(path.join(buildDir, CLI_BUILD_MANIFEST), 'utf8')) as CliBuildManifest;
  project = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-build-'));
  await writeFile(path.join(project, 'rigs.yaml'), RIGS);
}, 120_000);

afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true });
  await rm(project, { recursive: true, force: true });
});

const run = (argv: readonly string[], build = buildDir) => execa(process.execPath, [BIN, ...argv], {
  cwd: project, reject: false, timeout: 60_000,
  env: { DFU_HIL_CLI_BUILD: build, DFU_HIL_DEBUG_START: '1', DFU_HIL_STATE_DIR: path.join(project, 'state') },
});

async function withManifest(change: (m: CliBuildManifest) => CliBuildManifest): Promise<string> {
  await writeFile(path.join(buildDir, CLI_BUILD_MANIFEST), JSON.stringify(change(structuredClone(manifest))));
  return (await run(['--version'])).stderr;
}

describe('the compiled CLI', () => {
  it('lists every source it was built from, and the bundled packages with their versions', () => {
    expect(manifest.root).toBe(REPO_ROOT);
    expect(manifest.inputs['harness/cli/main.ts']).toBeGreaterThan(0);
    expect(manifest.inputs['harness/cli/commands/read.ts']).toBeGreaterThan(0);
    expect(Object.keys(manifest.inputs).some((i) => i.includes('node_modules'))).toBe(false);
    expect(manifest.packages['node_modules/commander']).toMatch(/^\d+\.\d+\.\d+/);
    // Native code is never bundled.
    expect(Object.keys(manifest.packages).filter((p) => /\/(usb|serialport|@serialport\/[^/]+)$/.test(p))).toEqual([]);
  });

  it('starts from the build and runs a command on a simulated rig, with the committed firmware found beside the sources', async () => {
    const version = await run(['--version']);
    expect(version.stdout).toBe('0.1.0');
    expect(version.stderr).toBe(`dfu-hil: started from the build in ${buildDir}`);

    const status = await run(['--json', 'status']);
    expect(status.exitCode, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ rig: 'sim-a', running: 'application', application: { name: 'dfu-hil-testapp', version: '1.0.0' } });
    // The board was programmed from firmware-images/, not with the synthetic stand-ins used when those are not found.
    const read = await run(['read', '0x08000000', '2K', '-o', 'app.bin']);
    expect(read.exitCode, read.stderr).toBe(0);
    const committed = await readFile(path.join(REPO_ROOT, 'firmware-images', 'images', 'testapp-1.0.0.bin'));
    expect(Buffer.compare(await readFile(path.join(project, 'app.bin')), committed.subarray(0, 2048))).toBe(0);
  }, 60_000);

  it('goes back to the TypeScript for a changed source, another package version, another project, or no build', async () => {
    expect(await withManifest((m) => ({ ...m, inputs: { ...m.inputs, 'harness/cli/main.ts': 1 } })))
      .toBe('dfu-hil: started from the TypeScript: harness/cli/main.ts changed since the build (npm run build:cli rebuilds it)');
    expect(await withManifest((m) => ({ ...m, packages: { ...m.packages, 'node_modules/commander': '0.0.1' } })))
      .toBe(`dfu-hil: started from the TypeScript: node_modules/commander is ${manifest.packages['node_modules/commander']}, the build has 0.0.1 (npm run build:cli rebuilds it)`);
    expect(await withManifest((m) => ({ ...m, root: '/elsewhere' })))
      .toBe(`dfu-hil: started from the TypeScript: the build in ${buildDir} was made for /elsewhere`);
    const none = await run(['--version'], 'none');
    expect(none.stdout).toBe('0.1.0');
    expect(none.stderr).toBe('dfu-hil: started from the TypeScript: DFU_HIL_CLI_BUILD=none');
    const missing = path.join(buildDir, 'nothing-here');
    expect((await run(['--version'], missing)).stderr).toBe(`dfu-hil: started from the TypeScript: no build in ${missing} (npm run build:cli makes one)`);
  }, 60_000);
});
