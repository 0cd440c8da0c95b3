import { describe, expect, it } from 'vitest';
import { dfuSuffixCrc } from './crc32.js';
import { readDfu, readDfuSuffix, writeDfu } from './dfuse-file.js';
import type { ImageFault } from './errors.js';
import { createFirmwareImage, type FirmwareImage } from './firmware-image.js';
import { imageErrorOf } from './testing/image-error-of.js';

/** CRC-32 bit by bit, without zlib, to check the suffix convention independently. */
function referenceDfuCrc(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let i = 0; i < 8; i++) crc = (crc >>> 1) ^ (crc & 1 ? 0xedb88320 : 0);
  }
  return crc >>> 0; // no final inversion: that is the DFU suffix convention
}

function expectFault(bytes: Uint8Array, fault: ImageFault, message: RegExp): void {
  const error = imageErrorOf(() => readDfu(bytes, 'board.dfu'));
  expect(error.fault).toBe(fault);
  expect(error.code).toBe(`image-${fault}`);
  expect(error.message).toMatch(/^board\.dfu: /);
  expect(error.message).toMatch(message);
}

/** Recomputes the suffix CRC after a test edits a file, so the reader gets past the CRC check. */
function resign(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  new DataView(out.buffer).setUint32(out.length - 4, dfuSuffixCrc(out.subarray(0, out.length - 4)), true);
  return out;
}

const small: FirmwareImage = createFirmwareImage({
  source: 'small', format: 'dfu',
  targets: [{ alternateSetting: 0, name: 'ST...', segments: [{ address: 0x08000000, data: Uint8Array.from([0xde, 0xad, 0xbe, 0xef]) }] }],
  device: { vendorId: 0x0483, productId: 0xdf11, bcdDevice: 0x2200 },
});

describe('writeDfu', () => {
  it('lays out a one-element file exactly as UM0391 says', () => {
    const file = writeDfu(small);
    expect(file.length).toBe(11 + 274 + 8 + 4 + 16);
    const hex = (from: number, to: number): string => Buffer.from(file.subarray(from, to)).toString('hex');
    expect(hex(0, 5)).toBe(Buffer.from('DfuSe').toString('hex'));
    expect(file[5]).toBe(0x01); // bVersion
    expect(hex(6, 10)).toBe('29010000'); // DFUImageSize = 297 = everything but the suffix
    expect(file[10]).toBe(1); // bTargets
    expect(hex(11, 17)).toBe(Buffer.from('Target').toString('hex'));
    expect(file[17]).toBe(0); // bAlternateSetting
    expect(hex(18, 22)).toBe('01000000'); // bTargetNamed
    expect(hex(22, 27)).toBe(Buffer.from('ST...').toString('hex'));
    expect(file.subarray(27, 277).every((b) => b === 0)).toBe(true); // rest of szTargetName[255]
    expect(hex(277, 281)).toBe('0c000000'); // dwTargetSize = 8-byte element header + 4 bytes
    expect(hex(281, 285)).toBe('01000000'); // dwNbElements
    expect(hex(285, 289)).toBe('00000008'); // dwElementAddress 0x08000000
    expect(hex(289, 293)).toBe('04000000'); // dwElementSize
    expect(hex(293, 297)).toBe('deadbeef');
    expect(hex(297, 309)).toBe('0022' + '11df' + '8304' + '1a01' + '554644' + '10'); // bcdDevice, idProduct, idVendor, bcdDFU, "UFD", bLength
    const crc = new DataView(file.buffer).getUint32(309, true);
    expect(crc).toBe(referenceDfuCrc(file.subarray(0, 309)));
  });

  it('writes an unnamed alt-0 target and ST\'s VID:PID when the image has no DfuSe structure', () => {
    const image = createFirmwareImage({ source: 's', format: 'bin', segments: [{ address: 0x08100000, data: new Uint8Array(3).fill(7) }] });
    const file = writeDfu(image);
    expect(file[17]).toBe(0);
    expect(Array.from(file.subarray(18, 22))).toEqual([0, 0, 0, 0]);
    const suffix = readDfuSuffix(file, 'f');
    expect(suffix).toMatchObject({ vendorId: 0x0483, productId: 0xdf11, bcdDevice: 0xffff, bcdDfu: 0x011a, length: 16 });
    const back = readDfu(file, 'f');
    expect(back.targets).toEqual([{ alternateSetting: 0, segments: [{ address: 0x08100000, data: new Uint8Array(3).fill(7) }] }]);
  });

  it('refuses names that do not fit szTargetName', () => {
    const image = createFirmwareImage({ source: 's', format: 'dfu', targets: [{ alternateSetting: 0, name: 'x'.repeat(255), segments: [{ address: 0, data: new Uint8Array(1) }] }] });
    expect(() => writeDfu(image)).toThrow(/at most 254/);
  });
});

describe('readDfu', () => {
  const file = writeDfu(small);

  it('reads back targets, names and the suffix identity', () => {
    const image = readDfu(file, 'small.dfu');
    expect(image.format).toBe('dfu');
    expect(image.device).toEqual({ vendorId: 0x0483, productId: 0xdf11, bcdDevice: 0x2200 });
    expect(image.targets).toEqual(small.targets);
    expect(image.segments).toEqual(small.segments);
  });

  it('reports a wrong CRC with both values', () => {
    const bad = file.slice();
    bad[294]! ^= 0x01;
    expectFault(bad, 'crc', /DFU suffix CRC mismatch: the file says 0x[0-9A-F]{8}, its contents give 0x[0-9A-F]{8}/);
  });

  it('reports wrong signatures in the prefix, the target and the suffix', () => {
    const prefix = file.slice();
    prefix[4] = 0x45;
    expectFault(resign(prefix), 'signature', /does not start with "DfuSe" \(found "DfuSE"\)/);
    const target = file.slice();
    target[11] = 0x74;
    expectFault(resign(target), 'signature', /target 0 at offset 11 does not start with "Target"/);
    const suffix = file.slice();
    suffix[305] = 0x58;
    expectFault(suffix, 'signature', /no DFU suffix/);
    const version = file.slice();
    version[5] = 2;
    expectFault(resign(version), 'signature', /bVersion is 2/);
    const bcd = file.slice();
    bcd[303] = 0x1b;
    expectFault(resign(bcd), 'signature', /bcdDFU is 0x011b/);
  });

  it('reports truncation anywhere as truncated, never a RangeError', () => {
    for (const length of [0, 4, 10, 11, 100, 285, 296, 300, 312]) {
      expectFault(file.subarray(0, length), 'truncated', /too short|announces/);
    }
  });

  it('reports sizes that disagree', () => {
    const longer = new Uint8Array(file.length + 3);
    longer.set(file);
    expectFault(longer, 'size-mismatch', /3 more than its DfuSe prefix announces/);
    const targetSize = file.slice();
    new DataView(targetSize.buffer).setUint32(277, 11, true);
    expectFault(resign(targetSize), 'size-mismatch', /element 0 \(4 bytes at 0x08000000\) at offset 293 needs 4 bytes but target 0 \(alt 0\) \(dwTargetSize 11\) ends at offset 296/);
    const bigTarget = file.slice();
    new DataView(bigTarget.buffer).setUint32(277, 13, true);
    expectFault(resign(bigTarget), 'size-mismatch', /dwTargetSize is 13, which runs past the end of the image data \(DFUImageSize 297\)/);
    const fewer = writeDfu({ ...small, targets: [{ alternateSetting: 0, segments: [{ address: 0, data: new Uint8Array(4) }, { address: 8, data: new Uint8Array(4) }] }] });
    new DataView(fewer.buffer).setUint32(281, 1, true);
    expectFault(resign(fewer), 'size-mismatch', /dwTargetSize is 24 but its 1 element\(s\) take 12 bytes/);
    const elementSize = file.slice();
    new DataView(elementSize.buffer).setUint32(289, 5, true);
    expectFault(resign(elementSize), 'size-mismatch', /element 0 \(5 bytes at 0x08000000\) at offset 293 needs 5 bytes but target 0 \(alt 0\) \(dwTargetSize 12\) ends at offset 297/);
    const count = file.slice();
    new DataView(count.buffer).setUint32(281, 2, true);
    expectFault(resign(count), 'size-mismatch', /says it has 2 elements but dwTargetSize 12 cannot hold their headers/);
    const huge = file.slice();
    new DataView(huge.buffer).setUint32(281, 0xffffffff, true);
    expectFault(resign(huge), 'size-mismatch', /4294967295 elements/);
    const suffixLength = file.slice();
    suffixLength[308] = 17;
    expectFault(suffixLength, 'size-mismatch', /bLength is 17; a DfuSe suffix is 16 bytes/);
  });

  it('reports an element running past the 32-bit address space', () => {
    const wrap = file.slice();
    new DataView(wrap.buffer).setUint32(285, 0xfffffffe, true);
    expectFault(resign(wrap), 'size-mismatch', /runs past the 32-bit address space/);
  });

  it('reports overlapping elements and a file without targets', () => {
    const overlapping = createFirmwareImage({ source: 's', format: 'dfu', targets: [{ alternateSetting: 0, segments: [{ address: 0x08000000, data: new Uint8Array(16) }] }] });
    const twoElements = writeDfu({
      ...overlapping,
      targets: [{ alternateSetting: 0, segments: [{ address: 0x08000000, data: new Uint8Array(16) }, { address: 0x08000008, data: new Uint8Array(16) }] }],
    });
    expectFault(twoElements, 'overlap', /target 0 \(alt 0\): elements overlap: bytes 0x08000008\.\.0x08000018 overlap bytes 0x08000000\.\.0x08000010/);
    const none = Uint8Array.from([...Buffer.from('DfuSe'), 1, 11, 0, 0, 0, 0, ...new Uint8Array(16)]);
    none.set([0x00, 0x00, 0x11, 0xdf, 0x83, 0x04, 0x1a, 0x01, 0x55, 0x46, 0x44, 0x10], 11);
    expectFault(resign(none), 'empty', /bTargets = 0/);
  });

  it('explains a plain DFU file (suffix without DfuSe prefix)', () => {
    const plain = resign(Uint8Array.from([1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x01, 0x55, 0x46, 0x44, 0x10, 0, 0, 0, 0]));
    const error = imageErrorOf(() => readDfu(plain, 'plain.dfu'));
    expect(error.fault).toBe('signature');
    expect(error.hint).toMatch(/plain DFU file carries no load address/);
  });
});
