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

/** The special registers an MSR can mask interrupts with (SYSm 0x10-0x13, ARMv7-M B5.1.1). */
export type MaskRegister = 'primask' | 'basepri' | 'basepri_max' | 'faultmask';
const MASK_SYSM: Readonly<Record<number, MaskRegister>> = { 0x10: 'primask', 0x11: 'basepri', 0x12: 'basepri_max', 0x13: 'faultmask' };

/** An instruction the runner handles itself: it sleeps on waits and takes interrupts right after an unmask. */
export type WatchedInstruction =
  | { kind: 'wait'; size: 2 | 4 }
  /** CPSIE i (0xB662) or CPSIE f (0xB661). */
  | { kind: 'cpsie'; size: 2; mask: 'primask' | 'faultmask' }
  /** MSR <mask register>, Rn (0xF38n 0x88xx). */
  | { kind: 'msr'; size: 4; register: MaskRegister; rn: number };

/** Decodes a wait or an interrupt-unmasking instruction, if `first`/`second` are one. */
export function watchedInstruction(first: number, second: number | undefined): WatchedInstruction | undefined {
  const wait = isWaitInstruction(first, second);
  if (wait !== undefined) return { kind: 'wait', size: wait };
  if (first === 0xb662) return { kind: 'cpsie', size: 2, mask: 'primask' };
  if (first === 0xb661) return { kind: 'cpsie', size: 2, mask: 'faultmask' };
  if ((first & 0xfff0) === 0xf380 && second !== undefined && (second & 0xff00) === 0x8800) {
    const register = MASK_SYSM[second & 0xff];
    if (register) return { kind: 'msr', size: 4, register, rn: first & 0xf };
  }
  return undefined;
}

/**
 * Addresses of every wait (WFI, WFE) and interrupt-unmasking instruction (CPSIE, MSR to PRIMASK,
 * BASEPRI or FAULTMASK) in `bytes`, halfword aligned. A match that is really data or the second
 * half of another instruction is harmless: it is only consulted when the core is about to
 * execute that address.
 */
export function findWatchedInstructions(bytes: Uint8Array, base: number): Map<number, WatchedInstruction> {
  const found = new Map<number, WatchedInstruction>();
  for (let i = 0; i + 1 < bytes.length; i += 2) {
    const hi = bytes[i + 1]!;
    // Fast reject: every watched encoding's first halfword has 0xBF, 0xB6 or 0xF3 as its high byte.
    if (hi !== 0xbf && hi !== 0xf3 && hi !== 0xb6) continue;
    const first = bytes[i]! | (hi << 8);
    const second = i + 3 < bytes.length ? bytes[i + 2]! | (bytes[i + 3]! << 8) : undefined;
    const watched = watchedInstruction(first, second);
    if (watched) found.set(base + i, watched);
  }
  return found;
}

/**
 * A 256-byte image for 0x08000000 from hand-assembled Thumb halfwords: a vector table with MSP
 * 0x20001000 and the reset vector 0x08000041, the code at offset 0x40, the rest erased (0xFF).
 */
export function handAssembledImage(halfwords: readonly number[]): Uint8Array {
  const bytes = new Uint8Array(0x100).fill(0xff);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, 0x20001000, true);
  view.setUint32(4, 0x08000041, true);
  halfwords.forEach((h, i) => view.setUint16(0x40 + 2 * i, h, true));
  return bytes;
}
