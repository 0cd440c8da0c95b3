import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolMissingError } from './command-runner.js';
import { ProbeError } from './probe.js';
import { StFlashProbe } from './st-flash-probe.js';
import { FakeToolbox } from './testing/fake-tools.js';
import { ProbeUnsupportedError } from './tool-probe.js';

// Output as st-flash 1.7.0 prints it: a banner on stdout, log lines "<time> LEVEL file.c: …" on stderr.
const BANNER = `out('st-flash 1.7.0'); err(stamp + ' INFO common.c: H74x/H75x: 128 KiB SRAM, 2048 KiB flash in at least 128 KiB pages.');`;

/** A st-flash that serves `read` from a memory image where byte n of address a is (a + n) & 0xff. */
const WORKING = `
${BANNER}
const cmd = args.find((a) => ['read', 'write', 'erase', 'reset'].includes(a));
if (cmd === 'read') {
  const i = args.indexOf('read');
  const file = args[i + 1], addr = Number(args[i + 2]), size = Number(args[i + 3]);
  err(stamp + ' INFO common.c: read from address ' + args[i + 2] + ' size ' + size);
  fs.writeFileSync(file, Buffer.from(Array.from({ length: size }, (_, n) => (addr + n) & 0xff)));
} else if (cmd === 'write') {
  const i = args.indexOf('write');
  const len = fs.statSync(args[i + 1]).size;
  out('file ' + args[i + 1] + ' md5 checksum: 0123456789abcdef, stlink checksum: 0x0000abcd');
  err(stamp + ' INFO common.c: Attempting to write ' + len + ' (0x' + len.toString(16) + ') bytes to stm32 address: 134217728 (0x8000000)');
  err(stamp + ' INFO common.c: Flash written and verified! jolly good!');
} else if (cmd === 'erase') {
  err(stamp + ' INFO common.c: Mass erasing');
} else if (cmd === 'reset') {
  // nothing: a successful reset prints only the banner
}
`;

describe('StFlashProbe (fake st-flash 1.7.0 on PATH)', () => {
  let tools: FakeToolbox;
  beforeEach(async () => { tools = await FakeToolbox.create(); });
  afterEach(async () => { await tools.dispose(); });

  it('reads memory through a temporary file, word-aligned, with the probe serial', async () => {
    await tools.install('st-flash', WORKING);
    const probe = new StFlashProbe({ runner: tools.runner(), serial: '004A00213137510B33333639' });
    const bytes = await probe.readMemory(0x58020002, 6);
    expect([...bytes]).toEqual([0x02, 0x03, 0x04, 0x05, 0x06, 0x07]);
    const [call] = await tools.calls('st-flash');
    expect(call!.slice(0, 3)).toEqual(['--serial', '004A00213137510B33333639', 'read']);
    expect(call!.slice(4)).toEqual(['0x58020000', '8']);
    const [entry] = probe.log.since(0);
    expect(entry).toMatchObject({ result: 'ok', exitCode: 0 });
    expect(entry!.output).toContain('read from address 0x58020000');
  });

  it('programs flash and requires the "written and verified" line', async () => {
    await tools.install('st-flash', WORKING);
    const probe = new StFlashProbe({ runner: tools.runner(), connectUnderReset: true });
    await probe.programFlash(0x08000000, new Uint8Array(1024).fill(0xa5));
    const [call] = await tools.calls('st-flash');
    expect(call![0]).toBe('--connect-under-reset');
    expect(call!.slice(1, 2)).toEqual(['write']);
    expect(call![3]).toBe('0x08000000');
    expect(probe.log.since(0)[0]!.output).toContain('jolly good');
  });

  it('fails when the ST-LINK cannot be found, keeping what the tool printed', async () => {
    await tools.install('st-flash', `out('st-flash 1.7.0'); err(stamp + " WARN usb.c: Couldn't find any ST-Link devices"); process.exit(255);`);
    const probe = new StFlashProbe({ runner: tools.runner() });
    const error = await probe.massErase().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProbeError);
    expect((error as ProbeError).message).toMatch(/exit 255.*Couldn't find any ST-Link devices/);
    expect((error as ProbeError).hint).toMatch(/udev/);
    const [entry] = probe.log.since(0);
    expect(entry).toMatchObject({ result: 'failed', exitCode: 255 });
    expect(entry!.output).toContain("Couldn't find any ST-Link devices");
  });

  it('fails when the target does not answer ("Failed to connect to target")', async () => {
    await tools.install('st-flash', `out('st-flash 1.7.0'); err(stamp + ' WARN common.c: unknown chip id! 0'); out('Failed to connect to target'); process.exit(255);`);
    const probe = new StFlashProbe({ runner: tools.runner() });
    await expect(probe.reset('hardware')).rejects.toThrow(/unknown chip id|Failed to connect to target/);
  });

  it('treats an ERROR line as failure even when st-flash exits 0', async () => {
    await tools.install('st-flash', `${BANNER} err(stamp + ' ERROR common.c: Verification of flash failed at offset: 0x00000400'); process.exit(0);`);
    const probe = new StFlashProbe({ runner: tools.runner() });
    const error = await probe.programFlash(0x08000000, new Uint8Array(2048)).catch((e: unknown) => e) as ProbeError;
    expect(error).toBeInstanceOf(ProbeError);
    expect(error.message).toMatch(/exited 0 but printed ".*Verification of flash failed/);
    expect(error.hint).toMatch(/write-protected|mass erase/);
  });

  it('does not trust a write that exits 0 without saying it verified', async () => {
    await tools.install('st-flash', BANNER);
    const probe = new StFlashProbe({ runner: tools.runner() });
    await expect(probe.programFlash(0x08000000, new Uint8Array(32))).rejects.toThrow(/did not print "Flash written and verified"/);
  });

  it('refuses memory writes and software resets, naming the tools that can', async () => {
    await tools.install('st-flash', WORKING);
    const probe = new StFlashProbe({ runner: tools.runner() });
    const write = await probe.writeMemory(0x2001fff0, new Uint8Array(8)).catch((e: unknown) => e) as ProbeUnsupportedError;
    expect(write).toBeInstanceOf(ProbeUnsupportedError);
    expect(write.code).toBe('probe-unsupported');
    expect(write.message).toMatch(/SP and PC/);
    expect(write.hint).toMatch(/openocd.*stm32-programmer-cli/);
    await expect(probe.reset('system')).rejects.toBeInstanceOf(ProbeUnsupportedError);
    expect(await tools.calls('st-flash')).toEqual([]);
    expect(probe.log.since(0).map((e) => e.result)).toEqual(['failed', 'failed']);
  });

  it('runs `reset` for a hardware reset and `erase` for a mass erase', async () => {
    await tools.install('st-flash', WORKING);
    const probe = new StFlashProbe({ runner: tools.runner() });
    await probe.reset('hardware');
    await probe.massErase();
    expect(await tools.calls('st-flash')).toEqual([['reset'], ['erase']]);
  });

  it('names the Debian package when st-flash is not installed', async () => {
    const probe = new StFlashProbe({ runner: tools.runner({ only: true }) });
    const error = await probe.reset('hardware').catch((e: unknown) => e) as ToolMissingError;
    expect(error).toBeInstanceOf(ToolMissingError);
    expect(error.code).toBe('tool-missing');
    expect(error.hint).toMatch(/apt-get install stlink-tools/);
    expect(probe.log.since(0)[0]).toMatchObject({ result: 'failed' });
  });

  it('reports a hung tool as a timeout', async () => {
    await tools.install('st-flash', `setTimeout(() => undefined, 60_000);`);
    const probe = new StFlashProbe({ runner: tools.runner(), timeoutMs: 300 });
    await expect(probe.reset('hardware')).rejects.toThrow(/did not finish within 300 ms/);
  });
});
