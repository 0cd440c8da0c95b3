// The debug probe through OpenOCD 0.12 (Debian openocd), one process per operation:
//   openocd -f board/st_nucleo_h745zi.cfg [-c "adapter serial SN"] -c "init; targets stm32h7x.cpu0; …; shutdown"
// The board file is dual core (DUAL_CORE 1) with `reset_config srst_only`: `reset run` pulses
// NRST. A software reset is a SYSRESETREQ written to AIRCR, the reset cause the test
// application's magic-word check expects. Memory commands go to the Cortex-M7 (cpu0) target,
// selected explicitly because the board file creates the M4 as well.
// OpenOCD logs failures as "Error: …" on stderr and exits 1 when a -c command fails, but a few
// paths only log; every "Error:" line therefore counts as a failure.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeRange, type ProbeRange, type ProbeResetKind } from './probe.js';
import { alignRanges, bytesFromWords, hexAddress, ToolProbe, writeValues, type FailurePattern, type ToolProbeOptions } from './tool-probe.js';

/** Options of {@link OpenOcdProbe}. */
export interface OpenOcdProbeOptions extends ToolProbeOptions {
  /** `-f` config; default board/st_nucleo_h745zi.cfg. */
  config?: string;
  /** The target memory commands go to; default the Cortex-M7. */
  target?: string;
  /** Flash banks a mass erase clears, by OpenOCD bank name. */
  flashBanks?: readonly string[];
}

/** The board file Debian's openocd 0.12 ships for the NUCLEO-H745ZI-Q. */
export const DEFAULT_OPENOCD_BOARD = 'board/st_nucleo_h745zi.cfg';

/** AIRCR with VECTKEY and SYSRESETREQ: a software reset requested through the debug port. */
const AIRCR = 0xe000ed0c;
const AIRCR_SYSRESETREQ = 0x05fa0004;

const NOT_CONNECTED_HINT = 'OpenOCD found the ST-LINK but not the STM32: check the board\'s power and SWD jumpers. A board locked by a wrong SMPS/LDO setting needs BOOT0 high, a power cycle and a mass erase (docs/bench.md).';

const FAILURES: readonly FailurePattern[] = [
  { pattern: /Error: open failed|Error: No ST-?Link|unable to find a matching/i, hint: 'No ST-LINK (with that serial) could be opened: check the cable, probe.serial in rigs.yaml (`st-info --probe`), the udev rules (udev/99-dfu-hil.rules), and that no other tool holds it.' },
  { pattern: /Error: Can't find|couldn't open .*\.cfg/i, hint: 'OpenOCD cannot find the config: check probe.openocdConfig in rigs.yaml (Debian\'s openocd 0.12 ships board/st_nucleo_h745zi.cfg).' },
  { pattern: /Error: init mode failed|unable to connect to the target|Error: .*(not examined|target not halted)/i, hint: NOT_CONNECTED_HINT },
  { pattern: /\*\* (Programming|Verify) Failed \*\*/, hint: 'The flash did not take the image: check write protection (option bytes) and that the address is inside bank 1 or 2.' },
  { pattern: /^\s*Error:/, hint: undefined },
];

/** Parses `mdw` output ("0x58020000: abffffff 00000000 …") into address → word. */
export function parseMdw(output: string): Map<number, number> {
  const words = new Map<number, number>();
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s*0x([0-9a-fA-F]{1,8}):((?:\s+[0-9a-fA-F]{8})+)\s*$/.exec(line);
    if (!m) continue;
    let at = Number.parseInt(m[1]!, 16);
    for (const word of m[2]!.trim().split(/\s+/)) {
      words.set(at >>> 0, Number.parseInt(word, 16) >>> 0);
      at += 4;
    }
  }
  return words;
}

/** Tcl-quotes a path for an OpenOCD command. */
function tclPath(file: string): string {
  return `{${file.replace(/\\/g, '/')}}`;
}

/** A {@link DebugProbe} on OpenOCD. */
export class OpenOcdProbe extends ToolProbe {
  readonly tool = 'openocd';
  private readonly config: string;
  private readonly target: string;
  private readonly flashBanks: readonly string[];

  constructor(options: OpenOcdProbeOptions) {
    super('openocd', options);
    this.config = options.config ?? DEFAULT_OPENOCD_BOARD;
    this.target = options.target ?? 'stm32h7x.cpu0';
    this.flashBanks = options.flashBanks ?? ['stm32h7x.bank1.cpu0', 'stm32h7x.bank2.cpu0'];
  }

  async readMemory(address: number, length: number): Promise<Uint8Array> {
    const [data] = await this.readRanges([{ address, length }]);
    return data!;
  }

  /** Reads every range with `mdw` in one OpenOCD run. */
  async readRanges(ranges: readonly ProbeRange[]): Promise<Uint8Array[]> {
    const spans = alignRanges(ranges);
    const label = ranges.length === 1 ? describeRange('read', ranges[0]!.address, ranges[0]!.length) : `read ${ranges.length} ranges`;
    const result = await this.session(label, spans.map((s) => `mdw ${hexAddress(s.span.start)} ${s.span.length / 4}`));
    const words = parseMdw(result.all || `${result.stdout}\n${result.stderr}`);
    return bytesFromWords(spans, words, 'openocd');
  }

  async writeMemory(address: number, bytes: Uint8Array): Promise<void> {
    const { width, values } = writeValues(address, bytes);
    await this.session(describeRange('write', address, bytes.length), [`write_memory ${hexAddress(address)} ${width} {${values.join(' ')}}`]);
  }

  async reset(kind: ProbeResetKind): Promise<void> {
    await this.session(`reset ${kind}`, kind === 'hardware' ? ['reset run'] : [`mww ${hexAddress(AIRCR)} ${hexAddress(AIRCR_SYSRESETREQ)}`]);
  }

  async massErase(): Promise<void> {
    await this.session('mass-erase', ['reset halt', ...this.flashBanks.map((bank) => `flash erase_sector ${bank} 0 last`)]);
  }

  async programFlash(address: number, bytes: Uint8Array): Promise<void> {
    await this.withTempDir(async (dir) => {
      const file = path.join(dir, 'image.bin');
      await writeFile(file, bytes);
      await this.session(describeRange('program', address, bytes.length), ['reset halt', `program ${tclPath(file)} ${hexAddress(address)} verify`],
        (output) => (/\*\* Verified OK \*\*/.test(output) ? undefined : 'did not print "** Verified OK **"'));
    });
  }

  protected failurePatterns(): readonly FailurePattern[] {
    return FAILURES;
  }

  private session(action: string, commands: readonly string[], check?: (output: string) => string | undefined) {
    const args = [
      '-f', this.config,
      ...(this.serial ? ['-c', `adapter serial ${this.serial}`] : []),
      '-c', ['init', `targets ${this.target}`, ...commands, 'shutdown'].join('; '),
    ];
    return this.exec(action, args, check ? (_r, output) => check(output) : undefined);
  }
}
