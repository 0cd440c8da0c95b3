// For the CLI's tests: a throw-away project folder with a rigs.yaml, fresh for every test, and
// `dfu-hil` run in it in-process with the real services (synthetic reference images).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import { syntheticReferenceImages } from '../../rig/reference-images.js';
import type { CliServices } from '../context.js';
import { runCli } from '../main.js';
import { defaultCliServices } from '../services.js';

/** What one run printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** The folder of the current test and a way to run dfu-hil in it. */
export interface CliProject {
  /** The project folder; rigs.yaml is in it. */
  readonly dir: string;
  /** DFU_HIL_STATE_DIR of the runs (not created until a command saves a board). */
  readonly stateDir: string;
  /** Runs `dfu-hil argv`, with more environment or other services if given. */
  run(argv: readonly string[], options?: { env?: Record<string, string>; services?: CliServices }): Promise<CliRun>;
}

/** Services of the installed command, on synthetic images. */
export const testCliServices = (): CliServices => defaultCliServices({ images: async () => syntheticReferenceImages() });

/** Registers a fresh project with `rigs` as its rigs.yaml around every test of the file. */
export function useCliProject(rigs: string): CliProject {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dfu-hil-cli-'));
    await writeFile(path.join(dir, 'rigs.yaml'), rigs);
  });
  afterEach(async () => { await rm(dir, { recursive: true, force: true }); });
  return {
    get dir() { return dir; },
    get stateDir() { return path.join(dir, 'state'); },
    async run(argv, options = {}) {
      let stdout = '';
      let stderr = '';
      const code = await runCli(argv, {
        stdout: { write: (t: string) => { stdout += t; } },
        stderr: { write: (t: string) => { stderr += t; } },
        env: { DFU_HIL_STATE_DIR: path.join(dir, 'state'), ...options.env },
        cwd: dir,
      }, options.services ?? testCliServices());
      return { code, stdout, stderr };
    },
  };
}
