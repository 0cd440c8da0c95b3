// Property-based checks: round trips of arbitrary non-overlapping images, and readers that fail
// only with ImageError whatever bytes they are given.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadBin } from './bin.js';
import { dfuSuffixCrc } from './crc32.js';
import { readDfu, writeDfu } from './dfuse-file.js';
import { ImageError } from './errors.js';
import { createFirmwareImage, type DfuseTarget, type ImageSegment } from './firmware-image.js';
import { parseImage } from './image-file.js';
import { readHex, writeHex } from './intel-hex.js';

// Modest run counts: the suite runs on 2 cores alongside everything else.
const RUNS = { numRuns: 80 };
const FUZZ_RUNS = { numRuns: 250 };

/** Non-overlapping segments (adjacent ones allowed), sometimes across 64 KiB boundaries, below 0x80000000. */
const segmentsArb: fc.Arbitrary<ImageSegment[]> = fc.record({
  base: fc.integer({ min: 0, max: 0x7fe00000 }),
  parts: fc.array(fc.record({
    gap: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0x8000, max: 0x20000 })),
    data: fc.uint8Array({ minLength: 1, maxLength: 200 }),
  }), { minLength: 1, maxLength: 5 }),
}).map(({ base, parts }) => {
  let at = base;
  return parts.map(({ gap, data }) => {
    at += gap;
    const segment = { address: at, data };
    at += data.length;
    return segment;
  });
});

const targetNameArb = fc.option(fc.string({ unit: fc.constantFrom(...' ABCDEFGHIJKLMNOPQRSTUVWXYZabcxyz0123456789./-_'.split('')), maxLength: 40 }), { nil: undefined });

/** Splits one non-overlapping run of segments over up to four targets. */
const targetsArb: fc.Arbitrary<DfuseTarget[]> = segmentsArb.chain((segments) => fc.record({
  owners: fc.array(fc.nat({ max: 3 }), { minLength: segments.length, maxLength: segments.length }),
  alts: fc.array(fc.nat({ max: 255 }), { minLength: 4, maxLength: 4 }),
  names: fc.array(targetNameArb, { minLength: 4, maxLength: 4 }),
}).map(({ owners, alts, names }) => {
  const used = [...new Set(owners)].sort();
  return used.map((owner) => ({
    alternateSetting: alts[owner]!,
    ...(names[owner] !== undefined ? { name: names[owner] } : {}),
    segments: segments.filter((_, i) => owners[i] === owner),
  }));
}));

const deviceArb = fc.record({ vendorId: fc.nat({ max: 0xffff }), productId: fc.nat({ max: 0xffff }), bcdDevice: fc.nat({ max: 0xffff }) });

/** Runs a reader; anything thrown must be an ImageError (fast-check then shrinks a counterexample). */
function onlyImageErrors(read: () => unknown): void {
  try {
    read();
  } catch (error) {
    if (!(error instanceof ImageError)) {
      throw new Error(`reader threw ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)} instead of an ImageError`);
    }
    expect(error.message.length).toBeGreaterThan(0);
  }
}

/** Recomputes a DFU suffix CRC so mutations reach the parser behind the CRC check. */
function resign(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  if (out.length >= 4) new DataView(out.buffer).setUint32(out.length - 4, dfuSuffixCrc(out.subarray(0, out.length - 4)), true);
  return out;
}

describe('round trips', () => {
  it('any non-overlapping DfuSe targets survive writeDfu -> readDfu', () => {
    fc.assert(fc.property(targetsArb, deviceArb, (targets, device) => {
      const image = createFirmwareImage({ source: 'prop', format: 'dfu', targets, device });
      const back = readDfu(writeDfu(image), 'prop.dfu');
      expect(back.targets).toEqual(image.targets);
      expect(back.segments).toEqual(image.segments);
      expect(back.device).toEqual(device);
    }), RUNS);
  });

  it('any non-overlapping segments survive writeHex -> readHex (adjacent runs merged)', () => {
    fc.assert(fc.property(segmentsArb, fc.option(fc.nat({ max: 0xffffffff }), { nil: undefined }), fc.integer({ min: 1, max: 255 }), (segments, startAddress, recordSize) => {
      const image = createFirmwareImage({ source: 'prop', format: 'hex', segments, ...(startAddress !== undefined ? { startAddress } : {}) });
      const back = readHex(writeHex(image, { recordSize }), 'prop.hex');
      expect(back.segments).toEqual(image.segments);
      expect(back.startAddress).toBe(startAddress);
    }), RUNS);
  });
});

describe('readers never crash', () => {
  it('arbitrary bytes give a result or an ImageError from every reader', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat({ max: 0xffffffff }), (bytes, address) => {
      onlyImageErrors(() => readDfu(bytes, 'fuzz.dfu'));
      onlyImageErrors(() => readHex(bytes, 'fuzz.hex'));
      onlyImageErrors(() => loadBin(bytes, address, 'fuzz.bin'));
      for (const name of ['fuzz.dfu', 'fuzz.hex', 'fuzz.bin', 'fuzz']) onlyImageErrors(() => parseImage(bytes, name));
    }), FUZZ_RUNS);
  });

  it('arbitrary bytes behind a DfuSe prefix and a valid suffix give a result or an ImageError', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat({ max: 3 }), (body, targets) => {
      const file = new Uint8Array(11 + body.length + 16);
      file.set(Buffer.from('DfuSe'), 0);
      file[5] = 1;
      new DataView(file.buffer).setUint32(6, 11 + body.length, true);
      file[10] = targets;
      file.set(body, 11);
      file.set([0xff, 0xff, 0x11, 0xdf, 0x83, 0x04, 0x1a, 0x01, 0x55, 0x46, 0x44, 0x10], file.length - 16);
      onlyImageErrors(() => readDfu(resign(file), 'fuzz.dfu'));
    }), FUZZ_RUNS);
  });

  it('mutations of valid .dfu files give a result or an ImageError', () => {
    const mutation = fc.record({
      flips: fc.array(fc.record({ at: fc.nat(), value: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0, 0xff, 0x7f, 0x80)) }), { maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      resign: fc.boolean(),
    });
    fc.assert(fc.property(targetsArb, mutation, (targets, m) => {
      let file = writeDfu(createFirmwareImage({ source: 'm', format: 'dfu', targets }));
      for (const { at, value } of m.flips) file[at % file.length] = value;
      if (m.cut !== undefined) file = file.subarray(0, m.cut % (file.length + 1));
      if (m.resign) file = resign(file);
      onlyImageErrors(() => readDfu(file, 'mutant.dfu'));
    }), FUZZ_RUNS);
  });

  it('mutations of valid .hex files give a result or an ImageError', () => {
    const hexChar = fc.constantFrom(...':0123456789ABCDEFabcdef\r\n 8F0'.split(''));
    const edit = fc.record({ at: fc.nat(), kind: fc.constantFrom('replace', 'insert', 'delete'), char: hexChar });
    fc.assert(fc.property(segmentsArb, fc.array(edit, { minLength: 1, maxLength: 5 }), (segments, edits) => {
      let text = writeHex(createFirmwareImage({ source: 'm', format: 'hex', segments }));
      for (const { at, kind, char } of edits) {
        const i = at % (text.length + 1);
        text = kind === 'insert' ? text.slice(0, i) + char + text.slice(i)
          : kind === 'replace' ? text.slice(0, i) + char + text.slice(i + 1)
            : text.slice(0, i) + text.slice(i + 1);
      }
      onlyImageErrors(() => readHex(text, 'mutant.hex'));
      onlyImageErrors(() => parseImage(Buffer.from(text, 'latin1'), 'mutant.hex'));
    }), FUZZ_RUNS);
  });
});
