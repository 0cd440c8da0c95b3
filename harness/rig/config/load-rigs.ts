// Reads rigs.yaml and turns every mistake into one RigConfigError that names the file, the key
// path, the line:column, what was there and what was expected.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type * as z from 'zod';
import { DfuHilError } from '../../errors.js';
import { DEFAULT_OPENOCD_CONFIG, defaultRunnerLabels, NUCLEO_LED_PIN, rigsFileSchema, type RigSettings } from './schema.js';
import { readYaml } from './yaml-reader.js';

/** One problem in a rigs file, located. */
export interface RigConfigProblem {
  file: string;
  /** Dotted key path, e.g. `rigs.bench-1.entry.rc.chargePin`. */
  keyPath: string;
  line: number;
  column: number;
  /** What the file had there, e.g. `"G2"`, `a mapping`, `unknown key "chargepin"`. */
  found: string;
  /** The form expected, e.g. `expected a pin name like "PG2"`. */
  expected: string;
}

/** Formats a problem as `file:line:col: key.path: found X; expected Y`. */
export function formatProblem(p: RigConfigProblem): string {
  return `${p.file}:${p.line}:${p.column}: ${p.keyPath || '(top level)'}: found ${p.found}; ${p.expected}`;
}

/** rigs.yaml is wrong, or names a rig that is not there. */
export class RigConfigError extends DfuHilError {
  /** Every problem found; the message shows the first. */
  readonly problems: readonly RigConfigProblem[];

  constructor(problems: RigConfigProblem[], options: { hint?: string; message?: string } = {}) {
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more problem${problems.length > 2 ? 's' : ''})` : '';
    super('rig-config', options.message ?? (first ? formatProblem(first) + more : 'bad rigs file'), {
      failureClass: 'infrastructure',
      hint: options.hint ?? `Fix ${first?.file ?? 'rigs.yaml'} (the comment at its top documents every key), then run \`dfu-hil doctor\`.`,
    });
    this.problems = problems;
  }

  get keyPath(): string | undefined { return this.problems[0]?.keyPath; }
  get line(): number | undefined { return this.problems[0]?.line; }
  get column(): number | undefined { return this.problems[0]?.column; }
}

/** One rig, named. */
export type RigConfig = RigSettings & { name: string };

/** How CI reaches a hardware rig, defaults applied. */
export interface RigCi {
  /** runs-on labels of the self-hosted runner the board is attached to. */
  runnerLabels: string[];
  /** Rigs with the same group are identical boards; CI splits the suite across them. */
  group: string;
}

/**
 * A rig's CI settings with their defaults (labels `self-hosted` and `dfu-hil-<rig>`, the rig's
 * own group), or undefined when the rig takes no part in CI (no `ci:` section).
 */
export function rigCi(rig: Pick<RigConfig, 'name' | 'ci'>): RigCi | undefined {
  if (rig.ci === undefined) return undefined;
  return { runnerLabels: rig.ci.runnerLabels ?? defaultRunnerLabels(rig.name), group: rig.ci.group ?? rig.name };
}

/**
 * True when the board's application speaks the test application's console protocol: the test
 * application itself, or an image of the team's own marked `firmware.console: true`.
 */
export function speaksTestAppConsole(rig: Pick<RigConfig, 'firmware'>): boolean {
  return rig.firmware === undefined || rig.firmware.console;
}

/** A loaded rigs file. */
export interface RigsFile {
  /** Path as given (used in messages). */
  file: string;
  defaultRig: string | undefined;
  /** Rigs in file order. */
  rigs: ReadonlyMap<string, RigConfig>;
}

type PathKey = string | number;

function describeNode(node: unknown): string {
  if (node === undefined) return 'nothing (the key is missing)';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    if (node.value === null) return 'an empty value';
    const text = node.source ?? String(node.value);
    return typeof node.value === 'string' ? JSON.stringify(text) : text;
  }
  return 'a value';
}

/** Finds the node at `keys`, or the deepest ancestor present; `keyNode` is the pair's key node when asked. */
function locate(doc: Document, keys: readonly PathKey[], wantKey?: string): { node: Node | undefined; at: Node | undefined } {
  let current: unknown = doc.contents;
  let deepest: Node | undefined = doc.contents ?? undefined;
  for (const key of keys) {
    let next: unknown;
    if (isMap(current)) {
      const pair = current.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      // A key written with no value points at the key itself.
      next = pair ? (pair.value === null || (isScalar(pair.value) && pair.value.value === null) ? pair.key : pair.value) : undefined;
    } else if (isSeq(current) && typeof key === 'number') {
      next = current.items[key];
    }
    if (next === undefined) return { node: undefined, at: deepest };
    current = next;
    deepest = next as Node;
  }
  if (wantKey !== undefined && isMap(current)) {
    const pair = current.items.find((p) => isScalar(p.key) && String(p.key.value) === wantKey);
    if (pair && isScalar(pair.key)) return { node: pair.key, at: pair.key };
  }
  return { node: current as Node, at: deepest };
}

/** The key path of the deepest map entry whose key or value spans `offset` (for YAML-level problems). */
function keyPathAt(doc: Document, offset: number): string {
  const keys: PathKey[] = [];
  let current: unknown = doc.contents;
  for (;;) {
    const within = (node: unknown): boolean => {
      const range = (node as Node | null)?.range;
      return range != null && offset >= range[0] && offset <= range[2];
    };
    if (isMap(current)) {
      // From the key to the end of the value: a tag or anchor before the value counts as the value.
      const pair = current.items.find((p) => {
        const start = (p.key as Node | null)?.range?.[0];
        const end = (p.value as Node | null)?.range?.[2] ?? (p.key as Node | null)?.range?.[2];
        return start != null && end != null && offset >= start && offset <= end;
      });
      if (!pair || !isScalar(pair.key)) break;
      keys.push(typeof pair.key.value === 'symbol' ? '<<' : String(pair.key.value));
      if (within(pair.key)) break;
      current = pair.value;
    } else if (isSeq(current)) {
      const index = current.items.findIndex(within);
      if (index < 0) break;
      keys.push(index);
      current = current.items[index];
    } else {
      break;
    }
  }
  return keyPathOf(keys);
}

function keyPathOf(keys: readonly PathKey[]): string {
  return keys.map((k) => (typeof k === 'number' ? `[${k}]` : k)).join('.').replace(/\.\[/g, '[');
}

function expectedOf(issue: z.core.$ZodIssue): string {
  if (issue.message.startsWith('expected') || issue.message.startsWith('did you mean')) return issue.message;
  if (issue.code === 'invalid_type') return `expected ${issue.expected === 'object' ? 'a mapping' : issue.expected === 'array' ? 'a list' : `a ${issue.expected}`}`;
  if (issue.code === 'invalid_value') return `expected one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
  return `expected ${issue.message.replace(/^Invalid input:\s*/i, '').replace(/^expected\s+/i, '')}`;
}

function problemFromIssue(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, file: string): RigConfigProblem {
  const keys = issue.path.filter((k): k is PathKey => typeof k === 'string' || typeof k === 'number');
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0] ?? '';
    const { at } = locate(doc, keys, key);
    const pos = lines.linePos(at?.range?.[0] ?? 0);
    return { file, keyPath: keyPathOf([...keys, key]), line: pos.line, column: pos.col, found: `unknown key "${key}"`, expected: expectedOf(issue) };
  }
  if (issue.code === 'invalid_key') {
    const key = String(keys[keys.length - 1] ?? '');
    const { at } = locate(doc, keys.slice(0, -1), key);
    const pos = lines.linePos(at?.range?.[0] ?? 0);
    const inner = issue.issues[0];
    return { file, keyPath: keyPathOf(keys), line: pos.line, column: pos.col, found: `the name ${JSON.stringify(key)}`, expected: inner ? expectedOf(inner) : expectedOf(issue) };
  }
  const { node, at } = locate(doc, keys);
  const pos = lines.linePos(at?.range?.[0] ?? 0);
  return { file, keyPath: keyPathOf(keys), line: pos.line, column: pos.col, found: describeNode(node), expected: expectedOf(issue) };
}

/** Parses the text of a rigs file; `file` is used in messages only. Every problem, YAML or schema, is in one RigConfigError. */
export function parseRigs(text: string, file: string): RigsFile {
  const { original, doc, lines, value, problems: yamlProblems } = readYaml(text);
  const problems: RigConfigProblem[] = yamlProblems.map((p) => {
    const pos = lines.linePos(p.offset);
    return { file, keyPath: p.syntax ? '' : keyPathAt(original, p.offset), line: pos.line, column: pos.col, found: p.found, expected: p.expected };
  });
  // Text that is not YAML has no structure worth checking against the schema.
  const result = doc.errors.length > 0 || value === undefined && problems.length > 0 ? undefined : rigsFileSchema.safeParse(value ?? {});
  if (result && !result.success) {
    // A value taken out for a YAML problem is reported once, as that problem.
    const covered = problems.map((p) => p.keyPath).filter((k) => k !== '');
    const under = (keyPath: string): boolean => covered.some((k) => keyPath === k || keyPath.startsWith(`${k}.`) || keyPath.startsWith(`${k}[`));
    problems.push(...result.error.issues.map((issue) => problemFromIssue(issue, doc, lines, file)).filter((p) => !under(p.keyPath)));
  }
  if (problems.length > 0 || !result?.success) {
    // An unknown key at the same place as a missing one is the cause of both: show it first.
    const rank = (p: RigConfigProblem): number => (p.found.startsWith('unknown key') ? 0 : 1);
    problems.sort((a, b) => a.line - b.line || a.column - b.column || rank(a) - rank(b));
    throw new RigConfigError(problems);
  }
  const rigs = new Map<string, RigConfig>();
  for (const [name, settings] of Object.entries(result.data.rigs)) {
    const bootloader = settings.kind === 'sim' && settings.bootloader.profile === undefined
      ? { ...settings.bootloader, profile: 'st-rom-v9.2' as const }
      : settings.bootloader;
    const console = settings.console.path === undefined ? { ...settings.console, path: `sim:${name}` } : settings.console;
    // An image path is relative to the rigs file, wherever the command runs from.
    const firmware = settings.firmware && { ...settings.firmware, reference: path.resolve(path.dirname(file), settings.firmware.reference) };
    // The NUCLEO-H745ZI-Q's own defaults (its board file, LD1), on the simulated one too; another board names its own.
    const nucleo = settings.kind !== 'stm32h7';
    const probe = settings.probe && nucleo ? { ...settings.probe, openocdConfig: settings.probe.openocdConfig ?? DEFAULT_OPENOCD_CONFIG } : settings.probe;
    const pins = nucleo ? { led: NUCLEO_LED_PIN, ...settings.pins } : settings.pins;
    rigs.set(name, { ...settings, bootloader, console, name, pins, ...(probe ? { probe } : {}), ...(firmware ? { firmware } : {}) });
  }
  return { file, defaultRig: result.data.default ?? (rigs.size === 1 ? [...rigs.keys()][0] : undefined), rigs };
}

/** Reads and parses a rigs file. */
export async function loadRigs(file: string): Promise<RigsFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new RigConfigError([], {
      message: `cannot read rigs file ${file}: ${(cause as NodeJS.ErrnoException).code ?? String(cause)}`,
      hint: 'Run from the repository (which has rigs.yaml), or pass --rigs <file> or set DFU_HIL_RIGS.',
    });
  }
  return parseRigs(text, file);
}

/**
 * Where rigs.yaml is: `DFU_HIL_RIGS` if set, else the first rigs.yaml found walking up from
 * `cwd` (so commands work from any folder of the repository), else `cwd/rigs.yaml`.
 */
export function findRigsFile(cwd: string, env: Readonly<Record<string, string | undefined>> = {}): string {
  if (env.DFU_HIL_RIGS) return path.resolve(cwd, env.DFU_HIL_RIGS);
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'rigs.yaml');
    if (existsSync(candidate)) return candidate;
    if (path.dirname(dir) === dir) return path.resolve(cwd, 'rigs.yaml');
  }
}

/** Where a rig choice came from. */
export type RigChoiceSource = 'flag' | 'env' | 'default';

/** The rig the run will use, and why. */
export interface PickedRig {
  rig: RigConfig;
  source: RigChoiceSource;
}

/** Picks a rig: the `--rig` flag beats `RIG` from the environment beats the file's `default`. */
export function pickRig(rigs: RigsFile, choice: { env?: string | undefined; flag?: string | undefined }): PickedRig {
  const known = [...rigs.rigs.keys()];
  const [name, source]: [string | undefined, RigChoiceSource] = choice.flag ? [choice.flag, 'flag']
    : choice.env ? [choice.env, 'env'] : [rigs.defaultRig, 'default'];
  if (name === undefined) {
    throw new RigConfigError([], {
      message: `${rigs.file} has no "default:" rig and none was chosen (rigs: ${known.join(', ')})`,
      hint: 'Pass --rig <name>, set RIG=<name>, or add "default: <name>" to the rigs file.',
    });
  }
  const rig = rigs.rigs.get(name);
  if (!rig) {
    const via = source === 'flag' ? '--rig' : source === 'env' ? 'RIG' : '"default:"';
    throw new RigConfigError([], {
      message: `unknown rig "${name}" (from ${via}); ${rigs.file} has: ${known.join(', ')}`,
      hint: `Use one of: ${known.join(', ')}, or add "${name}" to ${rigs.file}.`,
    });
  }
  return { rig, source };
}
