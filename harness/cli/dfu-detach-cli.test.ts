// `dfu-hil enter --method dfu-detach` on a simulated rig whose application offers a DFU run-time
// interface: DETACH on the application's own device, the ROM on the same port, and a rig
// without the interface refusing the method with why.
import { describe, expect, it } from 'vitest';
import { ExitCode } from './exit-codes.js';
import { useCliProject } from './testing/cli-project.js';

const RIGS = `
default: sim-d
rigs:
  sim-d:
    kind: sim
    usb: { serial: "200364500000", portPath: "1-4", app: "1209:0001", dfuRuntime: { detachTimeoutMs: 500 } }
    entry:
      console-jump:
      dfu-detach:
  sim-plain:
    kind: sim
`;

const project = useCliProject(RIGS);
const cli = (...argv: string[]) => project.run(argv);

describe('dfu-hil enter --method dfu-detach', () => {
  it('enters DFU through the application\'s run-time interface, the ROM coming back on the same port', async () => {
    const entered = await cli('enter', '--method', 'dfu-detach');
    expect(entered.code).toBe(0);
    expect(entered.stdout).toMatch(/^sim-d: in DFU mode via dfu-detach as 0483:df11 SN 200364500000 @1-4 after \d+ ms\n$/);
    const status = JSON.parse((await cli('--json', 'status')).stdout) as { running: string };
    expect(status.running).toBe('bootloader');
    const left = await cli('leave');
    expect(left.stdout).toMatch(/left DFU \(disconnected\); application dfu-hil-testapp 1\.0\.0 is up/);
  });

  it('takes dfu-detach as the rig\'s first method when none is named, and says so in --json', async () => {
    const entered = JSON.parse((await cli('--json', 'enter')).stdout) as { method: string; portPath: string };
    expect(entered).toMatchObject({ method: 'dfu-detach', portPath: '1-4' });
  });

  it('refuses it on a rig whose application has no run-time interface, saying what to describe', async () => {
    const refused = await cli('--rig', 'sim-plain', 'enter', 'dfu-detach');
    expect(refused.code).toBe(ExitCode.NotAvailable);
    expect(refused.stderr.split('\n')[0]).toBe('dfu-hil: error: rig "sim-plain" does not offer the "dfu-detach" entry method (it offers: console-jump, console-direct)');
    const unknown = await cli('enter', 'dfu-detatch');
    expect(unknown.code).toBe(ExitCode.Usage);
    expect(unknown.stderr).toContain('Use one of: dfu-detach, console-jump, console-direct, console-command, rc, boot0-jumper, probe.');
  });
});
