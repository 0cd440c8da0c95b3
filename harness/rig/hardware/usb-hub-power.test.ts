import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ToolMissingError } from '../../probe/command-runner.js';
import { FakeToolbox } from '../../probe/testing/fake-tools.js';
import { HubPowerError, parsePortPower, UsbHubPower } from './usb-hub-power.js';

// uhubctl 2.x output: a "Current status" block, the request, then a "New status" block.
const HUB = 'hub 1-1 [2109:2817 VIA Labs, Inc. USB2.0 Hub, USB 2.10, 4 ports, ppps]';
const ON_LINE = '  Port 2: 0503 power highspeed enable connect [0483:374e STMicroelectronics STLINK-V3 002B00183232511939353236]';
const OFF_LINE = '  Port 2: 0000 off';

/** A uhubctl that keeps the port's state in a file and answers like the real one. */
const WORKING = `
const state = __filename + '.state';
let on = !fs.existsSync(state) || fs.readFileSync(state, 'utf8') === 'on';
const show = (title) => { out(title + ' for ${HUB}'); out(on ? '${ON_LINE}' : '${OFF_LINE}'); };
show('Current status');
const action = argAfter('-a');
const set = (v) => { on = v; fs.writeFileSync(state, v ? 'on' : 'off'); out(v ? 'Sent power on request' : 'Sent power off request'); show('New status'); };
if (action === 'off') set(false);
if (action === 'on') set(true);
if (action === 'cycle') { set(false); set(true); }
`;

describe('parsePortPower', () => {
  it('takes the last state reported for the port', () => {
    expect(parsePortPower(`Current status for ${HUB}\n${ON_LINE}\nNew status for ${HUB}\n${OFF_LINE}\n`, 2)).toBe('off');
    expect(parsePortPower(`${OFF_LINE}\n${ON_LINE}`, 2)).toBe('on');
    expect(parsePortPower(ON_LINE, 3)).toBeUndefined();
  });
});

describe('UsbHubPower (fake uhubctl on PATH)', () => {
  let tools: FakeToolbox;
  beforeEach(async () => { tools = await FakeToolbox.create(); });
  afterEach(async () => { await tools.dispose(); });

  it('switches the port off, on and through a cycle, checking the new status each time', async () => {
    await tools.install('uhubctl', WORKING);
    const hub = new UsbHubPower({ location: '1-1', port: 2 }, { runner: tools.runner() });
    await hub.off();
    expect(await hub.status()).toBe('off');
    await hub.on();
    expect(await hub.status()).toBe('on');
    await hub.cycle(1500);
    expect(await tools.calls('uhubctl')).toEqual([
      ['-l', '1-1', '-p', '2', '-a', 'off'],
      ['-l', '1-1', '-p', '2'],
      ['-l', '1-1', '-p', '2', '-a', 'on'],
      ['-l', '1-1', '-p', '2'],
      ['-l', '1-1', '-p', '2', '-a', 'cycle', '-d', '1.5'],
    ]);
    expect(hub.log.since(0).every((e) => e.result === 'ok')).toBe(true);
    expect(hub.log.since(0)[0]!.output).toContain('Sent power off request');
  });

  it('fails when uhubctl finds no switchable hub at the location', async () => {
    await tools.install('uhubctl', `err('No compatible devices detected at location 1-9!'); err('Run with -h to get usage info.'); process.exit(1);`);
    const hub = new UsbHubPower({ location: '1-9', port: 2 }, { runner: tools.runner() });
    const error = await hub.off().catch((e: unknown) => e) as HubPowerError;
    expect(error).toBeInstanceOf(HubPowerError);
    expect(error.code).toBe('rig-hub-power');
    expect(error.message).toMatch(/No compatible devices detected at location 1-9/);
    expect(error.hint).toMatch(/location and port/);
    expect(hub.log.since(0)[0]).toMatchObject({ result: 'failed', exitCode: 1 });
  });

  it('reports missing permission with the udev hint', async () => {
    await tools.install('uhubctl', `err('There were permission problems while accessing USB.'); err('Follow https://git.io/JIB2Z for a fix!'); err('No compatible devices detected!'); process.exit(1);`);
    const hub = new UsbHubPower({ location: '1-1', port: 2 }, { runner: tools.runner() });
    await expect(hub.on()).rejects.toMatchObject({ hint: expect.stringMatching(/udev/) as unknown });
  });

  it('fails when the hub accepts the request but the port stays powered (exit 0)', async () => {
    await tools.install('uhubctl', `out('Current status for ${HUB}'); out('${ON_LINE}'); out('Sent power off request'); out('New status for ${HUB}'); out('${ON_LINE}');`);
    const hub = new UsbHubPower({ location: '1-1', port: 2 }, { runner: tools.runner() });
    await expect(hub.off()).rejects.toThrow(/left the port on instead of off/);
  });

  it('names the Debian package when uhubctl is not installed', async () => {
    const hub = new UsbHubPower({ location: '1-1', port: 2 }, { runner: tools.runner({ only: true }) });
    const error = await hub.cycle().catch((e: unknown) => e) as ToolMissingError;
    expect(error).toBeInstanceOf(ToolMissingError);
    expect(error.hint).toMatch(/apt-get install uhubctl/);
  });
});
