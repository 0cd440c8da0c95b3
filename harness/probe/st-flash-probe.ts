// The debug probe through st-flash (Debian stlink-tools 1.7.0). What the tool can and cannot
// do was read from its source (stlink-org/stlink v1.7.0, src/st-flash/flash.c and common.c):
//   - `read <file> <addr> <size>` reads any address (flash, RAM, peripherals) into a file;
//   - `write <file> <addr>` writes flash (erasing the touched sectors, then verifying), or RAM;
//     but after a RAM write it loads SP and PC from the first two words written and runs the
//     core from there (stlink_fwrite_finalize), and other addresses give "Unknown memory region".
//     So it cannot poke a magic word or a register: writeMemory is refused with a typed error;
//   - `reset` pulses NRST (falling back to SYSRESETREQ only when NRST is not wired), so it cannot
//     give the software reset the magic-word entry needs;
//   - `erase` mass-erases both banks of the H745.
// Failures print "ERROR file.c: …" or a plain sentence, and exit 255 (main returns -1); some
// paths (a failed --reset after a command) exit 0, so the output is always read.
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { CommandResult } from './command-runner.js';
import { describeRange, ProbeError, type ProbeResetKind } from './probe.js';
import { hexAddress, ProbeUnsupportedError, ToolProbe, wordAligned, type FailurePattern, type ToolProbeOptions } from './tool-probe.js';

/** Options of {@link StFlashProbe}. */
export interface StFlashProbeOptions extends ToolProbeOptions {
  /** `--connect-under-reset`: hold NRST while attaching (a board whose firmware disables SWD or locks up). */
  connectUnderReset?: boolean;
}

const NOT_CONNECTED_HINT = 'st-flash found the ST-LINK but not the STM32: check the board\'s power and the SWD jumpers (CN4 on the Nucleo). A board locked by a wrong SMPS/LDO setting needs connect-under-reset, or BOOT0 high, a power cycle and a mass erase (docs/bench.md).';

const FAILURES: readonly FailurePattern[] = [
  { pattern: /Couldn't find (any|matched) ST-Link devices/i, hint: 'No ST-LINK with that serial is on USB: check the cable, `st-info --probe` for serials, the probe.serial in rigs.yaml, and the udev rules (udev/99-dfu-hil.rules).' },
  { pattern: /unable to claim|probably already in use/i, hint: 'Another program holds the ST-LINK (st-util, OpenOCD, CubeProgrammer, another test run): stop it.' },
  { pattern: /access error|LIBUSB_ERROR_ACCESS/i, hint: 'No permission to open the ST-LINK: install udev/99-dfu-hil.rules (docs/bench.md) and re-plug it.' },
  { pattern: /Failed to connect to target|unknown chip id/i, hint: NOT_CONNECTED_HINT },
  { pattern: /Failed to (enter SWD mode|halt the core|get Core's status|exit DFU mode|reset device)/i, hint: NOT_CONNECTED_HINT },
  { pattern: /Verification of flash failed|check_file\(\) == -1/i, hint: 'What was written does not read back: the sectors may be write-protected (option bytes) or the flash worn. Try a mass erase.' },
  { pattern: /^\S+ ERROR \S+:|^ERROR \S+:/, hint: undefined },
  { pattern: /== -1\s*$|Unknown memory region|could not read main memory|invalid command line|^\[!\] send_recv/i, hint: undefined },
];

/** A {@link DebugProbe} on st-flash from stlink-tools. */
export class StFlashProbe extends ToolProbe {
  readonly tool = 'st-flash';
  private readonly connectUnderReset: boolean;

  constructor(options: StFlashProbeOptions) {
    super('st-flash', options);
    this.connectUnderReset = options.connectUnderReset ?? false;
  }

  async readMemory(address: number, length: number): Promise<Uint8Array> {
    const span = wordAligned(address, length);
    return this.withTempDir(async (dir) => {
      const file = path.join(dir, 'read.bin');
      await this.exec(describeRange('read', address, length), [...this.common(), 'read', file, hexAddress(span.start), String(span.length)]);
      const data = new Uint8Array(await readFile(file).catch(() => Buffer.alloc(0)));
      if (data.length < span.length) {
        throw new ProbeError(`st-flash read ${hexAddress(address)} +${length} produced ${data.length} of ${span.length} bytes`);
      }
      return data.slice(span.skip, span.skip + length);
    });
  }

  writeMemory(address: number, bytes: Uint8Array): Promise<void> {
    this.log.record({ t: this.clock.now(), command: describeRange('write', address, bytes.length), result: 'failed', detail: 'not possible with st-flash' });
    return Promise.reject(new ProbeUnsupportedError('st-flash', `write ${bytes.length} bytes at ${hexAddress(address)}`,
      'st-flash 1.7 writes only flash and RAM, and after a RAM write it loads SP and PC from the first two words and runs the core from there; registers give "Unknown memory region"',
      'Use probe.tool: openocd (mww / write_memory) or stm32-programmer-cli (-w32) in rigs.yaml for memory writes and the probe entry method.'));
  }

  async reset(kind: ProbeResetKind): Promise<void> {
    if (kind === 'system') {
      this.log.record({ t: this.clock.now(), command: 'reset system', result: 'failed', detail: 'not possible with st-flash' });
      throw new ProbeUnsupportedError('st-flash', 'do a software (SYSRESETREQ) reset',
        'st-flash 1.7 `reset` pulses NRST and falls back to SYSRESETREQ only when NRST is not wired, so the reset cause is a pin reset',
        'Use probe.tool: openocd or stm32-programmer-cli (-rst) in rigs.yaml when a software reset is needed.');
    }
    await this.exec('reset hardware', [...this.common(), 'reset']);
  }

  async massErase(): Promise<void> {
    await this.exec('mass-erase', [...this.common(), 'erase']);
  }

  async programFlash(address: number, bytes: Uint8Array): Promise<void> {
    await this.withTempDir(async (dir) => {
      const file = path.join(dir, 'image.bin');
      await writeFile(file, bytes);
      // Success prints "Flash written and verified! jolly good!" (INFO, shown by default); a run
      // that says neither that nor an error did not program anything we can trust.
      await this.exec(describeRange('program', address, bytes.length), [...this.common(), 'write', file, hexAddress(address)],
        (_result: CommandResult, output) => (/written and verified/i.test(output) ? undefined : 'did not print "Flash written and verified"'));
    });
  }

  protected failurePatterns(): readonly FailurePattern[] {
    return FAILURES;
  }

  private common(): string[] {
    return [
      ...(this.serial ? ['--serial', this.serial] : []),
      ...(this.connectUnderReset ? ['--connect-under-reset'] : []),
    ];
  }
}
