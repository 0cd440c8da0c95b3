// A mutation fuzzer for the readers of untrusted files: DfuSe .dfu, Intel HEX and rigs.yaml.
// Valid files are generated, then damaged (bytes flipped, fields set to extremes, cut, grown,
// lines moved, YAML tokens dropped in), and each reader must end in a result or in one of
// dfu-hil's typed errors: anything else is an untyped error, a bug. Inputs come from fast-check
// with a fixed seed, in chunks, so any case can be rebuilt from its number alone.
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DfuHilError } from '../errors.js';
import { writeDfu } from '../image/dfuse-file.js';
import { dfuSuffixCrc } from '../image/crc32.js';
import { createFirmwareImage, type DfuseTarget } from '../image/firmware-image.js';
import { readDfu } from '../image/dfuse-file.js';
import { readHex, writeHex } from '../image/intel-hex.js';
import { parseRigs, RigConfigError } from '../rig/config/load-rigs.js';

/** The readers under test. */
export const FUZZ_READERS = ['dfu', 'hex', 'rigs'] as const;
/** One of {@link FUZZ_READERS}. */
export type FuzzReader = (typeof FUZZ_READERS)[number];

/** The seed every run starts from unless told otherwise. */
export const FUZZ_SEED = 0x14_0d_f0;

/** Cases drawn per fast-check sample call; a case's number fixes its chunk and place. */
const CHUNK = 500;

/** What one fuzz run found. */
export interface FuzzReport {
  reader: FuzzReader;
  seed: number;
  cases: number;
  /** How many cases ended in each outcome: "ok", an error code, or "untyped <Error name>". */
  outcomes: Map<string, number>;
  /** The first few untyped errors, with the case number that reproduces each. */
  untyped: Array<{ caseNumber: number; error: string }>;
}

const segmentData = fc.uint8Array({ minLength: 1, maxLength: 96 });
const targetsArb: fc.Arbitrary<DfuseTarget[]> = fc.array(fc.record({
  alternateSetting: fc.nat({ max: 3 }),
  name: fc.option(fc.string({ maxLength: 12 }), { nil: undefined }),
  segments: fc.array(fc.record({ address: fc.constantFrom(0x08000000, 0x08100000, 0x5200201c, 0x24000000, 0x1ff00000), data: segmentData }), { minLength: 1, maxLength: 3 }),
}), { minLength: 1, maxLength: 3 }).map((targets) => targets.map((t, i) => ({
  // Elements of one target must not overlap: spread them out.
  alternateSetting: t.alternateSetting, ...(t.name ? { name: t.name } : {}),
  segments: t.segments.map((s, j) => ({ address: s.address + (i * 3 + j) * 0x1000, data: s.data })),
})));

/** Re-computes the suffix CRC so a mutant gets past the checksum into the parser proper. */
function resign(file: Uint8Array): Uint8Array {
  if (file.length < 16) return file;
  const out = file.slice();
  new DataView(out.buffer).setUint32(out.length - 4, dfuSuffixCrc(out.subarray(0, out.length - 4)), true);
  return out;
}

/** `arbitrary` in one case of `every`, undefined otherwise: damage that ends parsing early stays rare. */
const sometimes = <T>(arbitrary: fc.Arbitrary<T>, every = 5): fc.Arbitrary<T | undefined> =>
  fc.oneof({ weight: every - 1, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });

const extremes = fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff);

const dfuArb: fc.Arbitrary<Uint8Array> = fc.record({
  targets: targetsArb,
  flips: fc.array(fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }) }), { maxLength: 6 }),
  words: fc.array(fc.record({ at: fc.nat(), value: extremes }), { maxLength: 3 }),
  cut: sometimes(fc.nat()),
  grow: sometimes(fc.uint8Array({ maxLength: 64 })),
  resign: fc.oneof({ weight: 4, arbitrary: fc.constant(true) }, { weight: 1, arbitrary: fc.constant(false) }),
}).map((m) => {
  let file = writeDfu(createFirmwareImage({ source: 'fuzz', format: 'dfu', targets: m.targets }));
  for (const { at, value } of m.flips) file[at % file.length] = value;
  for (const { at, value } of m.words) {
    const offset = at % Math.max(1, file.length - 4);
    new DataView(file.buffer, file.byteOffset).setUint32(offset, value >>> 0, true);
  }
  if (m.cut !== undefined) file = file.subarray(0, m.cut % (file.length + 1));
  if (m.grow) file = Uint8Array.from([...file, ...m.grow]);
  return m.resign ? resign(file) : file;
});

/** An Intel HEX record with its checksum, from raw fields. */
function record(type: number, address: number, data: readonly number[]): string {
  const bytes = [data.length & 0xff, (address >> 8) & 0xff, address & 0xff, type & 0xff, ...data.map((b) => b & 0xff)];
  const checksum = (0x100 - (bytes.reduce((a, b) => a + b, 0) & 0xff)) & 0xff;
  return `:${[...bytes, checksum].map((b) => b.toString(16).toUpperCase().padStart(2, '0')).join('')}`;
}

const hexArb: fc.Arbitrary<string> = fc.record({
  segments: fc.array(fc.record({ address: fc.constantFrom(0x08000000, 0x08100000, 0x0800fff0, 0x2400fffc, 0x7ffff000), data: segmentData }), { minLength: 1, maxLength: 3 }),
  edits: fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom('replace', 'insert', 'delete'), char: fc.constantFrom(...':0123456789ABCDEFabcdefg\r\n 8F0\t'.split('')) }), { maxLength: 2 }).chain((e) => fc.constantFrom([], [], e)),
  records: fc.array(fc.record({ at: fc.nat(), type: fc.nat({ max: 6 }), address: fc.nat({ max: 0xffff }), data: fc.array(fc.nat({ max: 255 }), { maxLength: 8 }) }), { maxLength: 3 }),
  lines: fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom('drop', 'twice', 'swap') }), { maxLength: 3 }),
}).map((m) => {
  const segments = m.segments.map((s, i) => ({ address: s.address + i * 0x200, data: s.data }));
  const lines = writeHex(createFirmwareImage({ source: 'fuzz', format: 'hex', segments })).split('\n');
  for (const r of m.records) lines.splice(r.at % (lines.length + 1), 0, record(r.type, r.address, r.data));
  for (const l of m.lines) {
    const i = l.at % lines.length;
    if (l.kind === 'drop') lines.splice(i, 1);
    else if (l.kind === 'twice') lines.splice(i, 0, lines[i]!);
    else if (i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
  }
  let text = lines.join('\n');
  for (const { at, kind, char } of m.edits) {
    const i = at % (text.length + 1);
    text = kind === 'insert' ? text.slice(0, i) + char + text.slice(i)
      : kind === 'replace' ? text.slice(0, i) + char + text.slice(i + 1)
        : text.slice(0, i) + text.slice(i + 1);
  }
  return text;
});

const SHIPPED_RIGS = readFileSync(fileURLToPath(new URL('../../rigs.yaml', import.meta.url)), 'utf8');
const SMALL_RIGS = [
  'rigs:\n  a:\n    kind: sim\n',
  'default: b\nrigs:\n  a: &base\n    kind: sim\n    entry: { rc: { r: 100k, c: 1u, vdd: 3.3, chargePin: PG2 } }\n  b:\n    <<: *base\n    allowOptionBytes: true\n',
  'rigs:\n  hw:\n    kind: nucleo-h745\n    usb: { serial: "200364500000", portPath: "1-4.2" }\n    console: { path: /dev/ttyACM0 }\n    probe: { tool: openocd }\n    ci: { runnerLabels: [self-hosted, lab], group: g }\n',
];
/** YAML that trips parsers: aliases, anchors, merges, tags, flow and block indicators, directives. */
const YAML_TOKENS = ['*a', '&a ', '*base', '<<: ', '<<: *a', '<<: 5', '<<: [*a, 3]', '!!int ', '!!binary ', '!foo ', '? ', '[', ']', '{', '}', '"', "'", ': ', '- ', '\t', '#', '|', '>', '%YAML 1.1\n---\n', '---\n', '...\n', '~', 'null', '0x1F', '1e999', '.inf', '&r [*r]', '\u0000', '\uFEFF', 'kind: sim', '  ', '\n'];

const rigsArb: fc.Arbitrary<string> = fc.record({
  seed: fc.constantFrom(SHIPPED_RIGS, ...SMALL_RIGS),
  tokens: fc.array(fc.record({ at: fc.nat(), token: fc.constantFrom(...YAML_TOKENS) }), { maxLength: 2 }).chain((t) => fc.constantFrom([], t)),
  // Anchors and aliases where values go: `key: &a value`, `key: *a`, `<<: *a`.
  aliases: fc.array(fc.record({ line: fc.nat(), kind: fc.constantFrom('anchor', 'alias', 'merge', 'self') }), { maxLength: 3 }),
  lines: fc.array(fc.record({ at: fc.nat(), kind: fc.constantFrom('drop', 'twice', 'swap', 'indent', 'dedent') }), { maxLength: 3 }).chain((l) => fc.constantFrom([], l)),
  chars: sometimes(fc.record({ at: fc.nat(), char: fc.constantFrom(...': -#&*!|>{}[],"\'\t\n'.split('')) }), 3),
}).map((m) => {
  const lines = m.seed.split('\n');
  for (const l of m.lines) {
    const i = l.at % lines.length;
    if (l.kind === 'drop') lines.splice(i, 1);
    else if (l.kind === 'twice') lines.splice(i, 0, lines[i]!);
    else if (l.kind === 'swap' && i + 1 < lines.length) [lines[i], lines[i + 1]] = [lines[i + 1]!, lines[i]!];
    else if (l.kind === 'indent') lines[i] = `  ${lines[i]}`;
    else if (l.kind === 'dedent') lines[i] = lines[i]!.replace(/^ {1,2}/, '');
  }
  const values = lines.map((line, i) => [i, /^(\s*[\w-]+:)\s*(.*)$/.exec(line)] as const).filter(([, match]) => match);
  for (const a of m.aliases) {
    if (values.length === 0) break;
    const [i, match] = values[a.line % values.length]!;
    const [, key, rest] = match!;
    const indent = /^\s*/.exec(key!)![0];
    if (a.kind === 'anchor') lines[i] = `${key} &a ${rest}`;
    else if (a.kind === 'alias') lines[i] = `${key} *a`;
    else if (a.kind === 'self') lines[i] = `${key} &a [*a]`;
    else lines.splice(i + 1, 0, `${indent}  <<: *a`);
  }
  let text = lines.join('\n');
  for (const { at, token } of m.tokens) {
    const i = at % (text.length + 1);
    text = text.slice(0, i) + token + text.slice(i);
  }
  if (m.chars) {
    const i = m.chars.at % (text.length + 1);
    text = text.slice(0, i) + m.chars.char + text.slice(i + 1);
  }
  return text;
});

/** How an outcome is counted: "ok", a typed error's code (a rigs problem by its kind), or "untyped <name>". */
export function classify(error: unknown): string {
  if (error === undefined) return 'ok';
  if (error instanceof RigConfigError) {
    const found = error.problems[0]?.found ?? '';
    const kind = found.startsWith('text that is not valid YAML') ? 'YAML syntax'
      : /alias/.test(found) ? 'alias' : /merge key/.test(found) ? 'merge key'
        : /used as a key/.test(found) ? 'collection key' : /YAML cannot read/.test(found) ? 'YAML tag' : 'schema';
    return `${error.code} (${kind})`;
  }
  if (error instanceof DfuHilError) return error.code;
  return `untyped ${error instanceof Error ? error.name : typeof error}`;
}

interface Target {
  arbitrary: fc.Arbitrary<Uint8Array | string>;
  read(input: Uint8Array | string): unknown;
}

const TARGETS: Record<FuzzReader, Target> = {
  dfu: { arbitrary: dfuArb, read: (input) => readDfu(input as Uint8Array, 'fuzz.dfu') },
  hex: { arbitrary: hexArb, read: (input) => readHex(input as string, 'fuzz.hex') },
  rigs: { arbitrary: rigsArb, read: (input) => parseRigs(input as string, 'rigs.yaml') },
};

/** The input of case `caseNumber` of `reader` (0-based), as a run with `seed` generates it. */
export function fuzzCase(reader: FuzzReader, caseNumber: number, seed = FUZZ_SEED): Uint8Array | string {
  const chunk = Math.floor(caseNumber / CHUNK);
  return fc.sample(TARGETS[reader].arbitrary, { seed: seed + chunk, numRuns: (caseNumber % CHUNK) + 1 }).at(-1)!;
}

/** Runs `cases` generated inputs through `reader` and counts the outcomes. */
export function fuzzReader(reader: FuzzReader, cases: number, options: { seed?: number; keepUntyped?: number } = {}): FuzzReport {
  const seed = options.seed ?? FUZZ_SEED;
  const report: FuzzReport = { reader, seed, cases, outcomes: new Map(), untyped: [] };
  const target = TARGETS[reader];
  for (let start = 0; start < cases; start += CHUNK) {
    const inputs = fc.sample(target.arbitrary, { seed: seed + start / CHUNK, numRuns: Math.min(CHUNK, cases - start) });
    inputs.forEach((input, i) => {
      let error: unknown;
      try {
        target.read(input);
      } catch (caught) {
        error = caught;
      }
      const outcome = classify(error);
      report.outcomes.set(outcome, (report.outcomes.get(outcome) ?? 0) + 1);
      if (outcome.startsWith('untyped') && report.untyped.length < (options.keepUntyped ?? 5)) {
        report.untyped.push({ caseNumber: start + i, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
      }
    });
  }
  return report;
}

/** Untyped outcomes in a report. */
export function untypedCount(report: FuzzReport): number {
  return [...report.outcomes].filter(([k]) => k.startsWith('untyped')).reduce((n, [, v]) => n + v, 0);
}

/** The report as a table, outcomes by count. */
export function formatFuzzReport(report: FuzzReport): string {
  const rows = [...report.outcomes].sort((a, b) => b[1] - a[1]);
  const width = Math.max(...rows.map(([k]) => k.length), 7);
  const lines = [`${report.reader}: ${report.cases} cases, seed 0x${report.seed.toString(16)}`, ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${String(v).padStart(7)}`)];
  lines.push(`  ${'untyped'.padEnd(width)}  ${String(untypedCount(report)).padStart(7)}`);
  for (const u of report.untyped) lines.push(`    case ${u.caseNumber}: ${u.error}`);
  return lines.join('\n');
}
