// Test and benchmark data: bytes that differ from offset to offset (xorshift32), so that a block
// written to or read from the wrong address cannot pass, and that nothing can shortcut as a pattern.

/** `length` deterministic pseudo-random bytes; the same seed gives the same bytes. */
export function patternBytes(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 0x9e3779b9;
  for (let i = 0; i < length; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
