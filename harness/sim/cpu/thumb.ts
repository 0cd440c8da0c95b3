// The few facts about Thumb-2 encodings the runner needs (ARMv7-M ARM A5.1, A7.7).

/** Bytes of the Thumb instruction whose first halfword is `halfword`: 4 for a 32-bit encoding (top five bits 0b11101, 0b11110, 0b11111). */
export function thumbInstructionSize(halfword: number): 2 | 4 {
  return (halfword & 0xf800) >= 0xe800 ? 4 : 2;
}

/** WFI (T1 0xBF30, T2 0xF3AF 0x8003) and WFE (T1 0xBF20, T2 0xF3AF 0x8002): the core sleeps on them. */
export function isWaitInstruction(first: number, second: number | undefined): 2 | 4 | undefined {
  if (first === 0xbf30 || first === 0xbf20) return 2;
  if (first === 0xf3af && (second === 0x8003 || second === 0x8002)) return 4;
  return undefined;
}

/** `b .` (0xE7FE) or `b.w .` (0xF7FF 0xBFFE): a branch to itself, which only an exception can leave. */
export function isBranchToSelf(first: number, second: number | undefined): boolean {
  return first === 0xe7fe || (first === 0xf7ff && second === 0xbffe);
}

/**
 * Addresses of every WFI/WFE encoding in `bytes` (halfword aligned) and their sizes. A match
 * that is really data or the second half of another instruction is harmless: it is only ever
 * consulted when the core is about to execute that address.
 */
export function findWaitInstructions(bytes: Uint8Array, base: number): Map<number, 2 | 4> {
  const found = new Map<number, 2 | 4>();
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const lo = bytes[i]!;
    // Fast reject: every wait encoding's first halfword has 0xBF or 0xF3 as its high byte.
    const hi = bytes[i + 1]!;
    if (hi !== 0xbf && hi !== 0xf3) continue;
    const first = lo | (hi << 8);
    const second = i + 3 < bytes.length ? bytes[i + 2]! | (bytes[i + 3]! << 8) : undefined;
    const size = isWaitInstruction(first, second);
    if (size !== undefined) found.set(base + i, size);
  }
  return found;
}
