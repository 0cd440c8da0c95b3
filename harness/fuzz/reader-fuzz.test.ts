// A few thousand fuzzed inputs per reader on every `npm test` (10^5 each: `npm run fuzz`).
import { describe, expect, it } from 'vitest';
import { classify, formatFuzzReport, fuzzCase, fuzzReader, untypedCount, type FuzzReader } from './reader-fuzz.js';

const CASES: Record<FuzzReader, number> = { dfu: 2000, hex: 2000, rigs: 1000 };

describe('the file readers under fuzzing', () => {
  it.each(Object.entries(CASES) as Array<[FuzzReader, number]>)('%s: %i generated inputs end in a result or a typed error, never an untyped one', (reader, cases) => {
    const report = fuzzReader(reader, cases);
    expect(untypedCount(report), formatFuzzReport(report)).toBe(0);
    // The inputs reach past the first check: some parse, and several different faults are found.
    expect(report.outcomes.get('ok') ?? 0).toBeGreaterThan(cases / 50);
    expect(report.outcomes.size).toBeGreaterThanOrEqual(3);
    expect([...report.outcomes.values()].reduce((a, b) => a + b, 0)).toBe(cases);
  });

  it('rebuilds any case from its number, so a failure can be replayed', () => {
    expect(fuzzCase('hex', 1234)).toEqual(fuzzCase('hex', 1234));
    expect(fuzzCase('rigs', 700)).not.toEqual(fuzzCase('rigs', 701));
    // Case 3 of a run is the fourth input that run read.
    const report = fuzzReader('dfu', 4, { keepUntyped: 0 });
    expect([...report.outcomes.values()].reduce((a, b) => a + b, 0)).toBe(4);
  });

  it('counts anything that is not one of dfu-hil\'s errors as untyped', () => {
    expect(classify(undefined)).toBe('ok');
    expect(classify(new TypeError('x'))).toBe('untyped TypeError');
    expect(classify('thrown string')).toBe('untyped string');
  });
});
