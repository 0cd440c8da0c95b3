// rigs.yaml as YAML: the parser's own errors and warnings, and the problems its `toJS()` would
// throw on without saying where (an alias to no anchor, an alias inside its own anchor, a
// merge key `<<` whose value is no mapping, a mapping or list used as a key, an alias bomb),
// each located by line and column. The offending nodes are taken out of a copy of the
// document, so the schema can still check everything else and one run reports every problem.
import {
  isAlias, isCollection, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node,
} from 'yaml';

/** A YAML-level problem: where, what was there, what was expected. */
export interface YamlProblem {
  /** Offset into the text. */
  offset: number;
  /** True for text the parser could not read: its place in the document's structure is not known. */
  syntax: boolean;
  found: string;
  expected: string;
}

/** A rigs file read as YAML. */
export interface YamlReading {
  /** The document as written, for locating problems. */
  original: Document;
  /** The document with every problem node removed (null in its place). */
  doc: Document;
  lines: LineCounter;
  /** The plain value of `doc`, or undefined when it could not be built. */
  value: unknown;
  problems: YamlProblem[];
}

/** Aliases expanded at most this many times per anchor before toJS calls it an attack (yaml's own default). */
const MAX_ALIAS_COUNT = 100;

const isMergeKey = (key: unknown): boolean => isScalar(key) && (typeof key.value === 'symbol' || key.value === '<<');

/** A merge value `toJS()` accepts: a mapping, an alias to one, or a list of those. */
function validMergeSource(value: unknown, doc: Document): boolean {
  const one = (node: unknown): boolean => isMap(node) || (isAlias(node) && isMap(node.resolve(doc)));
  return one(value) || (isSeq(value) && value.items.length > 0 && value.items.every(one));
}

/** Reads `text` as YAML (merge keys allowed, as most tools do); never throws. */
export function readYaml(text: string): YamlReading {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true, uniqueKeys: true });
  const problems: YamlProblem[] = [
    ...doc.errors.map((e) => ({ offset: e.pos[0], syntax: true, found: 'text that is not valid YAML', expected: `expected YAML (${e.message.split('\n')[0]})` })),
    ...doc.warnings.map((w) => ({ offset: w.pos[0], syntax: false, found: 'a value YAML cannot read as written', expected: `expected plain YAML (${w.message.split('\n')[0]})` })),
  ];
  if (doc.errors.length > 0) return { original: doc, doc, lines, value: undefined, problems };

  // Remove the nodes toJS() would fail on from a copy, noting each.
  const safe = doc.clone();
  visit(safe, {
    Alias(_, node, path) {
      const target = node.resolve(safe);
      if (target === undefined) {
        problems.push({ offset: node.range?.[0] ?? 0, syntax: false, found: `the alias *${node.source}`, expected: `expected an anchor &${node.source} defined before it` });
        return safe.createNode(null);
      }
      if (path.includes(target as never)) {
        problems.push({ offset: node.range?.[0] ?? 0, syntax: false, found: `the alias *${node.source} inside its own anchor`, expected: 'expected an alias to a value that does not contain it (a recursive alias has no end)' });
        return safe.createNode(null);
      }
      return undefined;
    },
    Pair(_, pair) {
      if (isMergeKey(pair.key) && !validMergeSource(pair.value, safe)) {
        problems.push({ offset: (pair.key as Node).range?.[0] ?? 0, syntax: false, found: `the merge key << with ${describeValue(pair.value)}`, expected: 'expected << to take a mapping, an alias to one (<<: *defaults), or a list of them' });
        return visit.REMOVE;
      }
      const key = isAlias(pair.key) ? pair.key.resolve(safe) : pair.key;
      const notPlain = isCollection(key) || (isScalar(key) && typeof key.value === 'object' && key.value !== null);
      if (notPlain) {
        const what = isMap(key) ? 'a mapping' : isSeq(key) ? 'a list' : 'binary data';
        problems.push({ offset: (pair.key as Node).range?.[0] ?? 0, syntax: false, found: `${what} used as a key`, expected: 'expected a plain name as the key' });
        return visit.REMOVE;
      }
      return undefined;
    },
  });
  let value: unknown;
  try {
    value = safe.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    // What is left is an alias bomb: point at the first alias.
    let offset = 0;
    visit(safe, { Alias(_, node) { offset = node.range?.[0] ?? 0; return visit.BREAK; } });
    problems.push({ offset, syntax: false, found: 'aliases that expand without bound', expected: `expected at most ${MAX_ALIAS_COUNT} uses of one anchor (${(error as Error).message})` });
    value = undefined;
  }
  return { original: doc, doc: safe, lines, value, problems };
}

function describeValue(node: unknown): string {
  if (isScalar(node)) return node.value === null ? 'an empty value' : JSON.stringify(node.source ?? String(node.value));
  if (isSeq(node)) return 'a list that is not all mappings';
  if (isAlias(node)) return `the alias *${node.source}, which is not a mapping`;
  if (isPair(node)) return 'a pair';
  return 'nothing';
}
