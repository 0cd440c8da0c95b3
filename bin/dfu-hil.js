#!/usr/bin/env node
// `npx dfu-hil ...`. Starts the CLI from its build (node_modules/.cache/dfu-hil/cli/, made by
// `npm install` through the `prepare` script, or `npm run build:cli`) while every source it was
// built from is unchanged; otherwise, or without a build, from the TypeScript through tsx, which
// compiles on every start. DFU_HIL_CLI_BUILD names another build folder, or `none` for the
// TypeScript; DFU_HIL_DEBUG_START=1 says on stderr which one started and why.
import { readFileSync, statSync } from 'node:fs';
import module from 'node:module';
import path from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = path.resolve(root, process.env.DFU_HIL_CLI_BUILD || path.join('node_modules', '.cache', 'dfu-hil', 'cli'));

/** The build's entry module, or why the build cannot be used (see harness/cli/startup/cli-build.ts). */
function currentBuild() {
  if (process.env.DFU_HIL_CLI_BUILD === 'none') return { why: 'DFU_HIL_CLI_BUILD=none' };
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(path.join(buildDir, 'build.json'), 'utf8'));
  } catch {
    return { why: `no build in ${buildDir} (npm run build:cli makes one)` };
  }
  if (manifest.format !== 1 || manifest.root !== root) return { why: `the build in ${buildDir} was made for ${manifest.root}` };
  for (const [input, mtimeMs] of Object.entries(manifest.inputs)) {
    let now;
    try {
      now = statSync(path.join(root, input)).mtimeMs;
    } catch {
      now = undefined;
    }
    if (now !== mtimeMs) return { why: `${input} changed since the build (npm run build:cli rebuilds it)` };
  }
  for (const [folder, version] of Object.entries(manifest.packages)) {
    let now;
    try {
      now = JSON.parse(readFileSync(path.join(root, folder, 'package.json'), 'utf8')).version;
    } catch {
      now = undefined;
    }
    if (now !== version) return { why: `${folder} is ${now ?? 'gone'}, the build has ${version} (npm run build:cli rebuilds it)` };
  }
  return { entry: path.join(buildDir, manifest.entry) };
}

// Node 22.1 and later keep compiled code between runs; Node 20 has no such cache and goes on without.
module.enableCompileCache?.(path.join(root, 'node_modules', '.cache', 'dfu-hil', 'compile-cache'));

const debug = process.env.DFU_HIL_DEBUG_START === '1';
const build = currentBuild();
let cli;
if (build.entry) {
  try {
    cli = await import(pathToFileURL(build.entry).href);
    if (debug) process.stderr.write(`dfu-hil: started from the build in ${buildDir}\n`);
  } catch (error) {
    build.why = `the build in ${buildDir} does not load: ${error.message}`;
  }
}
if (!cli) {
  if (debug) process.stderr.write(`dfu-hil: started from the TypeScript: ${build.why}\n`);
  const { register } = await import('tsx/esm/api');
  register();
  cli = await import('../harness/cli/main.ts');
}
process.exitCode = await cli.main(process.argv.slice(2));
