import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { parse } from 'yaml';
import { defineConfig } from 'vitest/config';

/** A rig of rigs.yaml as far as choosing its specs goes. */
interface HilRig {
  name: string;
  /** Specs it runs: every spec, or (a simulated rig booting firmware of its own, in the default run) only its own-firmware specs. */
  include: string[];
  /** A simulated board lives in the worker that opens it: each worker has its own, so spec files may run side by side. */
  simulated: boolean;
}

const ALL_SPECS = ['specs/**/*.spec.ts'];
/**
 * A simulated rig that boots a team's own image speaks no test-application console: nearly every
 * spec skips on it, and each skip still costs a restore of its reference image. In the default
 * run it runs the specs written for such firmware; `RIG=<rig>` runs every spec on it.
 */
const OWN_FIRMWARE_SPECS = ['specs/own-firmware*.spec.ts'];

/**
 * The rigs the HIL specs run against: `RIG` alone when set (a bench board, say), else
 * `HIL_RIGS` (comma-separated), else every simulated rig in rigs.yaml, so each simulated
 * bootloader profile runs the whole suite.
 */
function hilRigs(): HilRig[] {
  type Described = { kind?: string; firmware?: { console?: boolean } };
  let rigs: Record<string, Described> = {};
  let fallback = 'default';
  try {
    const doc = parse(readFileSync(process.env.DFU_HIL_RIGS ?? 'rigs.yaml', 'utf8')) as { default?: string; rigs?: Record<string, Described> };
    rigs = doc.rigs ?? {};
    fallback = doc.default ?? fallback;
  } catch {
    // A broken rigs.yaml is reported by the rig fixture with the file, key and expected form.
  }
  const ownFirmware = (rig: Described | undefined): boolean => rig?.firmware !== undefined && rig.firmware.console !== true;
  const of = (name: string): HilRig => ({ name, include: ownFirmware(rigs[name]) ? OWN_FIRMWARE_SPECS : ALL_SPECS, simulated: rigs[name]?.kind === 'sim' });
  if (process.env.RIG) return [{ ...of(process.env.RIG), include: ALL_SPECS }];
  if (process.env.HIL_RIGS) return process.env.HIL_RIGS.split(',').map((r) => r.trim()).filter(Boolean).map(of);
  const sims = Object.entries(rigs).filter(([, r]) => r.kind === 'sim').map(([name]) => name);
  return (sims.length > 0 ? sims : [fallback]).map(of);
}

/** True when `file` runs and exits 0 (a tool the USB emulation needs is installed). */
function commandWorks(file: string, args: readonly string[]): boolean {
  try {
    return spawnSync(file, args, { stdio: 'ignore', timeout: 10_000 }).status === 0;
  } catch {
    return false;
  }
}

/**
 * umockdev's preload library, when the USB emulation can run here: the `usb:<rig>` projects run
 * the specs with the harness's real libusb transport against the simulated board through it. It
 * needs umockdev (its preload library and its development files, found by pkg-config) and a C
 * compiler to build the bridge on first use. Without them the projects are left out, and
 * harness/usb-emulation's interop tests say why they were skipped.
 */
function umockdevPreload(): string | undefined {
  if (process.platform !== 'linux' || process.env.DFU_HIL_NO_USB_EMULATION) return undefined;
  const library = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib']
    .map((dir) => `${dir}/libumockdev-preload.so.0`)
    .find((lib) => existsSync(lib));
  if (!library) return undefined;
  if (!commandWorks('pkg-config', ['--exists', 'umockdev-1.0']) || !commandWorks(process.env.CC ?? 'gcc', ['--version'])) return undefined;
  return library;
}

/** Simulated rigs run over the emulated USB: `USB_RIGS` (comma-separated), else the first simulated rig. */
function usbRigs(): string[] {
  if (process.env.RIG) return [];
  if (process.env.USB_RIGS !== undefined) return process.env.USB_RIGS.split(',').map((r) => r.trim()).filter(Boolean);
  return hilRigs().slice(0, 1).map((r) => r.name);
}

const preload = umockdevPreload();

// Test files use every core: vitest's default leaves one free, which on a two-core machine is
// one worker for the whole run. A simulated board lives in the worker that opens it, so a
// simulated rig's spec files may run side by side, each worker with its own board. A board on a
// bench is one: its spec files run one after another in one worker, as a second group once the
// rest is done (vitest runs a group's projects with one worker count).
const WORKERS = Math.max(2, availableParallelism());

/** How a rig's spec files share workers: side by side on a simulated rig, one after another on a bench. */
function rigWorkers(simulated: boolean) {
  return simulated
    ? { maxWorkers: WORKERS }
    : { fileParallelism: false, sequence: { groupOrder: 1 } };
}

// Tests of the HIL fixtures themselves: each points the rig fixture at a rigs file of its own
// through the environment, so each needs a module graph of its own.
const ISOLATED_UNIT_TESTS = ['fixtures/hil-*.test.ts'];

// `unit`: harness/**/*.test.ts next to the code. `hil:<rig>`: specs/ against that rig.
// Allure results of this run go to allure-results/, written as each test ends; earlier runs are
// moved to allure-runs/ (`npm run report` renders a run). The skipped tests and why are listed last.
export default defineConfig({
  test: {
    reporters: [
      'default',
      ['./harness/report/allure-live-reporter.ts', {
        resultsDir: process.env.DFU_HIL_RESULTS_DIR ?? 'allure-results', archiveDir: process.env.DFU_HIL_RUNS_DIR ?? 'allure-runs',
      }],
      './harness/report/skip-summary.ts',
    ],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['harness/**/*.test.ts', 'fixtures/**/*.test.ts', 'bench/**/*.test.ts', 'firmware-images/**/*.test.ts'],
          exclude: [...ISOLATED_UNIT_TESTS, '**/node_modules/**', '**/testdata/**'],
          // Unit test files share a worker's module graph: none keeps state across files, and a
          // fresh graph per file cost more than the tests themselves.
          isolate: false,
          maxWorkers: WORKERS,
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'unit:fixtures',
          include: ISOLATED_UNIT_TESTS,
          setupFiles: ['fixtures/hil-hooks.ts'],
          maxWorkers: WORKERS,
          testTimeout: 30_000,
        },
      },
      ...hilRigs().map(({ name: rig, include, simulated }) => ({
        test: {
          name: `hil:${rig}`,
          include,
          env: { RIG: rig },
          // The bench is checked once, before any spec (an unfit one fails one check, not every spec).
          globalSetup: ['fixtures/rig-health-setup.ts'],
          setupFiles: ['fixtures/hil-hooks.ts'],
          // A worker keeps its rig across spec files (the fixtures restore its reference state
          // before each test); a bench's files run one after another (rigWorkers).
          ...rigWorkers(simulated),
          isolate: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      })),
      ...(preload ? usbRigs() : []).map((rig) => ({
        test: {
          name: `usb:${rig}`,
          include: ['specs/**/*.spec.ts'],
          // The worker must start under the preload library: libusb cannot be redirected later.
          env: { RIG: rig, DFU_HIL_SIM_USB: 'umockdev', LD_PRELOAD: preload! },
          globalSetup: ['fixtures/rig-health-setup.ts'],
          setupFiles: ['fixtures/hil-hooks.ts'],
          // Each worker runs under its own umockdev testbed with its own simulated board.
          ...rigWorkers(true),
          isolate: false,
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      })),
    ],
  },
});
