// The CLI end to end on the simulated rig, one runCli per command as a person at a bench would
// type them: the board must carry over from one command to the next.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTestAppImage, writeDfu } from '../image/index.js';
import { GPIO_PORTS, GPIO_REGISTERS } from '../serial/console-protocol.js';
import { ExitCode } from './exit-codes.js';
import { useCliProject } from './testing/cli-project.js';

const RIGS = `
default: sim-a
rigs:
  sim-a:
    kind: sim
    description: simulated board for CLI tests
    usb: { serial: "200364500000" }
    probe: { tool: st-flash }
    entry:
      console-jump:
      console-direct:
      probe:
  sim-b:
    kind: sim
`;

const project = useCliProject(RIGS);
const cli = (...argv: string[]) => project.run(argv);

async function statusJson(): Promise<{ running: string; application: { name: string; version: string } | null; bootloader: { vidPid: string; serialNumber: string; alts: Array<{ alt: number; layout: string }> } | null }> {
  const { code, stdout, stderr } = await cli('--json', 'status');
  expect(stderr).toBe('');
  expect(code).toBe(0);
  return JSON.parse(stdout) as never;
}

describe('dfu-hil on the simulated rig', () => {
  it('keeps the board in DFU mode from `enter` to the next command', async () => {
    expect((await statusJson())).toMatchObject({ running: 'application', application: { name: 'dfu-hil-testapp', version: '1.0.0' }, bootloader: null });
    const enter = await cli('enter');
    expect(enter.code).toBe(0);
    expect(enter.stdout).toMatch(/^sim-a: in DFU mode via console-jump as 0483:df11 SN 200364500000 @1-1 after \d+ ms\n$/);

    const status = await statusJson();
    expect(status.running).toBe('bootloader');
    expect(status.application).toBeNull();
    expect(status.bootloader).toMatchObject({ vidPid: '0483:df11', serialNumber: '200364500000' });
    expect(status.bootloader!.alts.map((a) => a.layout)).toEqual(['@Internal Flash   /0x08000000/16*128Kg', '@Option Bytes   /0x5200201C/01*128 e']);

    const text = await cli('status');
    expect(text.stdout).toContain('running: bootloader 0483:df11 SN 200364500000 @1-1 (DFU in FS Mode)');
    const again = await cli('enter', '--method', 'console-direct');
    expect(again).toMatchObject({ code: 0, stdout: 'sim-a: already in DFU mode as 0483:df11\n' });
  });

  it('flashes a .dfu, leaves, and the next command finds the new version running', async () => {
    const file = path.join(project.dir, 'x.dfu');
    await writeFile(file, writeDfu(buildTestAppImage({ name: 'x', version: '2.0.0' })));
    const flash = await cli('flash', file);
    expect(flash.stderr).toContain('entering DFU mode via console-jump');
    // Not a terminal: plain progress lines, not a bar.
    expect(flash.stderr).toContain('download 100% (8192/8192 bytes)');
    expect(flash.code).toBe(0);
    const lines = flash.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^sim-a: wrote 8192 bytes from ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, verified; erased 1 sector \\(0x08000000\\); [\\d.]+ s$`));
    expect(lines[1]).toMatch(/^sim-a: left DFU \(disconnected\); application x 2\.0\.0 is up/);

    expect(await statusJson()).toMatchObject({ running: 'application', application: { name: 'x', version: '2.0.0' } });
  });

  it('reports a flash with --stay and --json, the erase timed on the rig clock', async () => {
    const file = path.join(project.dir, 'y.dfu');
    await writeFile(file, writeDfu(buildTestAppImage({ name: 'y', version: '3.1.0' })));
    const { code, stdout, stderr } = await cli('--json', 'flash', file, '--stay');
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const doc = JSON.parse(stdout) as { bytesWritten: number; erasedSectors: string[]; verified: boolean; flashMs: number; leave: unknown; application: unknown; entered: { method: string } };
    expect(doc).toMatchObject({ bytesWritten: 8192, erasedSectors: ['0x08000000'], verified: true, leave: null, application: null, entered: { method: 'console-jump' } });
    // One 128 KiB sector erase is 1.1 s of the simulated flash's time.
    expect(doc.flashMs).toBeGreaterThanOrEqual(1100);
    expect((await statusJson()).running).toBe('bootloader');
    const leave = await cli('leave');
    expect(leave).toMatchObject({ code: 0, stdout: 'sim-a: left DFU (disconnected); application y 3.1.0 is up\n' });
  });

  it('answers enter and leave with --json, the same keys whether or not entry was needed', async () => {
    const enter = await cli('--json', 'enter');
    expect(enter.code).toBe(0);
    expect(enter.stderr).toBe('');
    const entered = JSON.parse(enter.stdout) as Record<string, unknown>;
    expect(entered).toEqual({
      rig: 'sim-a', alreadyInDfu: false, method: 'console-jump', vidPid: '0483:df11', serialNumber: '200364500000', portPath: '1-1',
      enumeratedAfterMs: expect.any(Number),
    });
    // A ROM that enumerates 53.9764 ms after its start (AN2606 Table 227), after the application's jump.
    expect(entered.enumeratedAfterMs).toBeGreaterThanOrEqual(54);
    const again = JSON.parse((await cli('enter', '--json')).stdout) as Record<string, unknown>;
    expect(again).toEqual({ rig: 'sim-a', alreadyInDfu: true, method: null, vidPid: '0483:df11', serialNumber: null, portPath: null, enumeratedAfterMs: null });
    expect(Object.keys(again)).toEqual(Object.keys(entered));

    const leave = await cli('--json', 'leave');
    expect(leave.code).toBe(0);
    expect(JSON.parse(leave.stdout)).toEqual({
      rig: 'sim-a', leave: { outcome: 'disconnected' },
      application: { name: 'dfu-hil-testapp', version: '1.0.0', t: expect.any(Number), form: 'test-app-ready', evidence: 'READY dfu-hil-testapp 1.0.0' },
    });
    const noWait = await cli('--json', 'enter');
    expect(noWait.code).toBe(0);
    expect(JSON.parse((await cli('--json', 'leave', '--no-wait')).stdout)).toEqual({ rig: 'sim-a', leave: { outcome: 'disconnected' }, application: null });
    // A refusal in --json is a JSON document too.
    const refused = await cli('--json', 'leave');
    expect(refused.code).toBe(ExitCode.Usage);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, error: { code: 'cli-usage', message: 'sim-a is not in DFU mode, so there is nothing to leave' } });
  });

  it('says "application" for what runs, in the text and in --json alike', async () => {
    expect((await statusJson()).running).toBe('application');
    expect((await cli('status')).stdout).toMatch(/\n {2}running: application dfu-hil-testapp 1\.0\.0\n/);
  });

  it('prints GPIO as JSON that parses, with every port and register', async () => {
    const { code, stdout } = await cli('--json', 'gpio');
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { rig: string; gpio: Record<string, Record<string, number>> };
    expect(doc.rig).toBe('sim-a');
    expect(Object.keys(doc.gpio)).toEqual([...GPIO_PORTS]);
    for (const port of GPIO_PORTS) expect(Object.keys(doc.gpio[port]!)).toEqual([...GPIO_REGISTERS]);
    // PC13 (user button) and the VCP pins aside, port C's MODER is the reset value: all analog.
    expect(doc.gpio.C!.MODER).toBe(0xffffffff);
    const table = await cli('gpio');
    expect(table.stdout.split('\n')[0]).toMatch(/^port {2}MODER/);
  });

  it('refuses gpio and leave in the wrong mode with one line, a hint and exit code 2', async () => {
    const leave = await cli('leave');
    expect(leave.code).toBe(ExitCode.Usage);
    expect(leave.stderr).toBe('dfu-hil: error: sim-a is not in DFU mode, so there is nothing to leave\nhint: Run `dfu-hil enter` first (`dfu-hil status` shows what the board runs).\n');
    await cli('enter');
    const gpio = await cli('gpio');
    expect(gpio.code).toBe(ExitCode.Usage);
    expect(gpio.stderr.split('\n')[0]).toBe('dfu-hil: error: sim-a is in DFU mode; gpio is answered by the application');
  });

  it('lists the bootloader on the simulated bus after `enter`, with its alt settings', async () => {
    const before = JSON.parse((await cli('--json', 'devices')).stdout) as { devices: unknown[] };
    expect(before.devices).toEqual([]);
    await cli('enter');
    const { code, stdout } = await cli('--json', 'devices');
    expect(code).toBe(0);
    const doc = JSON.parse(stdout) as { bus: string; devices: Array<{ vidPid: string; serialNumber: string; portPath: string; thisRig: boolean; dfu: { alts: Array<{ alt: number; layout: string }> } }> };
    expect(doc.bus).toBe('simulated bus');
    expect(doc.devices).toHaveLength(1);
    expect(doc.devices[0]).toMatchObject({ vidPid: '0483:df11', serialNumber: '200364500000', portPath: '1-1', thisRig: true });
    expect(doc.devices[0]!.dfu.alts).toEqual([
      { interface: 0, alt: 0, layout: '@Internal Flash   /0x08000000/16*128Kg' },
      { interface: 0, alt: 1, layout: '@Option Bytes   /0x5200201C/01*128 e' },
    ]);
    const text = await cli('devices');
    expect(text.stdout).toContain('DFU*  0483:df11 SN 200364500000 @1-1  DFU in FS Mode\n        alt 0  @Internal Flash   /0x08000000/16*128Kg\n');
  });

  it('fails a corrupt .dfu with the ImageError line, before touching the board', async () => {
    const bytes = writeDfu(buildTestAppImage({ name: 'x', version: '2.0.0' }));
    bytes[400] = bytes[400]! ^ 0xff;
    const file = path.join(project.dir, 'corrupt.dfu');
    await writeFile(file, bytes);
    const { code, stdout, stderr } = await cli('flash', file);
    expect(code).toBe(ExitCode.Failure);
    expect(stdout).toBe('');
    const lines = stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^dfu-hil: error: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*CRC`, 'i'));
    expect(lines[1]).toBe('hint: The file was altered or corrupted after it was written; regenerate or download it again.');
    // The board was never opened, so nothing was saved.
    expect(existsSync(path.join(project.stateDir, 'sim', 'sim-a'))).toBe(false);
  });

  it('`sim reset` puts the board back to its factory application; other rigs keep their own', async () => {
    const file = path.join(project.dir, 'x.dfu');
    await writeFile(file, writeDfu(buildTestAppImage({ name: 'x', version: '2.0.0' })));
    expect((await cli('flash', file)).code).toBe(0);
    expect((await cli('--rig', 'sim-b', 'enter')).code).toBe(0);
    expect((await statusJson()).application).toMatchObject({ version: '2.0.0' });
    expect(await readFile(path.join(project.stateDir, '.gitignore'), 'utf8')).toContain('*');

    const reset = await cli('sim', 'reset');
    expect(reset).toMatchObject({ code: 0, stdout: `sim-a: simulated board back to factory state (removed ${path.join(project.stateDir, 'sim', 'sim-a')})\n` });
    expect(await statusJson()).toMatchObject({ running: 'application', application: { name: 'dfu-hil-testapp', version: '1.0.0' } });
    const b = JSON.parse((await cli('--rig', 'sim-b', '--json', 'status')).stdout) as { running: string };
    expect(b.running).toBe('bootloader');
  });

  it('names a damaged state file and says how to recover, exit code 4', async () => {
    await cli('enter');
    await writeFile(path.join(project.stateDir, 'sim', 'sim-a', 'state.json'), '{ "format": 1, ');
    const { code, stderr } = await cli('status');
    expect(code).toBe(ExitCode.Infrastructure);
    expect(stderr).toBe(`dfu-hil: error: ${path.join(project.stateDir, 'sim', 'sim-a', 'state.json')}: is not valid JSON\nhint: Run \`dfu-hil sim reset\` to put the simulated board back to its factory state (this discards what was flashed).\n`);
    expect((await cli('sim', 'reset')).code).toBe(0);
    expect((await statusJson()).running).toBe('application');
  });

  it('documents the persistence in the help', async () => {
    const { code, stdout } = await cli('--help');
    expect(code).toBe(0);
    expect(stdout).toContain('.dfu-hil/sim/<rig>/');
    expect(stdout).toContain('dfu-hil sim reset');
  });
});
