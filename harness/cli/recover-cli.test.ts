// `dfu-hil recover` on simulated boards left unbootable, with what each rig has.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { writeDfu } from '../image/index.js';
import { syntheticReferenceImages } from '../rig/reference-images.js';
import { ExitCode } from './exit-codes.js';
import { useCliProject } from './testing/cli-project.js';

const RIGS = `
default: with-probe
rigs:
  with-probe:
    kind: sim
    probe: { tool: st-flash }
  bare:
    kind: sim
`;

const project = useCliProject(RIGS);
const cli = (...argv: string[]) => project.run(argv);
let broken: string;
beforeEach(async () => {
  broken = path.join(project.dir, 'broken.dfu');
  await writeFile(broken, writeDfu(syntheticReferenceImages().broken));
});

async function running(rig: string): Promise<{ running: string; application: { name: string; version: string } | null }> {
  return JSON.parse((await cli('--rig', rig, '--json', 'status')).stdout) as never;
}

describe('dfu-hil recover', () => {
  it('brings an unbootable board back with the probe', async () => {
    // The broken image never prints READY: the flash command fails waiting for it.
    expect((await cli('flash', broken)).code).toBe(ExitCode.Failure);
    expect((await running('with-probe')).running).not.toBe('application');
    const { code, stdout } = await cli('recover');
    expect(code).toBe(0);
    expect(stdout).toBe('with-probe: recovered with the probe or through BOOT0, then DFU; application dfu-hil-testapp 1.0.0 is up\n');
    expect(await running('with-probe')).toMatchObject({ running: 'application', application: { name: 'dfu-hil-testapp', version: '1.0.0' } });
    // Recovering a healthy board changes nothing.
    expect(JSON.parse((await cli('--json', 'recover')).stdout)).toEqual({ rig: 'with-probe', how: 'already', application: { name: 'dfu-hil-testapp', version: '1.0.0' } });
  });

  it('reflashes over DFU a board left in the bootloader, without a probe', async () => {
    expect((await cli('--rig', 'bare', 'flash', broken, '--stay')).code).toBe(0);
    const { code, stdout } = await cli('--rig', 'bare', 'recover');
    expect(code).toBe(0);
    expect(stdout).toBe('bare: reflashed over DFU; application dfu-hil-testapp 1.0.0 is up\n');
  });

  it('says what to do by hand when the rig has no way into a board that does not boot', async () => {
    expect((await cli('--rig', 'bare', 'flash', broken)).code).toBe(ExitCode.Failure);
    const { code, stderr } = await cli('--rig', 'bare', 'recover');
    expect(code).toBe(ExitCode.Infrastructure);
    expect(stderr.split('\n')[0]).toMatch(/^dfu-hil: error: rig bare: could not bring the board back to dfu-hil-testapp 1\.0\.0/);
    expect(stderr).toContain('hint: dfu-hil could not reach the bootloader: it has neither a debug probe nor a BOOT0 jumper with switched power. Hold BOOT0 high by hand');
  });
});
