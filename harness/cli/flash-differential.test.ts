// `dfu-hil flash` skips the sectors that already hold the image, says which, and `--full`
// forces the cold path; on the simulated rig, one command after another.
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildTestAppImage, writeDfu } from '../image/index.js';
import { useCliProject } from './testing/cli-project.js';

const RIGS = `
default: sim-a
rigs:
  sim-a:
    kind: sim
    usb: { serial: "200364500000" }
    entry:
      console-jump:
`;

const project = useCliProject(RIGS);
const cli = (...argv: string[]) => project.run(argv);

interface FlashJson { erasedSectors: string[]; skippedSectors: string[]; bytesWritten: number; verified: boolean }

describe('dfu-hil flash, differential by default', () => {
  it('skips an unchanged sector and says so; --full erases and writes it again', async () => {
    const file = path.join(project.dir, 'z.dfu');
    await writeFile(file, writeDfu(buildTestAppImage({ name: 'z', version: '4.0.0' })));
    const first = await cli('--json', 'flash', file, '--stay');
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({ erasedSectors: ['0x08000000'], skippedSectors: [], bytesWritten: 8192, verified: true } satisfies FlashJson);

    const again = await cli('flash', file, '--stay');
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/^sim-a: wrote 0 bytes from .*z\.dfu, verified; erased 0 sectors, skipped 1 unchanged \(0x08000000\); [\d.]+ s\n/);
    // Reading one sector back costs about a tenth of a second; erasing it alone would be 1.1 s.
    expect(again.stderr).toMatch(/compare +100% \(131072\/131072 bytes\)/);

    const full = await cli('--json', 'flash', file, '--full', '--stay');
    expect(full.code).toBe(0);
    expect(JSON.parse(full.stdout)).toMatchObject({ erasedSectors: ['0x08000000'], skippedSectors: [], bytesWritten: 8192, verified: true } satisfies FlashJson);
  });

  it('documents --full in the help', async () => {
    const help = await cli('flash', '--help');
    expect(help.stdout).toContain('--full');
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('even those that already hold its bytes');
  });
});
