// The only file that talks to native code: a Cortex-M7 on Unicorn 2 (the system libunicorn,
// Debian `libunicorn2`) through koffi. Everything Unicorn does not do for M-profile cores
// (reset, exceptions, interrupts, WFI) is done above this seam in TypeScript.
//
// Unicorn 2.0.1 pitfalls, as found running the committed images (README, "Executed firmware", How it runs):
// - UC_CTL_TB_FLUSH grows memory without bound: only cache ranges are removed.
// - The timeout argument of uc_emu_start is costly: runs are bounded by instruction count.
// - A JavaScript exception must not unwind through native code: every callback catches, stops
//   the emulation and the error is rethrown once uc_emu_start has returned.
// - Stopping from inside a memory callback leaves the PC at the start of the translation
//   block, so callbacks never stop a run; they record and the run ends at its budget.
import type * as KoffiModule from 'koffi';
import type { CoreFaultKind, CoreRegister, CoreRun, CoreStop, CpuCore, MappedMemory, MmioHandler } from './cpu-core.js';
import { CpuUnavailableError } from './errors.js';

/** The environment variable naming a libunicorn shared library to use instead of the system one. */
export const LIBUNICORN_ENV = 'DFU_HIL_LIBUNICORN';

/** How to install libunicorn, for messages. */
export const LIBUNICORN_INSTALL_HINT =
  'Install Unicorn 2 (Debian/Ubuntu: `sudo apt-get install libunicorn2`; macOS: `brew install unicorn`), '
  + `or point ${LIBUNICORN_ENV} at a libunicorn 2.x shared library.`;

// unicorn.h / arm.h values of Unicorn 2.0.1.
const UC_ARCH_ARM = 1;
const UC_MODE_THUMB_MCLASS = 16 | 32;
const UC_CPU_ARM_CORTEX_M7 = 10;
const UC_CTL_SET_CPU_MODEL = 0x44000007; // UC_CTL_WRITE(UC_CTL_CPU_MODEL, 1)
const UC_CTL_REMOVE_CACHE = 0x48000009; // UC_CTL_WRITE(UC_CTL_TB_REMOVE_CACHE, 2)
const UC_HOOK_INTR = 1;
const UC_HOOK_CODE = 4;
const UC_HOOK_MEM_INVALID = 1008; // unmapped and protection events, read, write and fetch
const UC_HOOK_MEM_READ = 1024;
const UC_PROT = { r: 1, rx: 5, rwx: 7 } as const;
const UC_ERR = {
  OK: 0, READ_UNMAPPED: 6, WRITE_UNMAPPED: 7, FETCH_UNMAPPED: 8, INSN_INVALID: 10, WRITE_PROT: 12, READ_PROT: 13, FETCH_PROT: 14,
  READ_UNALIGNED: 16, WRITE_UNALIGNED: 17, FETCH_UNALIGNED: 18, EXCEPTION: 21,
} as const;
// QEMU's target/arm exception numbers, as the interrupt hook reports them.
const EXCP = { UDEF: 1, SWI: 2, PREFETCH_ABORT: 3, DATA_ABORT: 4, BKPT: 7, EXCEPTION_EXIT: 8, NOCP: 17, INVSTATE: 18, UNALIGNED: 22 } as const;
/** An address no Thumb PC can hold, so runs end only by budget or by a stop. */
const NEVER = 0xffffffff;

const REGISTER_IDS: Readonly<Record<CoreRegister, number>> = {
  r0: 66, r1: 67, r2: 68, r3: 69, r4: 70, r5: 71, r6: 72, r7: 73, r8: 74, r9: 75, r10: 76, r11: 77, r12: 78,
  sp: 12, lr: 10, pc: 11, msp: 115, psp: 116, xpsr: 120, ipsr: 114, primask: 123, basepri: 124, faultmask: 126, control: 117,
};

/* eslint-disable @typescript-eslint/no-explicit-any -- koffi's functions are untyped at this boundary */
type NativeFunction = (...args: any[]) => any;

/** The loaded library: functions and callback types, created once per process. */
interface UnicornBinding {
  koffi: typeof KoffiModule;
  path: string;
  version: string;
  open: NativeFunction;
  close: NativeFunction;
  ctl: NativeFunction;
  memMapPtr: NativeFunction;
  mmioMap: NativeFunction;
  hookAdd: NativeFunction;
  hookDel: NativeFunction;
  emuStart: NativeFunction;
  emuStop: NativeFunction;
  regRead: NativeFunction;
  regWrite: NativeFunction;
  strerror: NativeFunction;
  types: { mmioRead: unknown; mmioWrite: unknown; hookCode: unknown; hookIntr: unknown; hookMem: unknown; hookRead: unknown };
}
/* eslint-enable @typescript-eslint/no-explicit-any */

let binding: Promise<UnicornBinding> | undefined;

/** Library names tried when the environment names none. */
function candidateLibraries(): string[] {
  switch (process.platform) {
    case 'darwin': return ['/opt/homebrew/lib/libunicorn.2.dylib', '/usr/local/lib/libunicorn.2.dylib', 'libunicorn.2.dylib'];
    case 'win32': return ['unicorn.dll'];
    default: return ['libunicorn.so.2'];
  }
}

async function loadBinding(env: Readonly<Record<string, string | undefined>>): Promise<UnicornBinding> {
  let koffi: typeof KoffiModule;
  try {
    koffi = await import('koffi');
  } catch (error) {
    throw new CpuUnavailableError(`the koffi FFI package cannot be loaded on ${process.platform}-${process.arch}: ${String(error)}`, 'Run `npm install`; koffi ships prebuilt binaries for Linux, macOS and Windows.');
  }
  const wanted = env[LIBUNICORN_ENV];
  const paths = wanted ? [wanted] : candidateLibraries();
  const failures: string[] = [];
  for (const path of paths) {
    let lib: ReturnType<typeof koffi.load>;
    try {
      lib = koffi.load(path);
    } catch (error) {
      failures.push(`${path}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const versionOf = lib.func('unsigned int uc_version(_Out_ unsigned int *major, _Out_ unsigned int *minor)');
    const major = [0];
    const minor = [0];
    versionOf(major, minor);
    if ((major[0] ?? 0) < 2) {
      failures.push(`${path}: Unicorn ${major[0]}.${minor[0]} has no Cortex-M7; version 2 or later is needed`);
      continue;
    }
    const types = {
      mmioRead: koffi.proto('uint64_t DfuHilUcMmioRead(void *uc, uint64_t offset, unsigned int size, void *user)'),
      mmioWrite: koffi.proto('void DfuHilUcMmioWrite(void *uc, uint64_t offset, unsigned int size, uint64_t value, void *user)'),
      hookCode: koffi.proto('void DfuHilUcHookCode(void *uc, uint64_t address, uint32_t size, void *user)'),
      hookIntr: koffi.proto('void DfuHilUcHookIntr(void *uc, uint32_t intno, void *user)'),
      hookMem: koffi.proto('bool DfuHilUcHookMem(void *uc, int type, uint64_t address, int size, int64_t value, void *user)'),
      hookRead: koffi.proto('void DfuHilUcHookRead(void *uc, int type, uint64_t address, int size, int64_t value, void *user)'),
    };
    return {
      koffi, path, version: `${major[0]}.${minor[0]}`, types,
      open: lib.func('int uc_open(int arch, int mode, _Out_ void **uc)'),
      close: lib.func('int uc_close(void *uc)'),
      ctl: lib.func('int uc_ctl(void *uc, int control, ...)'),
      memMapPtr: lib.func('int uc_mem_map_ptr(void *uc, uint64_t address, size_t size, uint32_t perms, void *ptr)'),
      mmioMap: lib.func('int uc_mmio_map(void *uc, uint64_t address, size_t size, DfuHilUcMmioRead *read, void *ur, DfuHilUcMmioWrite *write, void *uw)'),
      hookAdd: lib.func('int uc_hook_add(void *uc, _Out_ size_t *hh, int type, void *callback, void *user, uint64_t begin, uint64_t end, ...)'),
      hookDel: lib.func('int uc_hook_del(void *uc, size_t hh)'),
      emuStart: lib.func('int uc_emu_start(void *uc, uint64_t begin, uint64_t until, uint64_t timeout, size_t count)'),
      emuStop: lib.func('int uc_emu_stop(void *uc)'),
      regRead: lib.func('int uc_reg_read(void *uc, int regid, uint32_t *value)'),
      regWrite: lib.func('int uc_reg_write(void *uc, int regid, const uint32_t *value)'),
      strerror: lib.func('const char *uc_strerror(int err)'),
    };
  }
  throw new CpuUnavailableError(`libunicorn 2 could not be loaded (${failures.join('; ')})`, LIBUNICORN_INSTALL_HINT);
}

function getBinding(env: Readonly<Record<string, string | undefined>>): Promise<UnicornBinding> {
  binding ??= loadBinding(env).catch((error: unknown) => {
    binding = undefined;
    throw error;
  });
  return binding;
}

/** What {@link unicornAvailability} found. */
export type UnicornAvailability = { available: true; engine: string; path: string } | { available: false; reason: string; hint: string };

/** Whether executed mode can run here: koffi loads and a libunicorn 2 is found. */
export async function unicornAvailability(env: Readonly<Record<string, string | undefined>> = process.env): Promise<UnicornAvailability> {
  try {
    const b = await getBinding(env);
    return { available: true, engine: `Unicorn ${b.version}`, path: b.path };
  } catch (error) {
    if (error instanceof CpuUnavailableError) return { available: false, reason: error.message, hint: error.hint ?? LIBUNICORN_INSTALL_HINT };
    throw error;
  }
}

/** A Cortex-M7 on Unicorn 2. Create it with {@link openUnicornCore}. */
export class UnicornCore implements CpuCore {
  readonly engine: string;
  private readonly word = new Uint32Array(1);
  private readonly hookHandle = [0];
  private readonly callbacks: unknown[] = [];
  private readonly regions: MappedMemory[] = [];
  private watchHooks = new Map<number, number>();
  private readHooks: number[] = [];
  private readRanges = '';
  private closed = false;
  // What the callbacks saw during the current run.
  private interrupt: number | undefined;
  private watchedHit: number | undefined;
  private invalidAccess: { type: number; address: number } | undefined;
  private callbackError: unknown;
  private stopRequested = false;

  /** @internal use {@link openUnicornCore} */
  constructor(private readonly b: UnicornBinding, private readonly uc: unknown) {
    this.engine = `Unicorn ${b.version}`;
    this.check(b.ctl(uc, UC_CTL_SET_CPU_MODEL, 'int', UC_CPU_ARM_CORTEX_M7), 'select the Cortex-M7 model');
    this.addHook(UC_HOOK_INTR, b.types.hookIntr, (_uc: unknown, intno: number) => {
      this.guard(() => {
        this.interrupt = intno;
        b.emuStop(uc);
      });
    });
    this.addHook(UC_HOOK_MEM_INVALID, b.types.hookMem, (_uc: unknown, type: number, address: number | bigint) => {
      this.guard(() => { this.invalidAccess = { type, address: Number(address) >>> 0 }; });
      return false;
    });
  }

  mapMemory(memory: MappedMemory): void {
    this.assertOpen();
    this.checkAligned(memory.base, memory.bytes.length, memory.name);
    // The array is held for the core's lifetime: its backing store is what Unicorn reads and writes.
    this.regions.push(memory);
    this.check(this.b.memMapPtr(this.uc, memory.base, memory.bytes.length, UC_PROT[memory.access], memory.bytes), `map ${memory.name}`);
  }

  mapMmio(base: number, size: number, handler: MmioHandler): void {
    this.assertOpen();
    this.checkAligned(base, size, 'a register block');
    const read = this.b.koffi.register((_uc: unknown, offset: number | bigint, width: number) => {
      try {
        return handler.read(base + Number(offset), width as 1 | 2 | 4) >>> 0;
      } catch (error) {
        this.fail(error);
        return 0;
      }
    }, this.b.koffi.pointer(this.b.types.mmioRead as never));
    const write = this.b.koffi.register((_uc: unknown, offset: number | bigint, width: number, value: number | bigint) => {
      try {
        handler.write(base + Number(offset), width as 1 | 2 | 4, typeof value === 'number' ? value >>> 0 : Number(BigInt.asUintN(32, value)));
      } catch (error) {
        this.fail(error);
      }
    }, this.b.koffi.pointer(this.b.types.mmioWrite as never));
    this.callbacks.push(read, write);
    this.check(this.b.mmioMap(this.uc, base, size, read, null, write, null), `map registers at 0x${base.toString(16)}`);
  }

  readRegister(register: CoreRegister): number {
    this.assertOpen();
    this.check(this.b.regRead(this.uc, REGISTER_IDS[register], this.word), `read ${register}`);
    return this.word[0]! >>> 0;
  }

  writeRegister(register: CoreRegister, value: number): void {
    this.assertOpen();
    this.word[0] = value >>> 0;
    this.check(this.b.regWrite(this.uc, REGISTER_IDS[register], this.word), `write ${register}`);
  }

  watchCode(addresses: readonly number[]): void {
    this.assertOpen();
    const wanted = new Set(addresses.map((a) => a & ~1));
    for (const [address, handle] of this.watchHooks) {
      if (wanted.has(address)) continue;
      this.check(this.b.hookDel(this.uc, handle), 'remove a code watch');
      this.watchHooks.delete(address);
      this.invalidateCode(address, 4);
    }
    for (const address of wanted) {
      if (this.watchHooks.has(address)) continue;
      this.watchHooks.set(address, this.addHook(UC_HOOK_CODE, this.b.types.hookCode, (_uc: unknown, at: number | bigint) => {
        this.guard(() => {
          this.watchedHit = Number(at) >>> 0;
          this.b.emuStop(this.uc);
        });
      }, address, address));
      // Hooks are consulted when code is translated: code already translated must go.
      this.invalidateCode(address, 4);
    }
  }

  watchReads(ranges: ReadonlyArray<readonly [number, number]>, onRead: (address: number) => void): void {
    this.assertOpen();
    const key = ranges.map(([s, e]) => `${s}-${e}`).join(',');
    if (key === this.readRanges) return;
    this.readRanges = key;
    for (const handle of this.readHooks) this.check(this.b.hookDel(this.uc, handle), 'remove a read watch');
    this.readHooks = ranges.map(([start, end]) => this.addHook(UC_HOOK_MEM_READ, this.b.types.hookRead, (_uc: unknown, _type: number, address: number | bigint) => {
      this.guard(() => onRead(Number(address) >>> 0));
    }, start, end - 1));
    // Whether a load calls the hook is decided when code is translated: translated code goes.
    for (const region of this.regions) if (region.access !== 'r') this.invalidateCode(region.base, region.bytes.length);
  }

  invalidateCode(address: number, length: number): void {
    this.assertOpen();
    if (length <= 0) return;
    this.check(this.b.ctl(this.uc, UC_CTL_REMOVE_CACHE, 'uint64_t', address, 'uint64_t', address + length), 'drop translated code');
  }

  run(pc: number, budget: number): CoreRun {
    this.assertOpen();
    this.interrupt = undefined;
    this.watchedHit = undefined;
    this.invalidAccess = undefined;
    this.callbackError = undefined;
    this.stopRequested = false;
    const count = Math.max(1, Math.floor(budget));
    const err = this.b.emuStart(this.uc, pc >>> 0, NEVER, 0, count) as number;
    if (this.callbackError !== undefined) {
      const error = this.callbackError;
      this.callbackError = undefined;
      throw error;
    }
    if (this.stopRequested && err === UC_ERR.OK && this.interrupt === undefined && this.watchedHit === undefined) return { stop: { kind: 'requested' }, executed: 0 };
    return { stop: this.stopReason(err), executed: count };
  }

  requestStop(): void {
    this.stopRequested = true;
    this.b.emuStop(this.uc);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.b.close(this.uc);
    for (const cb of this.callbacks) this.b.koffi.unregister(cb as bigint);
    this.callbacks.length = 0;
    this.regions.length = 0;
  }

  private stopReason(err: number): CoreStop {
    if (err === UC_ERR.OK) {
      if (this.watchedHit !== undefined) return { kind: 'watched', address: this.watchedHit };
      switch (this.interrupt) {
        case undefined: return { kind: 'budget' };
        case EXCP.SWI: return { kind: 'svc' };
        case EXCP.EXCEPTION_EXIT: return { kind: 'exception-return' };
        case EXCP.BKPT: return { kind: 'breakpoint' };
        case EXCP.UDEF: return { kind: 'fault', fault: 'undefined-instruction' };
        case EXCP.INVSTATE: return { kind: 'fault', fault: 'invalid-state' };
        case EXCP.UNALIGNED: return { kind: 'fault', fault: 'unaligned' };
        case EXCP.NOCP: return { kind: 'fault', fault: 'undefined-instruction', detail: 'coprocessor access (the FPU is off)' };
        case EXCP.PREFETCH_ABORT: return { kind: 'fault', fault: 'fetch-protected' };
        case EXCP.DATA_ABORT: return { kind: 'fault', fault: 'read-protected' };
        default: return { kind: 'fault', fault: 'other', detail: `CPU exception ${this.interrupt}` };
      }
    }
    const address = this.invalidAccess?.address;
    const fault = (kind: CoreFaultKind): CoreStop => ({ kind: 'fault', fault: kind, ...(address === undefined ? {} : { address }) });
    switch (err) {
      case UC_ERR.FETCH_UNMAPPED: return fault('fetch-unmapped');
      case UC_ERR.FETCH_PROT: return { kind: 'fault', fault: 'fetch-protected', address: address ?? this.readRegister('pc') };
      case UC_ERR.READ_UNMAPPED: return fault('read-unmapped');
      case UC_ERR.WRITE_UNMAPPED: return fault('write-unmapped');
      case UC_ERR.WRITE_PROT: return fault('write-protected');
      case UC_ERR.READ_PROT: return fault('read-protected');
      case UC_ERR.INSN_INVALID:
        // A PC without the Thumb bit lands here too: the M-profile core has no ARM state.
        return { kind: 'fault', fault: (this.readRegister('xpsr') & (1 << 24)) === 0 ? 'invalid-state' : 'undefined-instruction' };
      case UC_ERR.READ_UNALIGNED: case UC_ERR.WRITE_UNALIGNED: case UC_ERR.FETCH_UNALIGNED: return fault('unaligned');
      default: return { kind: 'fault', fault: 'other', detail: String(this.b.strerror(err)) };
    }
  }

  private addHook(type: number, proto: unknown, callback: (...args: never[]) => unknown, begin = 1, end = 0): number {
    const registered = this.b.koffi.register(callback, this.b.koffi.pointer(proto as never));
    this.callbacks.push(registered);
    this.check(this.b.hookAdd(this.uc, this.hookHandle, type, registered, null, begin, end), 'add a hook');
    return this.hookHandle[0]!;
  }

  /** Runs callback work; an exception is kept for run() to rethrow, never left to unwind through Unicorn. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    this.callbackError ??= error;
    this.b.emuStop(this.uc);
  }

  private check(err: number, what: string): void {
    if (err !== UC_ERR.OK) throw new CpuUnavailableError(`Unicorn could not ${what}: ${String(this.b.strerror(err))}`, LIBUNICORN_INSTALL_HINT);
  }

  private checkAligned(base: number, size: number, what: string): void {
    if (base % 0x1000 !== 0 || size % 0x1000 !== 0 || size === 0) {
      throw new RangeError(`${what} at 0x${base.toString(16)} (${size} bytes) is not 4 KiB aligned, which Unicorn requires`);
    }
  }

  private assertOpen(): void {
    if (this.closed) throw new Error('the Unicorn core has been closed');
  }
}

/** Opens a Cortex-M7 on Unicorn; throws {@link CpuUnavailableError} (with the install hint) when libunicorn is missing. */
export async function openUnicornCore(env: Readonly<Record<string, string | undefined>> = process.env): Promise<UnicornCore> {
  const b = await getBinding(env);
  const handle: unknown[] = [null];
  const err = b.open(UC_ARCH_ARM, UC_MODE_THUMB_MCLASS, handle) as number;
  if (err !== UC_ERR.OK) throw new CpuUnavailableError(`Unicorn could not open an ARM core: ${String(b.strerror(err))}`, LIBUNICORN_INSTALL_HINT);
  return new UnicornCore(b, handle[0]);
}
