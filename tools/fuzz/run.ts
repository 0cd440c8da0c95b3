// `npm run fuzz`: 10^5 generated inputs per reader (.dfu, Intel HEX, rigs.yaml), with a fixed
// seed, printing how many ended in each outcome. Exits 1 if any ended in an untyped error.
//   npm run fuzz -- --cases 20000 --seed 7 --reader rigs
//   npm run fuzz -- --reader hex --show 1234     prints the input of case 1234
import { parseArgs } from 'node:util';
import { formatFuzzReport, fuzzCase, fuzzReader, FUZZ_READERS, FUZZ_SEED, untypedCount, type FuzzReader } from '../../harness/fuzz/reader-fuzz.js';

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '100000' },
    seed: { type: 'string', default: String(FUZZ_SEED) },
    reader: { type: 'string', multiple: true },
    show: { type: 'string' },
  },
});
const cases = Number.parseInt(values.cases, 10);
const seed = Number.parseInt(values.seed, values.seed.startsWith('0x') ? 16 : 10);
const readers = (values.reader ?? [...FUZZ_READERS]) as FuzzReader[];
for (const r of readers) {
  if (!FUZZ_READERS.includes(r)) {
    console.error(`unknown reader "${r}"; use ${FUZZ_READERS.join(', ')}`);
    process.exit(2);
  }
}
if (values.show !== undefined) {
  const input = fuzzCase(readers[0]!, Number.parseInt(values.show, 10), seed);
  process.stdout.write(typeof input === 'string' ? input : Buffer.from(input).toString('hex'));
  process.stdout.write('\n');
  process.exit(0);
}
let untyped = 0;
for (const reader of readers) {
  const started = performance.now();
  const report = fuzzReader(reader, cases, { seed });
  untyped += untypedCount(report);
  console.log(formatFuzzReport(report));
  console.log(`  (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
}
console.log(untyped === 0 ? 'no untyped errors' : `${untyped} untyped errors`);
process.exitCode = untyped === 0 ? 0 : 1;
