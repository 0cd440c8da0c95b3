import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpenOcdProbe, parseMdw } from './openocd-probe.js';
import { ProbeError } from './probe.js';
import { FakeToolbox } from './testing/fake-tools.js';

// OpenOCD 0.12 logs to stderr ("Info : …", "Error: …"); mdw prints "0x<addr>: <8 words> " lines.
const BANNER = `
err('Open On-Chip Debugger 0.12.0');
err('Licensed under GNU GPL v2');
err('Info : clock speed 24000 kHz');
err('Info : STLINK V3J7M2 (API v3) VID:PID 0483:374E');
err('Info : Target voltage: 3.285248');
err('Info : [stm32h7x.cpu0] Cortex-M7 r1p1 processor detected');
err('Info : [stm32h7x.cpu1] Cortex-M4 r0p1 processor detected');
`;

/** Runs each command of the -c script; memory word at a reads as (a * 3) >>> 0. */
const WORKING = `
${BANNER}
const script = args[args.length - 1];
for (const command of script.split(/;\\s*/)) {
  const words = command.split(/\\s+/);
  if (words[0] === 'mdw') {
    const start = Number(words[1]), count = Number(words[2] ?? 1);
    for (let i = 0; i < count; i += 8) {
      let line = '0x' + (start + i * 4).toString(16).padStart(8, '0') + ': ';
      for (let j = i; j < Math.min(count, i + 8); j++) line += (((start + j * 4) * 3) >>> 0).toString(16).padStart(8, '0') + ' ';
      out(line);
    }
  } else if (words[0] === 'program') {
    err('** Programming Started **'); err('** Programming Finished **'); err('** Verify Started **'); err('** Verified OK **');
  } else if (words[0] === 'flash') {
    err('Info : erased sectors 0 through 7 on flash bank 0 in 2.145s');
  } else if (words[0] === 'shutdown') {
    err('shutdown command invoked');
  }
}
`;

describe('parseMdw', () => {
  it('reads every word of every line, ignoring log lines', () => {
    const words = parseMdw('Info : x\n0x58020000: abffffff 00000000 0c000000 64000000 \n0x58020010: 00000001 \n');
    expect([...words]).toEqual([[0x58020000, 0xabffffff], [0x58020004, 0], [0x58020008, 0x0c000000], [0x5802000c, 0x64000000], [0x58020010, 1]]);
  });
});

describe('OpenOcdProbe (fake openocd 0.12 on PATH)', () => {
  let tools: FakeToolbox;
  beforeEach(async () => { tools = await FakeToolbox.create(); });
  afterEach(async () => { await tools.dispose(); });

  it('reads several ranges in one run with mdw on the Cortex-M7, selecting the adapter by serial', async () => {
    await tools.install('openocd', WORKING);
    const probe = new OpenOcdProbe({ runner: tools.runner(), serial: '002B00183232511939353236' });
    const [a, k] = await probe.readRanges([{ address: 0x58020000, length: 0x28 }, { address: 0x58022800, length: 4 }]);
    const view = new DataView(a!.buffer);
    expect(view.getUint32(0, true)).toBe((0x58020000 * 3) >>> 0);
    expect(view.getUint32(0x24, true)).toBe((0x58020024 * 3) >>> 0);
    expect(new DataView(k!.buffer).getUint32(0, true)).toBe((0x58022800 * 3) >>> 0);
    const calls = await tools.calls('openocd');
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual([
      '-f', 'board/st_nucleo_h745zi.cfg', '-c', 'adapter serial 002B00183232511939353236',
      '-c', 'init; targets stm32h7x.cpu0; mdw 0x58020000 10; mdw 0x58022800 1; shutdown',
    ]);
  });

  it('slices unaligned reads out of whole words', async () => {
    await tools.install('openocd', WORKING);
    const probe = new OpenOcdProbe({ runner: tools.runner() });
    const bytes = await probe.readMemory(0x20000001, 2);
    const word = (0x20000000 * 3) >>> 0;
    expect([...bytes]).toEqual([(word >>> 8) & 0xff, (word >>> 16) & 0xff]);
  });

  it('writes words with write_memory, and resets by NRST or SYSRESETREQ', async () => {
    await tools.install('openocd', WORKING);
    const probe = new OpenOcdProbe({ runner: tools.runner(), config: 'board/custom.cfg' });
    const magic = new Uint8Array([0x44, 0x46, 0x55, 0x30, 0x00, 0x98, 0xf0, 0x1f]);
    await probe.writeMemory(0x2001fff0, magic);
    await probe.reset('system');
    await probe.reset('hardware');
    const scripts = (await tools.calls('openocd')).map((c) => c.at(-1));
    expect(scripts).toEqual([
      'init; targets stm32h7x.cpu0; write_memory 0x2001fff0 32 {0x30554644 0x1ff09800}; shutdown',
      'init; targets stm32h7x.cpu0; mww 0xe000ed0c 0x05fa0004; shutdown',
      'init; targets stm32h7x.cpu0; reset run; shutdown',
    ]);
    expect((await tools.calls('openocd'))[0]!.slice(0, 2)).toEqual(['-f', 'board/custom.cfg']);
  });

  it('erases both banks and programs with verify', async () => {
    await tools.install('openocd', WORKING);
    const probe = new OpenOcdProbe({ runner: tools.runner() });
    await probe.massErase();
    await probe.programFlash(0x08100000, new Uint8Array(64));
    const scripts = (await tools.calls('openocd')).map((c) => c.at(-1)!);
    expect(scripts[0]).toBe('init; targets stm32h7x.cpu0; reset halt; flash erase_sector stm32h7x.bank1.cpu0 0 last; flash erase_sector stm32h7x.bank2.cpu0 0 last; shutdown');
    expect(scripts[1]).toMatch(/^init; targets stm32h7x\.cpu0; reset halt; program \{.*image\.bin\} 0x08100000 verify; shutdown$/);
  });

  it('fails with a hint when the ST-LINK cannot be opened ("Error: open failed")', async () => {
    await tools.install('openocd', `err('Open On-Chip Debugger 0.12.0'); err('Info : clock speed 24000 kHz'); err('Error: open failed'); process.exit(1);`);
    const probe = new OpenOcdProbe({ runner: tools.runner(), serial: 'WRONG' });
    const error = await probe.reset('hardware').catch((e: unknown) => e) as ProbeError;
    expect(error).toBeInstanceOf(ProbeError);
    expect(error.message).toMatch(/exit 1.*Error: open failed/);
    expect(error.hint).toMatch(/probe\.serial/);
    expect(probe.log.since(0)[0]).toMatchObject({ result: 'failed', exitCode: 1 });
    expect(probe.log.since(0)[0]!.output).toContain('Error: open failed');
  });

  it('fails on an Error line even when openocd exits 0', async () => {
    await tools.install('openocd', `${BANNER} err('** Programming Started **'); err('Error: error writing to flash at address 0x08000000 at offset 0x00000000'); err('** Programming Failed **'); err('shutdown command invoked');`);
    const probe = new OpenOcdProbe({ runner: tools.runner() });
    await expect(probe.programFlash(0x08000000, new Uint8Array(32))).rejects.toThrow(/exited 0 but printed "\*\* Programming Failed \*\*"/);
  });

  it('fails when mdw printed no value for an address asked for', async () => {
    await tools.install('openocd', `${BANNER} out('0x58020000: 00000000 '); err('shutdown command invoked');`);
    const probe = new OpenOcdProbe({ runner: tools.runner() });
    await expect(probe.readMemory(0x58020000, 8)).rejects.toThrow(/no value for 0x58020004/);
  });

  it('names the Debian package when openocd is not installed', async () => {
    const probe = new OpenOcdProbe({ runner: tools.runner({ only: true }) });
    await expect(probe.massErase()).rejects.toMatchObject({ code: 'tool-missing', hint: expect.stringMatching(/apt-get install openocd/) as unknown });
  });
});
