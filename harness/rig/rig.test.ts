import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DfuRangeError, RdpLevel2RefusedError } from '../dfu/errors.js';
import { ImageError } from '../image/errors.js';
import { DfuHilError } from '../errors.js';
import { ToolMissingError } from '../probe/command-runner.js';
import { ProbeError } from '../probe/probe.js';
import { UsbError } from '../usb/errors.js';
import { RigLockLostError } from './lock/rig-lock.js';
import { ConsoleError } from '../serial/test-app-console.js';
import { parseRigs, type RigConfig } from './config/load-rigs.js';
import { capabilitiesFromConfig, missingCapability, requireCapabilities } from './rig.js';
import { classifyFailure, RigCapabilityMissing, RigInfrastructureError, RigTestError } from './rig-errors.js';

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

  it('offers DFU_DETACH first where the application has a run-time interface, and says what a board of its own lacks', () => {
    // The shipped executed rig's application offers the interface: the specs that take a rig's first method run through it.
    expect(capabilitiesFromConfig(rigs.rigs.get('sim-h745-exec')!).entryMethods).toEqual(['dfu-detach', 'console-jump', 'console-direct', 'rc', 'probe']);
    const own = parseRigs([
      'rigs:', '  b:', '    kind: stm32h7', '    usb: { app: "1209:0001", portPath: "1-4.2" }', '    console: { path: /dev/ttyUSB0 }',
      '    probe: { tool: openocd, openocdConfig: board/my-board.cfg }', '    firmware: { reference: my-app.hex }',
      '    entry: { dfu-detach:, console-command: { send: update }, probe: }', '    appReady: { settleMs: 500 }',
    ].join('\n'), 'x.yaml').rigs.get('b')!;
    const caps = capabilitiesFromConfig(own);
    expect(caps.entryMethods).toEqual(['dfu-detach', 'console-command', 'probe']);
    expect(caps).toMatchObject({ testAppConsole: false, ledPin: undefined, executesFirmware: true, faultInjection: false });
    const rig = { name: 'b', capabilities: caps };
    expect(missingCapability(rig, 'led-pin')).toBe('rig "b" names no pin the application may drive (add pins: { led: <pin> } for one that drives an LED or nothing)');
    expect(missingCapability(rig, 'test-app-console')).toMatch(/boots its own firmware/);
    expect(missingCapability(rig, 'console-jump')).toBe('rig "b" does not offer the "console-jump" entry method (it offers: dfu-detach, console-command, probe)');
    expect(capabilitiesFromConfig(rigs.rigs.get('sim-h745')!).ledPin).toBe('PB0');
  });

  it('gives hardware power control only with a switched hub port for the board, not the BOOT0 jumper\'s', () => {
    const bench = rigs.rigs.get('bench-1')!;
    expect(capabilitiesFromConfig(bench).powerControl).toBe(false);
    const bench2 = (rig: string): RigConfig => parseRigs(`rigs:\n  b:\n    kind: nucleo-h745\n    usb: { portPath: "1-2" }\n    console: { path: /dev/ttyACM0 }\n${rig}`, 'x.yaml').rigs.get('b')!;
    // With BOOT0 held high, that port's power cycle starts the ROM, never the application.
    const jumperOnly = capabilitiesFromConfig(bench2('    entry:\n      boot0-jumper: { uhubctl: { location: "1-1", port: 3 } }\n'));
    expect(jumperOnly.powerControl).toBe(false);
    expect(jumperOnly.entryMethods).toEqual(['boot0-jumper']);
    expect(jumperOnly.probe).toBeUndefined();
    const switched = capabilitiesFromConfig(bench2('    power: { uhubctl: { location: "1-1", port: 3 } }\n    entry: { boot0-jumper: {} }\n'));
    expect(switched.powerControl).toBe(true);
    expect(switched.entryMethods).toEqual(['boot0-jumper']);
  });

  it('offers an entry method only where the bound backends can run it, wherever the rig is', () => {
    const withProbe = (tool: string): RigConfig => parseRigs(`rigs:\n  b:\n    kind: nucleo-h745\n    usb: { portPath: "1-2" }\n    console: { path: /dev/ttyACM0 }\n    probe: { tool: ${tool} }\n    entry: { console-jump:, probe: }\n`, 'x.yaml').rigs.get('b')!;
    // st-flash can neither write RAM without side effects nor request SYSRESETREQ.
    expect(capabilitiesFromConfig(withProbe('st-flash')).entryMethods).toEqual(['console-jump']);
    expect(capabilitiesFromConfig(withProbe('openocd')).entryMethods).toEqual(['console-jump', 'probe']);
    // The simulated probe can, whatever tool the rig names.
    expect(capabilitiesFromConfig(rigs.rigs.get('sim-h745')!).entryMethods).toContain('probe');
  });

  it('names the reason a spec is skipped', () => {
    const bench = { name: 'bench-1', capabilities: capabilitiesFromConfig(rigs.rigs.get('bench-1')!) };
    expect(missingCapability(bench, 'rc')).toBeUndefined();
    expect(missingCapability(bench, 'boot0-jumper')).toBe('rig "bench-1" does not offer the "boot0-jumper" entry method (it offers: console-jump, console-direct, rc, probe)');
    expect(missingCapability(bench, 'power-control')).toContain('cannot switch the board\'s power');
    expect(() => requireCapabilities(bench, 'debug-probe', 'option-bytes')).toThrow(RigCapabilityMissing);
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
    expect(classifyFailure(new ConsoleError('open-failed', 'cannot open'))).toBe('infrastructure');
    expect(classifyFailure(new ConsoleError('timeout', 'no answer'))).toBe('test');
    expect(classifyFailure(new RigTestError('gpio-after-leave', 'PA11 left in AF'))).toBe('test');
    expect(classifyFailure(new RigCapabilityMissing('sim-h745', 'boot0-jumper', 'no jumper'))).toBe('capability');
    expect(classifyFailure(new DfuHilError('dfu-status', 'errTARGET'))).toBe('test');
    expect(classifyFailure(new Error('anything else'))).toBe('test');
    expect(classifyFailure(new UsbError('access', 'LIBUSB_ERROR_ACCESS'))).toBe('infrastructure');
    expect(classifyFailure(new UsbError('stall', 'EP0 STALL'))).toBe('test');
    expect(classifyFailure(new ProbeError('openocd exited with 1'))).toBe('infrastructure');
    expect(classifyFailure(new ToolMissingError('uhubctl', 'power'))).toBe('infrastructure');
    expect(classifyFailure(new RigLockLostError('sim-h745', new Error('taken over')))).toBe('infrastructure');
  });

  it('counts a request refused before it reached the board as usage', () => {
    expect(classifyFailure(new DfuRangeError('outside-layout', 0x90000000, 'no memory'))).toBe('usage');
    expect(classifyFailure(new RdpLevel2RefusedError(0x5200201c))).toBe('usage');
    expect(classifyFailure(new ImageError('app.bin', 'no-address', 'no address'))).toBe('usage');
    expect(classifyFailure(new ImageError('app.dfu', 'crc', 'bad CRC'))).toBe('test');
  });

  it('takes the class from the error\'s type, never from its code or message', () => {
    expect(classifyFailure(new DfuHilError('console-open-failed', 'cannot open console'))).toBe('test');
    expect(classifyFailure(new ConsoleError('open-failed', 'x'))).toBe('infrastructure');
  });

  it('prefixes infrastructure codes with rig-', () => {
    expect(new RigInfrastructureError('hub', 'x').code).toBe('rig-hub');
  });
});
