// The dfu-detach entry on a simulated rig whose application offers a DFU run-time interface
// (usb.dfuRuntime): what goes on the wire, with and without bitWillDetach, the rig's wValue, and
// the typed errors when the application does not act on DETACH or is not on the bus.
import { afterEach, describe, expect, it } from 'vitest';
import { normaliseTrace } from '../../report/golden-trace.js';
import { parseRigs } from '../config/load-rigs.js';
import { syntheticReferenceImages } from '../reference-images.js';
import { createSimRig, type SimRig } from './sim-rig.js';

const rigs: SimRig[] = [];
afterEach(async () => {
  for (const rig of rigs.splice(0)) await rig.close();
});

async function rigWith(dfuRuntime: string, entry = 'dfu-detach:'): Promise<SimRig> {
  const config = parseRigs([
    'rigs:', '  d:', '    kind: sim',
    `    usb: { serial: "200364500000", portPath: "1-4", app: "1209:0001", dfuRuntime: ${dfuRuntime} }`,
    `    entry: { ${entry}, console-jump: }`,
  ].join('\n'), 'rigs.yaml').rigs.get('d')!;
  const rig = await createSimRig(config, syntheticReferenceImages());
  rigs.push(rig);
  return rig;
}

/** The rig's USB trace since `mark`, as the goldens write it. */
const wire = (rig: SimRig, mark: number): string[] => normaliseTrace(rig.trace.usb.since(mark));

describe('entering DFU by DFU_DETACH on a simulated rig', () => {
  it('asks the state, sends DETACH with wDetachTimeOut, resets the device, and finds the ROM on the same port', async () => {
    const rig = await rigWith('{ detachTimeoutMs: 400 }');
    expect(rig.capabilities.entryMethods).toEqual(['dfu-detach', 'console-jump']);
    const mark = rig.trace.usb.mark();
    const report = await rig.enterDfu('dfu-detach');
    expect(report).toMatchObject({ method: 'dfu-detach', vidPid: { vendorId: 0x0483, productId: 0xdf11 }, serialNumber: '200364500000', portPath: '1-4' });
    const lines = wire(rig, mark);
    // The application enumerates 100 ms after its start: the entry waited for it.
    expect(lines.slice(0, 5)).toEqual([
      'dev1  ATTACH  ok',
      'dev1  IN  GETSTATUS     type=a1 value=0 index=1 len=6  OK/appIDLE poll=0ms  -> ok',
      'dev1  OUT DETACH        type=21 value=400 index=1 len=0  -> ok',
      'dev1  RESET  ok',
      'dev1  DETACH  ok',
    ]);
    expect(lines).toContain('dev2  ATTACH  ok');
    // The ROM was entered by the early jump: the application's own Reset_Handler took it.
    expect(rig.backends.board.runningCode).toBe('bootloader');
  });

  it('sends the rig\'s own wValue, and leaves a bitWillDetach device to go by itself (no reset)', async () => {
    const rig = await rigWith('{ willDetach: true }', 'dfu-detach: { detachTimeoutMs: 250 }');
    const mark = rig.trace.usb.mark();
    await rig.enterDfu('dfu-detach');
    const lines = wire(rig, mark);
    expect(lines[2]).toBe('dev1  OUT DETACH        type=21 value=250 index=1 len=0  -> ok');
    expect(lines.some((l) => l.includes('RESET'))).toBe(false);
    expect(lines).toContain('dev2  ATTACH  ok');
  });

  it('fails with a typed error naming the device when the application acknowledges DETACH and stays', async () => {
    const rig = await rigWith('{}');
    rig.backends.board.faults.appUsb.ignoreDetach = true;
    const error = await rig.enterDfu('dfu-detach').catch((e: unknown) => e) as Error & { code: string; hint: string };
    expect(error.code).toBe('dfu-detach');
    expect(error.message).toMatch(/^1209:0001 SN 200364500000 @1-4 was still on the bus 5000 ms after DETACH \(answered: ok\)/);
    expect(error.hint).toMatch(/did not act on DFU_DETACH/);
    expect(rig.backends.board.runningCode).toBe('app');
  });

  it('says there is nothing to detach when the application\'s device is not on the bus', async () => {
    const rig = await rigWith('{}');
    await rig.enterDfu('console-jump');
    const error = await rig.enterDfu('dfu-detach').catch((e: unknown) => e) as Error & { code: string };
    expect(error.code).toBe('dfu-detach-no-device');
    expect(error.message).toBe('the application\'s USB device 1209:0001 @1-4 is not on the bus (waited 5000 ms), so there is no run-time interface to send DETACH to');
  });
});
