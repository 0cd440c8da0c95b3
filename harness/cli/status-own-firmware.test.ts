// `dfu-hil status` on a rig whose firmware has no test-application console: a simulated board
// names the application from its image's version block instead of asking a console nobody serves.
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../rig/reference-images.js';
import { unicornAvailability } from '../sim/cpu/unicorn-core.js';
import { useCliProject } from './testing/cli-project.js';

const availability = await unicornAvailability();
const example = (version: string) => path.join(REPO_ROOT, 'firmware-images', 'images', `example-app-${version}.hex`);

const project = useCliProject(`
rigs:
  own:
    kind: sim
    application: executed
    firmware: { reference: ${JSON.stringify(example('2.0.0'))} }
    probe: { tool: st-flash }
    entry:
      probe:
`);
const cli = (...argv: string[]) => project.run(argv);

describe.skipIf(!availability.available)(`dfu-hil status on a rig booting its own firmware${availability.available ? '' : ` (skipped: ${availability.reason})`}`, () => {
  it('names the application the core runs, from its version block, then the bootloader once in DFU mode', async () => {
    const text = await cli('status');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/\n {2}running: application example-app 2\.0\.0\n/);
    const json = JSON.parse((await cli('--json', 'status')).stdout) as { running: string; application: unknown };
    expect(json).toMatchObject({ running: 'application', application: { name: 'example-app', version: '2.0.0' } });
    expect((await cli('enter', '--method', 'probe')).code).toBe(0);
    expect(JSON.parse((await cli('--json', 'status')).stdout)).toMatchObject({ running: 'bootloader', application: null });
  });

  it('says unknown, and why, when the core runs no valid image', async () => {
    expect((await cli('erase', '--mass')).code).toBe(0);
    const left = await cli('leave');
    expect(left.code).not.toBe(0);
    const text = await cli('status');
    expect({ left: left.stderr, status: text.stdout }).toEqual({ left: expect.any(String), status: expect.stringMatching(/\n {2}running: unknown \(the core runs nothing: the Cortex-M7 locked up: .+\)\n/) });
  });
});
