import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DfuHilError } from '../errors.js';
import { ConsoleError } from '../serial/test-app-console.js';
import { parseRigs } from './config/load-rigs.js';
import {
  capabilitiesFromConfig, classifyFailure, missingCapability, requireCapabilities, RigCapabilityMissing,
  RigInfrastructureError, RigNotAvailable, RigTestError,
} from './rig.js';

const rigs = parseRigs(readFileSync(path.resolve(import.meta.dirname, '../../rigs.yaml'), 'utf8'), 'rigs.yaml');

describe('rig capabilities', () => {
  it('derives entry methods, probe, power and bootloader from the description', () => {
    const sim = rigs.rigs.get('sim-h745')!;
    const caps = capabilitiesFromConfig(sim);
    expect(caps.entryMethods).toEqual(['console-jump', 'console-direct', 'rc', 'probe']);
    expect(caps.probe).toEqual({ tool: 'st-flash' });
    expect(caps.powerControl).toBe(true);
    // A simulated chip cannot be bricked: rigs.yaml lets its option bytes be written.
    expect(caps.optionBytes).toBe(true);
    expect(capabilitiesFromConfig(rigs.rigs.get('bench-1')!).optionBytes).toBe(false);
    expect(caps.bootloader).toEqual({
      profile: 'st-rom-v9.2',
      vidPid: { vendorId: 0x0483, productId: 0xdf11 },
      layout: { flash: '@Internal Flash   /0x08000000/16*128Kg', optionBytes: '@Option Bytes   /0x5200201C/01*128 e' },
    });
  });

  it('gives hardware power control only with a switched hub port', () => {
    const bench = rigs.rigs.get('bench-1')!;
    expect(capabilitiesFromConfig(bench).powerControl).toBe(false);
    const withHub = parseRigs('rigs:\n  b:\n    kind: nucleo-h745\n    usb: { portPath: "1-2" }\n    console: { path: /dev/ttyACM0 }\n    entry:\n      boot0-jumper: { uhubctl: { location: "1-1", port: 3 } }\n', 'x.yaml').rigs.get('b')!;
    const caps = capabilitiesFromConfig(withHub);
    expect(caps.powerControl).toBe(true);
    expect(caps.entryMethods).toEqual(['boot0-jumper']);
    expect(caps.probe).toBeUndefined();
  });

  it('names the reason a spec is skipped', () => {
    const bench = { name: 'bench-1', capabilities: capabilitiesFromConfig(rigs.rigs.get('bench-1')!) };
    expect(missingCapability(bench, 'rc')).toBeUndefined();
    expect(missingCapability(bench, 'boot0-jumper')).toBe('rig "bench-1" does not offer the "boot0-jumper" entry method (it offers: console-jump, console-direct, rc, probe)');
    expect(missingCapability(bench, 'power-control')).toContain('cannot switch the board\'s power');
    expect(() => requireCapabilities(bench, 'probe', 'option-bytes')).toThrow(RigCapabilityMissing);
    try {
      requireCapabilities(bench, 'option-bytes');
    } catch (error) {
      expect(error).toMatchObject({ code: 'rig-capability-missing', rig: 'bench-1', need: 'option-bytes' });
    }
  });
});

describe('failure classes', () => {
  it('separates the bench failing from the board failing', () => {
    expect(classifyFailure(new RigInfrastructureError('hub', 'hub port 3 did not switch'))).toBe('infrastructure');
    expect(classifyFailure(new RigNotAvailable('enter', 'nucleo-h745'))).toBe('infrastructure');
    expect(classifyFailure(new ConsoleError('open-failed', 'cannot open'))).toBe('infrastructure');
    expect(classifyFailure(new ConsoleError('timeout', 'no answer'))).toBe('test');
    expect(classifyFailure(new RigTestError('gpio-after-leave', 'PA11 left in AF'))).toBe('test');
    expect(classifyFailure(new RigCapabilityMissing('sim-h745', 'boot0-jumper', 'no jumper'))).toBe('capability');
    expect(classifyFailure(new DfuHilError('dfu-status', 'errTARGET'))).toBe('test');
    expect(classifyFailure(new Error('anything else'))).toBe('test');
  });

  it('prefixes infrastructure codes with rig-', () => {
    expect(new RigInfrastructureError('hub', 'x').code).toBe('rig-hub');
    expect(new RigNotAvailable('flash', 'sim').message).toBe('flash is not available yet for rigs of kind "sim"');
  });
});
