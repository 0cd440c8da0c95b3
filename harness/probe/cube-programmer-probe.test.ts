import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CubeProgrammerProbe, parseR32 } from './cube-programmer-probe.js';
import { ProbeError } from './probe.js';
import { FakeToolbox } from './testing/fake-tools.js';

// STM32_Programmer_CLI output, colour codes included (it colours even into a pipe).
const BANNER = `
out('      -------------------------------------------------------------------');
out('                        STM32CubeProgrammer v2.16.0');
out('      -------------------------------------------------------------------');
out('');
out('ST-LINK SN  : 002B00183232511939353236');
out('ST-LINK FW  : V3J10M3');
out('Board       : NUCLEO-H745ZI-Q');
out('Voltage     : 3.28V');
out('Device ID   : 0x450');
out('Device name : STM32H7xx');
`;

/** Serves -r32 (word at a = a ^ 0xffff0000), -w32, -rst, -hardRst, -e all and -w. */
const WORKING = `
${BANNER}
for (let i = 0; i < args.length; i++) {
  if (args[i] === '-r32') {
    const start = Number(args[i + 1]), size = Number(args[i + 2]);
    out('\\x1b[39;49m\\x1b[0mReading 32-bit memory content');
    out('  Size          : ' + size + ' Bytes');
    out('  Address:      : ' + args[i + 1]);
    out('');
    for (let off = 0; off < size; off += 16) {
      let line = '0x' + (start + off).toString(16).toUpperCase().padStart(8, '0') + ' :';
      for (let w = off; w < Math.min(size, off + 16); w += 4) line += ' ' + (((start + w) ^ 0xffff0000) >>> 0).toString(16).toUpperCase().padStart(8, '0');
      out(line);
    }
  }
  if (args[i] === '-w32') out('Writing 32-bit memory content');
  if (args[i] === '-rst') { out('MCU Reset'); out('Software reset is performed'); }
  if (args[i] === '-hardRst') out('Hardware reset is performed');
  if (args[i] === '-e') { out('Mass erase ...'); out('Mass erase successfully achieved'); }
  if (args[i] === '-w') { out('Memory Programming ...'); out('File download complete'); out('Download verified successfully'); }
}
`;

describe('parseR32', () => {
  it('reads four words a line, tolerating colour codes and headers', () => {
    const words = parseR32('Reading 32-bit memory content\n  Address:      : 0x48000000\n0x48000000 : ABFD77FF 00000000 0C000000 64000000\n0x48000010 : 0000C1A0\n');
    expect(words.get(0x48000000)).toBe(0xabfd77ff);
    expect(words.get(0x4800000c)).toBe(0x64000000);
    expect(words.get(0x48000010)).toBe(0xc1a0);
    expect(words.size).toBe(5);
  });
});

describe('CubeProgrammerProbe (fake STM32_Programmer_CLI on PATH)', () => {
  let tools: FakeToolbox;
  beforeEach(async () => { tools = await FakeToolbox.create(); });
  afterEach(async () => { await tools.dispose(); });

  it('reads ranges in one hot-plug connection (no reset of the running application)', async () => {
    await tools.install('STM32_Programmer_CLI', WORKING);
    const probe = new CubeProgrammerProbe({ runner: tools.runner(), serial: '002B00183232511939353236' });
    const [a, b] = await probe.readRanges([{ address: 0x58020000, length: 0x28 }, { address: 0x58020400, length: 0x28 }]);
    expect(new DataView(a!.buffer).getUint32(0x14, true)).toBe((0x58020014 ^ 0xffff0000) >>> 0);
    expect(new DataView(b!.buffer).getUint32(0x24, true)).toBe((0x58020424 ^ 0xffff0000) >>> 0);
    expect(await tools.calls('STM32_Programmer_CLI')).toEqual([[
      '-c', 'port=SWD', 'sn=002B00183232511939353236', 'mode=HOTPLUG', '-r32', '0x58020000', '40', '-r32', '0x58020400', '40',
    ]]);
  });

  it('writes words with -w32 and resets with -rst (software) or -hardRst (NRST)', async () => {
    await tools.install('STM32_Programmer_CLI', WORKING);
    const probe = new CubeProgrammerProbe({ runner: tools.runner() });
    await probe.writeMemory(0x2001fff0, new Uint8Array([0x44, 0x46, 0x55, 0x30, 0x00, 0x98, 0xf0, 0x1f]));
    await probe.reset('system');
    await probe.reset('hardware');
    const calls = await tools.calls('STM32_Programmer_CLI');
    expect(calls[0]!.slice(3)).toEqual(['-w32', '0x2001fff0', '0x30554644', '0x1ff09800']);
    expect(calls[1]!.at(-1)).toBe('-rst');
    expect(calls[2]!.at(-1)).toBe('-hardRst');
  });

  it('mass-erases and programs with verification, connecting under reset when asked', async () => {
    await tools.install('STM32_Programmer_CLI', WORKING);
    const probe = new CubeProgrammerProbe({ runner: tools.runner(), connectUnderReset: true });
    await probe.massErase();
    await probe.programFlash(0x08000000, new Uint8Array(128));
    const calls = await tools.calls('STM32_Programmer_CLI');
    expect(calls[0]).toEqual(['-c', 'port=SWD', 'mode=UR', '-e', 'all']);
    expect(calls[1]!.slice(3, 4)).toEqual(['-w']);
    expect(calls[1]!.slice(5)).toEqual(['0x08000000', '-v']);
  });

  it('fails with a hint on "Error: No debug probe detected"', async () => {
    await tools.install('STM32_Programmer_CLI', `${BANNER.split('\n').slice(0, 5).join('\n')} out('\\x1b[31mError: No debug probe detected.\\x1b[0m'); process.exit(1);`);
    const probe = new CubeProgrammerProbe({ runner: tools.runner() });
    const error = await probe.readMemory(0x58020000, 4).catch((e: unknown) => e) as ProbeError;
    expect(error).toBeInstanceOf(ProbeError);
    expect(error.message).toMatch(/exit 1.*Error: No debug probe detected/);
    expect(error.hint).toMatch(/ST-LINK/);
    expect(probe.log.since(0)[0]!.output).not.toContain('\x1b[');
  });

  it('fails on an Error line even when it exits 0 (no target found)', async () => {
    await tools.install('STM32_Programmer_CLI', `${BANNER} out('Error: No STM32 target found! If your product embeds Debug Authentication, please perform a discovery using Debug Authentication'); process.exit(0);`);
    const probe = new CubeProgrammerProbe({ runner: tools.runner() });
    await expect(probe.reset('hardware')).rejects.toThrow(/exited 0 but printed "Error: No STM32 target found/);
  });

  it('does not trust an erase that does not say it succeeded', async () => {
    await tools.install('STM32_Programmer_CLI', BANNER);
    const probe = new CubeProgrammerProbe({ runner: tools.runner() });
    await expect(probe.massErase()).rejects.toThrow(/did not print "Mass erase successfully achieved"/);
  });

  it('says where to get STM32_Programmer_CLI when it is missing', async () => {
    const probe = new CubeProgrammerProbe({ runner: tools.runner({ only: true }) });
    await expect(probe.massErase()).rejects.toMatchObject({ code: 'tool-missing', hint: expect.stringMatching(/not packaged.*st\.com/) as unknown });
  });
});
