// The debug probe through ST's STM32_Programmer_CLI (STM32CubeProgrammer; ST's download, not a
// Debian package). Commands per UM2237:
//   -c port=SWD [sn=<ST-LINK serial>] [mode=HOTPLUG|UR]   connect
//   -r32 <addr> <bytes>      read ("0x58020000 : ABFFFFFF 00000000 …", four words a line)
//   -w32 <addr> <word>…      write words (-w8 for bytes)
//   -rst / -hardRst          software (SYSRESETREQ) / NRST reset
//   -e all                   mass erase
//   -w <file> <addr> -v      program and verify
// Memory reads and writes connect with mode=HOTPLUG so that looking at GPIO does not reset or
// halt the application. The tool colours its output, prints "Error: …" lines, and has been
// seen to exit 0 after them, so the output decides.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeRange, type ProbeRange, type ProbeResetKind } from './probe.js';
import { alignRanges, bytesFromWords, hexAddress, ToolProbe, writeValues, type FailurePattern, type ToolProbeOptions } from './tool-probe.js';

/** Options of {@link CubeProgrammerProbe}. */
export interface CubeProgrammerProbeOptions extends ToolProbeOptions {
  /** Connect under reset for erase and program (a board whose firmware locks up). */
  connectUnderReset?: boolean;
}

const FAILURES: readonly FailurePattern[] = [
  { pattern: /Error: No debug probe detected|No STLink detected/i, hint: 'No ST-LINK (with that serial) is on USB: check the cable, probe.serial in rigs.yaml (`STM32_Programmer_CLI -l st`), and the udev rules (udev/99-dfu-hil.rules).' },
  { pattern: /Error: No STM32 target found|Error: Unable to get core ID|Error: .*connect/i, hint: 'The ST-LINK answered but the STM32 did not: check the board\'s power and SWD jumpers. A board locked by a wrong SMPS/LDO setting needs BOOT0 high, a power cycle and a mass erase (docs/bench.md).' },
  { pattern: /Error: .*(verif|Download)/i, hint: 'The flash did not take the image: check write protection (option bytes) and the address.' },
  { pattern: /^\s*Error\b/i, hint: undefined },
];

/** Parses `-r32` output ("0x58020000 : ABFFFFFF 00000000 …") into address → word. */
export function parseR32(output: string): Map<number, number> {
  const words = new Map<number, number>();
  for (const line of output.split(/\r?\n/)) {
    const m = /^\s*0x([0-9a-fA-F]{1,8})\s*:((?:\s+[0-9a-fA-F]{8})+)\s*$/.exec(line);
    if (!m) continue;
    let at = Number.parseInt(m[1]!, 16);
    for (const word of m[2]!.trim().split(/\s+/)) {
      words.set(at >>> 0, Number.parseInt(word, 16) >>> 0);
      at += 4;
    }
  }
  return words;
}

/** A {@link DebugProbe} on STM32_Programmer_CLI. */
export class CubeProgrammerProbe extends ToolProbe {
  readonly tool = 'STM32_Programmer_CLI';
  private readonly connectUnderReset: boolean;

  constructor(options: CubeProgrammerProbeOptions) {
    super('STM32_Programmer_CLI', options);
    this.connectUnderReset = options.connectUnderReset ?? false;
  }

  async readMemory(address: number, length: number): Promise<Uint8Array> {
    const [data] = await this.readRanges([{ address, length }]);
    return data!;
  }

  /** Reads every range with one `-r32` each, in one run. */
  async readRanges(ranges: readonly ProbeRange[]): Promise<Uint8Array[]> {
    const spans = alignRanges(ranges);
    const label = ranges.length === 1 ? describeRange('read', ranges[0]!.address, ranges[0]!.length) : `read ${ranges.length} ranges`;
    const result = await this.exec(label, [...this.connect('HOTPLUG'), ...spans.flatMap((s) => ['-r32', hexAddress(s.span.start), String(s.span.length)])]);
    const words = parseR32(result.all || `${result.stdout}\n${result.stderr}`);
    return bytesFromWords(spans, words, 'STM32_Programmer_CLI');
  }

  async writeMemory(address: number, bytes: Uint8Array): Promise<void> {
    const { width, values } = writeValues(address, bytes);
    await this.exec(describeRange('write', address, bytes.length), [...this.connect('HOTPLUG'), width === 32 ? '-w32' : '-w8', hexAddress(address), ...values]);
  }

  async reset(kind: ProbeResetKind): Promise<void> {
    await this.exec(`reset ${kind}`, [...this.connect('HOTPLUG'), kind === 'hardware' ? '-hardRst' : '-rst']);
  }

  async massErase(): Promise<void> {
    await this.exec('mass-erase', [...this.connect(this.connectUnderReset ? 'UR' : undefined), '-e', 'all'],
      (_r, output) => (/mass erase.*(success|achieved)/i.test(output) ? undefined : 'did not print "Mass erase successfully achieved"'));
  }

  async programFlash(address: number, bytes: Uint8Array): Promise<void> {
    await this.withTempDir(async (dir) => {
      const file = path.join(dir, 'image.bin');
      await writeFile(file, bytes);
      await this.exec(describeRange('program', address, bytes.length), [...this.connect(this.connectUnderReset ? 'UR' : undefined), '-w', file, hexAddress(address), '-v'],
        (_r, output) => (/verified successfully/i.test(output) ? undefined : 'did not print "Download verified successfully"'));
    });
  }

  protected failurePatterns(): readonly FailurePattern[] {
    return FAILURES;
  }

  private connect(mode: 'HOTPLUG' | 'UR' | undefined): string[] {
    return ['-c', 'port=SWD', ...(this.serial ? [`sn=${this.serial}`] : []), ...(mode ? [`mode=${mode}`] : [])];
  }
}
