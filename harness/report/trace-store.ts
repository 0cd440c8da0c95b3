// Folders of normalised USB traces: the ones a run writes (DFU_HIL_TRACE_DIR) and the committed
// goldens (specs/golden-traces), laid out the same way:
//
//   <root>/<set>/<spec>/<test>.trace     set: sim/<bootloader profile>[+app-usb] or hardware/<CI group>
//
// Simulated rigs share goldens per bootloader profile: the profile is what the traces record,
// unless the application has a USB device of its own (usb.dfuRuntime), whose enumerations and
// DETACH are on the bus too: those rigs have a set of their own (+app-usb).
// Hardware rigs share them per CI group: identical boards must answer identically.
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { rigCi, type RigConfig } from '../rig/config/load-rigs.js';
import { compareTraceLines, parseTraceFile, serialiseTrace, type TraceChange, type TraceTestId } from './golden-trace.js';

const EXTENSION = '.trace';
const SLUG_LIMIT = 100;

/** The golden set a rig's traces belong to: `sim/<profile>` (`+app-usb` when its application has USB), or `hardware/<CI group>` (the rig's name without one). */
export function traceSetOf(rig: Pick<RigConfig, 'name' | 'kind' | 'bootloader' | 'ci' | 'usb'>): string {
  if (rig.kind === 'sim') return `sim/${rig.bootloader.profile ?? 'st-rom-v9.2'}${rig.usb.dfuRuntime ? '+app-usb' : ''}`;
  return `hardware/${rigCi(rig)?.group ?? rig.name}`;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
}

/** A test's path under its set: `<spec>/<test>`, e.g. `leave/leaving-without-flashing-returns-to-the-same-application`. */
export function traceKey(test: TraceTestId): string {
  const spec = path.basename(test.specFile).replace(/\.(spec|test)\.[cm]?[jt]s$/, '').replace(/\.[cm]?[jt]s$/, '');
  let name = slug(test.title[test.title.length - 1] ?? 'test') || 'test';
  if (name.length > SLUG_LIMIT) {
    // Cut long titles, and keep them apart by a hash of the whole title.
    const hash = createHash('sha1').update(test.title.join('\n')).digest('hex').slice(0, 8);
    name = `${name.slice(0, SLUG_LIMIT).replace(/-+$/, '')}-${hash}`;
  }
  return `${slug(spec) || 'spec'}/${name}`;
}

/** Writes one test's normalised trace under `root`. */
export async function writeTestTrace(root: string, set: string, test: TraceTestId, lines: readonly string[]): Promise<string> {
  const file = path.join(root, ...set.split('/'), `${traceKey(test)}${EXTENSION}`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, serialiseTrace(set, test, lines));
  return file;
}

/** One recorded trace, read back. */
export interface StoredTrace {
  /** The test as its header names it (`specs/leave.spec.ts > leaving DFU > …`), else its key. */
  test: string;
  lines: string[];
}

/** Every trace under `root`, by set and then by key; an absent folder reads as empty. */
export async function readTraceTree(root: string): Promise<Map<string, Map<string, StoredTrace>>> {
  const sets = new Map<string, Map<string, StoredTrace>>();
  let files: string[];
  try {
    files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(EXTENSION));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return sets;
    throw error;
  }
  for (const file of files.sort()) {
    const parts = file.split(path.sep);
    // <kind>/<name>/<spec>/<test>.trace; anything shallower is not a trace of this layout.
    if (parts.length < 4) continue;
    const set = parts.slice(0, 2).join('/');
    const key = parts.slice(2).join('/').slice(0, -EXTENSION.length);
    const parsed = parseTraceFile(await readFile(path.join(root, file), 'utf8'));
    if (!sets.has(set)) sets.set(set, new Map());
    sets.get(set)!.set(key, { test: parsed.test ?? key, lines: parsed.lines });
  }
  return sets;
}

/** A test whose trace differs from its golden. */
export interface ChangedTrace {
  key: string;
  test: string;
  changes: TraceChange[];
}

/** How one set of a run compares with its goldens. */
export interface TraceSetComparison {
  set: string;
  /** No golden exists for this set at all: it has never been recorded. */
  unrecorded: boolean;
  identical: string[];
  changed: ChangedTrace[];
  /** Tests with a golden that left no trace in this run (skipped, renamed, removed, or not run). */
  missing: StoredTrace[];
  /** Tests that left a trace but have no golden yet. */
  added: StoredTrace[];
}

/** True when any set differs from its goldens in any way. */
export function hasDifferences(results: readonly TraceSetComparison[]): boolean {
  return results.some((r) => r.unrecorded || r.changed.length > 0 || r.missing.length > 0 || r.added.length > 0);
}

/**
 * Compares every set a run recorded with the goldens of that set. Golden sets the run did not
 * record (another profile, a hardware group not run here) are not compared.
 */
export async function compareTraceDirs(goldenRoot: string, actualRoot: string): Promise<TraceSetComparison[]> {
  const golden = await readTraceTree(goldenRoot);
  const actual = await readTraceTree(actualRoot);
  const results: TraceSetComparison[] = [];
  for (const [set, runTraces] of actual) {
    const goldenTraces = golden.get(set) ?? new Map<string, StoredTrace>();
    const result: TraceSetComparison = { set, unrecorded: !golden.has(set), identical: [], changed: [], missing: [], added: [] };
    for (const [key, trace] of runTraces) {
      const expected = goldenTraces.get(key);
      if (!expected) {
        result.added.push(trace);
        continue;
      }
      const changes = compareTraceLines(expected.lines, trace.lines);
      if (changes.length === 0) result.identical.push(key);
      else result.changed.push({ key, test: trace.test, changes });
    }
    for (const [key, trace] of goldenTraces) if (!runTraces.has(key)) result.missing.push(trace);
    results.push(result);
  }
  return results;
}

const specOf = (key: string): string => key.slice(0, key.lastIndexOf('/'));

/** What {@link updateGoldens} did. */
export interface GoldenUpdate {
  sets: string[];
  written: number;
  removed: number;
}

/**
 * Makes the goldens of every spec the run recorded equal to the run: traces copied, goldens of
 * that spec's tests that left no trace removed. Sets and specs the run did not record are left alone.
 */
export async function updateGoldens(goldenRoot: string, actualRoot: string): Promise<GoldenUpdate> {
  const actual = await readTraceTree(actualRoot);
  const golden = await readTraceTree(goldenRoot);
  const update: GoldenUpdate = { sets: [...actual.keys()], written: 0, removed: 0 };
  for (const [set, traces] of actual) {
    for (const key of traces.keys()) {
      const file = path.join(...set.split('/'), `${key}${EXTENSION}`);
      await mkdir(path.dirname(path.join(goldenRoot, file)), { recursive: true });
      await writeFile(path.join(goldenRoot, file), await readFile(path.join(actualRoot, file)));
      update.written++;
    }
    const specsRecorded = new Set([...traces.keys()].map(specOf));
    for (const key of golden.get(set)?.keys() ?? []) {
      if (traces.has(key) || !specsRecorded.has(specOf(key))) continue;
      await rm(path.join(goldenRoot, ...set.split('/'), `${key}${EXTENSION}`));
      update.removed++;
    }
  }
  return update;
}
