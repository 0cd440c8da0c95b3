// Bad input at the command line: what is refused before the board is touched, with which exit
// code, and what a .bin without --address does.
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTestAppImage, createFirmwareImage, imageToBin, writeDfu } from '../image/index.js';
import { ExitCode } from './exit-codes.js';
import { useCliProject } from './testing/cli-project.js';

const RIGS = `
default: sim-a
rigs:
  sim-a:
    kind: sim
  sim-ob:
    kind: sim
    allowOptionBytes: true
`;

const project = useCliProject(RIGS);
const cli = (env: Record<string, string>, ...argv: string[]) => project.run(argv, { env });
const run = (...argv: string[]) => project.run(argv);

const optionBlock = (rdp: number): Uint8Array => {
  const block = new Uint8Array(128);
  block[0] = 0xf0;
  block[1] = rdp;
  return block;
};

describe('dfu-hil flash refuses bad input before touching the board', () => {
  it('names a missing image file with exit code 2', async () => {
    const missing = path.join(project.dir, 'nope', 'app.hex');
    const { code, stdout, stderr } = await run('flash', missing);
    expect(code).toBe(ExitCode.Usage);
    expect(stdout).toBe('');
    expect(stderr.split('\n')[0]).toBe(`dfu-hil: error: ${missing}: cannot read the file: ENOENT: no such file or directory, open '${missing}'`);
    expect(existsSync(project.stateDir)).toBe(false);
  });

  it('refuses a .bin without --address whose vector table does not place it, with exit code 2 and a hint', async () => {
    const file = path.join(project.dir, 'offset.bin');
    await writeFile(file, imageToBin(buildTestAppImage({ name: 'x', version: '2.0.0', loadAddress: 0x08020400 })));
    const { code, stderr } = await run('flash', file);
    expect(code).toBe(ExitCode.Usage);
    const [line, hint] = stderr.trimEnd().split('\n');
    expect(line).toBe(`dfu-hil: error: ${file}: a .bin carries no load address, and none can be derived without doubt: its vector table fits 7 load addresses (0x0801EC00, 0x0801F000, 0x0801F400, 0x0801F800, …)`);
    expect(hint).toMatch(/^hint: Give the load address, e\.g\. --address 0x08000000/);
    expect(existsSync(project.stateDir)).toBe(false);
    // With the address it flashes.
    expect((await run('flash', file, '--address', '0x08020400', '--stay')).code).toBe(0);
  });

  it('places a .bin whose vector table leaves no doubt, and prints the address used and how', async () => {
    const file = path.join(project.dir, 'app.bin');
    await writeFile(file, imageToBin(buildTestAppImage({ name: 'x', version: '2.0.0' })));
    const { code, stdout, stderr } = await run('flash', file);
    expect(code).toBe(0);
    expect(stderr).toContain(`dfu-hil: ${file} has no --address; writing it at 0x08000000, from its vector table: the reset vector (0x08000441) and 164 other vectors point into the image only when it starts at 0x08000000\n`);
    expect(stdout).toMatch(/application x 2\.0\.0 is up/);
    const json = await run('--json', 'flash', file, '--stay');
    expect(JSON.parse(json.stdout)).toMatchObject({ placement: { address: '0x08000000', how: expect.stringMatching(/^from its vector table/) } });
  });

  it('reports a mass erase as such, not as "0 sectors erased"', async () => {
    const file = path.join(project.dir, 'app.dfu');
    await writeFile(file, writeDfu(buildTestAppImage({ name: 'x', version: '2.0.0' })));
    const text = await run('flash', file, '--erase', 'mass', '--stay');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^sim-a: wrote 8192 bytes from .*, verified; mass-erased the whole flash first; [\d.]+ s\n/);
    expect(text.stdout).not.toContain('0 sectors');
    const json = await run('--json', 'flash', file, '--erase', 'mass', '--stay');
    expect(JSON.parse(json.stdout)).toMatchObject({ erase: 'mass', erasedSectors: [] });
  });

  it('refuses option bytes on a rig that does not allow them, and RDP level 2 on any rig, with exit code 2', async () => {
    const level1 = path.join(project.dir, 'level1.dfu');
    await writeFile(level1, writeDfu(createFirmwareImage({ source: 'ob', format: 'synthetic', segments: [{ address: 0x5200201c, data: optionBlock(0x55) }] })));
    const strict = await run('flash', level1, '--stay');
    expect(strict.code).toBe(ExitCode.Usage);
    const errorLine = (stderr: string): string | undefined => stderr.split('\n').find((l) => l.startsWith('dfu-hil: error'));
    expect(errorLine(strict.stderr)).toBe('dfu-hil: error: refusing to write the option bytes ("Internal Flash") at 0x5200201C without allowOptionBytes');
    const level2 = path.join(project.dir, 'level2.dfu');
    await writeFile(level2, writeDfu(createFirmwareImage({ source: 'ob', format: 'synthetic', segments: [{ address: 0x5200201c, data: optionBlock(0xcc) }] })));
    const refused = await run('--rig', 'sim-ob', 'flash', level2, '--stay');
    expect(refused.code).toBe(ExitCode.Usage);
    expect(errorLine(refused.stderr)).toBe('dfu-hil: error: refusing to write RDP = 0xCC (readout protection level 2) at 0x5200201D');
    expect(refused.stderr).toMatch(/\nhint: RDP level 2 is irreversible/);
  });
});

describe('the simulated boards\' state directory', () => {
  it('gets a .gitignore only when dfu-hil created it', async () => {
    expect((await run('enter')).code).toBe(0);
    expect(await readdir(project.stateDir)).toContain('.gitignore');

    const own = path.join(project.dir, 'my-project');
    await mkdir(own);
    await writeFile(path.join(own, 'notes.txt'), 'mine');
    expect((await cli({ DFU_HIL_STATE_DIR: own }, 'enter')).code).toBe(0);
    expect((await readdir(own)).sort()).toEqual(['notes.txt', 'sim']);
  });
});

describe('a broken rigs.yaml', () => {
  it('gives exit code 3 with every problem located, YAML-level ones included, in one run', async () => {
    await writeFile(path.join(project.dir, 'rigs.yaml'), 'rigs:\n  a:\n    kind: *x\n  b:\n    <<: 5\n    kind: sim\n  c: &c\n    kind: sim\n    description: *c\n  d:\n    kind: simm\n');
    const { code, stderr } = await run('rigs');
    expect(code).toBe(ExitCode.Config);
    const file = path.join(project.dir, 'rigs.yaml');
    expect(stderr).toBe([
      `dfu-hil: error: 4 problems in ${file}:`,
      `  ${file}:3:11: rigs.a.kind: found the alias *x; expected an anchor &x defined before it`,
      `  ${file}:5:5: rigs.b.<<: found the merge key << with "5"; expected << to take a mapping, an alias to one (<<: *defaults), or a list of them`,
      `  ${file}:9:18: rigs.c.description: found the alias *c inside its own anchor; expected an alias to a value that does not contain it (a recursive alias has no end)`,
      `  ${file}:11:11: rigs.d.kind: found "simm"; expected one of "sim", "nucleo-h745", "stm32h7"`,
      `hint: Fix ${file} (the comment at its top documents every key), then run \`dfu-hil doctor\`.`,
      '',
    ].join('\n'));
    const json = await run('--json', 'rigs');
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: 'rig-config', problems: expect.arrayContaining([expect.stringContaining('rigs.a.kind')]) } });
    const doctor = await run('doctor');
    expect(doctor.code).toBe(ExitCode.Config);
    expect(doctor.stdout).toContain('4 problems:');
    expect(doctor.stdout).toContain('rigs.c.description: found the alias *c inside its own anchor');
  });
});
