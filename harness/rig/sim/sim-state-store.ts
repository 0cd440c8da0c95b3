// Keeps a simulated board between runs, so that `dfu-hil enter` then `dfu-hil flash` act on one
// board as they would at a bench, rather than each on a fresh one. One directory per rig:
//
//   <root>/sim/<rig>/state.json   format, option bytes, power, what runs, the DFU session while the
//                                 bootloader runs, flash-word ECC states (run-length)
//   <root>/sim/<rig>/flash.bin    the 2 MiB of user flash from 0x08000000
//
// <root> is `.dfu-hil/` next to rigs.yaml unless told otherwise; when the store creates <root>
// it writes a `.gitignore` there so that board state never ends up in a commit (a directory
// that already existed is left as it is). Files are replaced by rename, so a run
// killed mid-save leaves the previous state, never half of one.
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { SimBoardState } from '../../sim/board/nucleo-h745.js';
import type { DfuSessionState } from '../../sim/bootloader/dfuse-device-model.js';
import { FLASH_WORD_BYTES } from '../../sim/flash/flash-bank.js';
import type { OptionRegisters } from '../../sim/option-bytes/sim-option-bytes.js';
import { RigInfrastructureError } from '../rig-errors.js';

/** Version of the files; a store refuses files of another version instead of guessing. */
export const SIM_STATE_FORMAT = 1;

const STATE_FILE = 'state.json';
const FLASH_FILE = 'flash.bin';
const OPTION_KEYS = ['optsr', 'prar1', 'scar1', 'wpsn1', 'boot7', 'boot4', 'prar2', 'scar2', 'wpsn2'] as const satisfies readonly (keyof OptionRegisters)[];

/** The saved state of a simulated board cannot be read back. */
export class SimStateError extends RigInfrastructureError {
  constructor(readonly file: string, problem: string, options: { cause?: unknown } = {}) {
    super('sim-state', `${file}: ${problem}`, {
      hint: 'Run `dfu-hil sim reset` to put the simulated board back to its factory state (this discards what was flashed).',
      ...options,
    });
  }
}

/** state.json as written. */
interface StateFile {
  format: number;
  rig: string;
  savedAt: string;
  powered: boolean;
  running: SimBoardState['running'];
  options: { current: Record<string, string>; programmed: Record<string, string> };
  /** Flash-word states as [state, count] runs in address order (2 MiB is 65536 words, mostly runs). */
  wordStates: Array<[number, number]>;
  flashFile: string;
  flashBytes: number;
  /** The bootloader's DFU session, while the board runs it (absent in files written before it was kept). */
  dfu?: DfuSessionFile;
}

/** A DFU session in state.json: numbers as the wire has them, addresses and data in hex. */
interface DfuSessionFile {
  state: number;
  status: number;
  addressPointer: string;
  jumpTarget: string;
  altSetting: number;
  writesPoisoned: boolean;
  afterBusy?: { state: number; status: number } | 'stuck';
  pending?: { wValue: number; data: string; target: 'flash' | 'option-bytes' };
}

/** Where simulated rigs keep their boards: DFU_HIL_STATE_DIR (relative to `cwd`), else `.dfu-hil/` in `projectDir` (rigs.yaml's folder). */
export function simStateRoot(where: { projectDir: string; cwd: string; env: Readonly<Record<string, string | undefined>> }): string {
  const fromEnv = where.env.DFU_HIL_STATE_DIR;
  return fromEnv ? path.resolve(where.cwd, fromEnv) : path.join(where.projectDir, '.dfu-hil');
}

const hexWord = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

function encodeRuns(states: Uint8Array): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  for (const s of states) {
    const last = runs[runs.length - 1];
    if (last && last[0] === s) last[1] += 1;
    else runs.push([s, 1]);
  }
  return runs;
}

/** Where a simulated board is kept between runs: what a rig restores when it opens and saves when it closes. */
export interface SavedBoard {
  /** The board saved last, or undefined when there is none (a factory-fresh board). */
  load(): Promise<SimBoardState | undefined>;
  save(state: SimBoardState): Promise<void>;
}

/** The saved board of one simulated rig. */
export class SimStateStore implements SavedBoard {
  /** The rig's directory. */
  readonly dir: string;

  constructor(readonly root: string, readonly rig: string) {
    if (!/^[A-Za-z0-9._-]+$/.test(rig) || rig === '.' || rig === '..') {
      throw new SimStateError(rig, 'a rig name must be usable as a directory name to keep its simulated board');
    }
    this.dir = path.join(root, 'sim', rig);
  }

  /** The board saved by an earlier run, or undefined when there is none (a factory-fresh board). */
  async load(): Promise<SimBoardState | undefined> {
    const statePath = path.join(this.dir, STATE_FILE);
    let text: string;
    try {
      text = await readFile(statePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new SimStateError(statePath, `cannot read it: ${(error as Error).message}`, { cause: error });
    }
    let file: StateFile;
    try {
      file = JSON.parse(text) as StateFile;
    } catch (error) {
      throw new SimStateError(statePath, 'is not valid JSON', { cause: error });
    }
    if (file.format !== SIM_STATE_FORMAT) throw new SimStateError(statePath, `has format ${String(file.format)}; this dfu-hil reads format ${SIM_STATE_FORMAT}`);
    const flashPath = path.join(this.dir, file.flashFile ?? FLASH_FILE);
    let flash: Uint8Array;
    try {
      const bytes = await readFile(flashPath);
      flash = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (error) {
      throw new SimStateError(flashPath, `cannot read the saved flash: ${(error as Error).message}`, { cause: error });
    }
    if (flash.length !== file.flashBytes) throw new SimStateError(flashPath, `holds ${flash.length} bytes; ${STATE_FILE} says ${file.flashBytes}`);
    const wordStates = this.decodeRuns(file.wordStates, statePath);
    if (wordStates.length * FLASH_WORD_BYTES !== flash.length) {
      throw new SimStateError(statePath, `has ${wordStates.length} flash-word states for ${flash.length} bytes of flash (one per ${FLASH_WORD_BYTES} bytes expected)`);
    }
    if (!['app', 'bootloader', 'none'].includes(file.running) || typeof file.powered !== 'boolean') {
      throw new SimStateError(statePath, 'does not say whether the board is powered and what it runs');
    }
    return {
      flash,
      wordStates,
      options: { current: this.decodeOptions(file.options?.current, statePath), programmed: this.decodeOptions(file.options?.programmed, statePath) },
      powered: file.powered,
      running: file.running,
      ...(file.dfu === undefined ? {} : { dfu: decodeSession(file.dfu, statePath) }),
    };
  }

  /** Where the leases of the simulated boards under this root live. */
  get leaseDir(): string {
    return path.join(this.root, 'sim', '.leases');
  }

  /**
   * Creates the root if it is missing, with a `.gitignore`. Only a directory dfu-hil made is
   * dfu-hil's to mark: DFU_HIL_STATE_DIR may name a user's own, which is left as it is.
   */
  async ensureRoot(): Promise<void> {
    if (await stat(this.root).then(() => true, () => false)) return;
    await mkdir(this.root, { recursive: true });
    await this.ignoreInGit();
  }

  /** Saves `state`, replacing what was there. */
  async save(state: SimBoardState): Promise<void> {
    await this.ensureRoot();
    await mkdir(this.dir, { recursive: true });
    const file: StateFile = {
      format: SIM_STATE_FORMAT,
      rig: this.rig,
      savedAt: new Date().toISOString(),
      powered: state.powered,
      running: state.running,
      options: { current: this.encodeOptions(state.options.current), programmed: this.encodeOptions(state.options.programmed) },
      wordStates: encodeRuns(state.wordStates),
      flashFile: FLASH_FILE,
      flashBytes: state.flash.length,
      ...(state.dfu ? { dfu: encodeSession(state.dfu) } : {}),
    };
    // Flash first: a state.json never points at a flash image older than itself.
    await this.replace(FLASH_FILE, state.flash);
    await this.replace(STATE_FILE, `${JSON.stringify(file, null, 2)}\n`);
  }

  /** Forgets the saved board, so the next run starts from the factory state; true when there was one. */
  async reset(): Promise<boolean> {
    const existed = await stat(this.dir).then(() => true, () => false);
    await rm(this.dir, { recursive: true, force: true });
    return existed;
  }

  private async replace(name: string, data: Uint8Array | string): Promise<void> {
    const target = path.join(this.dir, name);
    const temporary = `${target}.${process.pid}.tmp`;
    await writeFile(temporary, data);
    await rename(temporary, target);
  }

  private async ignoreInGit(): Promise<void> {
    const ignore = path.join(this.root, '.gitignore');
    if (!(await stat(ignore).then(() => true, () => false))) {
      await writeFile(ignore, '# Simulated boards saved by dfu-hil between runs: local state, never committed.\n*\n');
    }
  }

  private encodeOptions(values: OptionRegisters): Record<string, string> {
    return Object.fromEntries(OPTION_KEYS.map((k) => [k, hexWord(values[k])]));
  }

  private decodeOptions(values: Record<string, string> | undefined, file: string): OptionRegisters {
    const out = {} as OptionRegisters;
    for (const key of OPTION_KEYS) {
      const text = values?.[key];
      if (typeof text !== 'string' || !/^0x[0-9a-fA-F]{1,8}$/.test(text)) throw new SimStateError(file, `option register ${key} is missing or not a hex word`);
      out[key] = Number.parseInt(text, 16);
    }
    return out;
  }

  private decodeRuns(runs: unknown, file: string): Uint8Array {
    if (!Array.isArray(runs)) throw new SimStateError(file, 'has no flash-word states');
    const total = runs.reduce((sum: number, run: unknown) => sum + (Array.isArray(run) && typeof run[1] === 'number' ? run[1] : Number.NaN), 0);
    if (!Number.isInteger(total) || total <= 0) throw new SimStateError(file, 'has malformed flash-word states');
    const out = new Uint8Array(total);
    let at = 0;
    for (const [state, count] of runs as Array<[number, number]>) {
      if (!Number.isInteger(state) || state < 0 || state > 3 || !Number.isInteger(count) || count <= 0) {
        throw new SimStateError(file, `has a malformed flash-word state run [${String(state)}, ${String(count)}]`);
      }
      out.fill(state, at, at + count);
      at += count;
    }
    return out;
  }
}

function encodeSession(s: DfuSessionState): DfuSessionFile {
  return {
    state: s.state, status: s.status, addressPointer: hexWord(s.addressPointer), jumpTarget: hexWord(s.jumpTarget),
    altSetting: s.altSetting, writesPoisoned: s.writesPoisoned,
    ...(s.afterBusy ? { afterBusy: s.afterBusy === 'stuck' ? 'stuck' : { ...s.afterBusy } } : {}),
    ...(s.pending ? { pending: { wValue: s.pending.wValue, data: Buffer.from(s.pending.data).toString('hex'), target: s.pending.target } } : {}),
  };
}

function decodeSession(f: DfuSessionFile, file: string): DfuSessionState {
  const byte = (v: unknown, max: number): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= max;
  const word = (v: unknown): number => {
    if (typeof v !== 'string' || !/^0x[0-9a-fA-F]{1,8}$/.test(v)) throw new SimStateError(file, 'dfu: an address is missing or not a hex word');
    return Number.parseInt(v, 16);
  };
  if (typeof f !== 'object' || f === null || !byte(f.state, 10) || !byte(f.status, 15) || !byte(f.altSetting, 255) || typeof f.writesPoisoned !== 'boolean') {
    throw new SimStateError(file, 'dfu: the DFU session needs state (0..10), status (0..15), altSetting and writesPoisoned');
  }
  const afterBusy = f.afterBusy;
  if (afterBusy !== undefined && afterBusy !== 'stuck' && !(byte(afterBusy?.state, 10) && byte(afterBusy?.status, 15))) {
    throw new SimStateError(file, 'dfu: afterBusy is neither "stuck" nor a state and status');
  }
  const pending = f.pending;
  if (pending !== undefined && !(byte(pending?.wValue, 0xffff) && typeof pending.data === 'string' && /^([0-9a-f]{2})*$/.test(pending.data)
    && (pending.target === 'flash' || pending.target === 'option-bytes'))) {
    throw new SimStateError(file, 'dfu: pending is not a DNLOAD (wValue, hex data, target)');
  }
  return {
    state: f.state, status: f.status, addressPointer: word(f.addressPointer), jumpTarget: word(f.jumpTarget),
    altSetting: f.altSetting, writesPoisoned: f.writesPoisoned,
    ...(afterBusy === undefined ? {} : { afterBusy: afterBusy === 'stuck' ? 'stuck' : { state: afterBusy.state, status: afterBusy.status } }),
    ...(pending === undefined ? {} : { pending: { wValue: pending.wValue, data: Uint8Array.from(Buffer.from(pending.data, 'hex')), target: pending.target } }),
  };
}
