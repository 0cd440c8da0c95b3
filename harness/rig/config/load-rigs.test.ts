import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadRigs, parseRigs, pickRig, rigCi, RigConfigError } from './load-rigs.js';
import { parseEngineeringValue } from './engineering-value.js';
import { rigsJsonSchema, ST_ROM_FLASH_LAYOUT } from './schema.js';

const repoRigs = path.resolve(import.meta.dirname, '../../../rigs.yaml');

const minimalHardware = `
rigs:
  bench-9:
    kind: nucleo-h745
    usb: { portPath: "1-4.2" }
    console: { path: /dev/ttyACM0 }
`;

function parseError(text: string): RigConfigError {
  try {
    parseRigs(text, 'rigs.yaml');
  } catch (error) {
    if (error instanceof RigConfigError) return error;
    throw error;
  }
  throw new Error('expected a RigConfigError');
}

describe('parseRigs', () => {
  it('fills every default on a minimal hardware rig', () => {
    const file = parseRigs(minimalHardware, 'rigs.yaml');
    expect(file.defaultRig).toBe('bench-9'); // the only rig is the default
    const rig = file.rigs.get('bench-9')!;
    expect(rig.name).toBe('bench-9');
    expect(rig.console).toEqual({ path: '/dev/ttyACM0', baud: 115_200 });
    expect(rig.bootloader.vidPid).toEqual({ vendorId: 0x0483, productId: 0xdf11 });
    expect(rig.bootloader.layout.flash).toBe('@Internal Flash   /0x08000000/16*128Kg');
    expect(rig.bootloader.layout.optionBytes).toBe('@Option Bytes   /0x5200201C/01*128 e');
    expect(rig.bootloader.profile).toBeUndefined();
    expect(Object.keys(rig.entry).filter((k) => rig.entry[k as keyof typeof rig.entry] !== undefined)).toEqual(['console-jump', 'console-direct']);
    expect(rig.expect.gpioAfterLeave).toEqual({ baseline: 'reset-values', exceptions: [] });
    expect(rig.timeouts).toEqual({ enumerationMs: 5000, consoleMs: 2000, readyMs: 5000, flashMs: 120_000, leaveMs: 5000, probeMs: 60_000, powerCycleMs: 3000 });
    expect(rig.allowOptionBytes).toBe(false);
    expect(rig.probe).toBeUndefined();
  });

  it('parses the shipped rigs.yaml into typed values', async () => {
    const file = await loadRigs(repoRigs);
    expect(file.defaultRig).toBe('sim-h745');
    expect([...file.rigs.keys()]).toEqual(['sim-h745', 'sim-h745-v91', 'sim-h745-exec', 'sim-h745-example', 'bench-1']);
    const sim = file.rigs.get('sim-h745')!;
    expect(sim.kind).toBe('sim');
    expect(sim.bootloader.profile).toBe('st-rom-v9.2');
    expect(sim.console.path).toBe('sim:sim-h745');
    expect(sim.entry.rc).toEqual({ r: 100_000, c: 1e-6, vdd: 3.3, threshold: 1.65, chargePin: 'PG2' });
    expect(sim.entry.probe).toEqual({});
    expect(sim.probe).toEqual({ tool: 'st-flash', openocdConfig: 'board/st_nucleo_h745zi.cfg' });
    expect(file.rigs.get('sim-h745-v91')!.bootloader.profile).toBe('st-rom-v9.1');
    expect(sim.application).toBeUndefined();
    expect(file.rigs.get('sim-h745-exec')!.application).toBe('executed');
    const example = file.rigs.get('sim-h745-example')!;
    expect(example.firmware).toEqual({ reference: path.resolve(path.dirname(repoRigs), 'firmware-images/images/example-app-2.0.0.hex'), console: false });
    expect(example.appReady).toEqual({ form: 'console-banner', banner: '^(?<name>example-app) (?<version>\\S+) up$' });
    expect(example.usb).toMatchObject({ app: { vendorId: 0x1209, productId: 0x0001 }, dfuRuntime: { willDetach: false } });
    const bench = file.rigs.get('bench-1')!;
    expect(bench.kind).toBe('nucleo-h745');
    expect(bench.expect.gpioAfterLeave.exceptions[0]).toMatchObject({ port: 'A', register: 'MODER', mask: 0x03c00000, value: 0x02800000 });
  });

  it('reads schematic notation and plain numbers alike', () => {
    const file = parseRigs(`
rigs:
  s:
    kind: sim
    entry:
      rc: { r: 4.7kΩ, c: 100nF, vdd: 3300m, threshold: 2.0V, chargePin: PA0 }
`, 'rigs.yaml');
    const rc = file.rigs.get('s')!.entry.rc!;
    expect(rc.r).toBeCloseTo(4700, 9);
    expect(rc.c).toBeCloseTo(100e-9, 15);
    expect(rc.vdd).toBeCloseTo(3.3, 12);
    expect(rc.threshold).toBe(2);
  });

  it('keeps the sim default profile and console path per rig', () => {
    const rig = parseRigs('rigs:\n  a:\n    kind: sim\n', 'x.yaml').rigs.get('a')!;
    expect(rig.bootloader.profile).toBe('st-rom-v9.2');
    expect(rig.console.path).toBe('sim:a');
  });

  it('applies the CI defaults only to rigs with a ci: section', () => {
    const file = parseRigs(`${minimalHardware}    ci:
  bench-10:
    kind: nucleo-h745
    usb: { portPath: "1-4.3" }
    console: { path: /dev/ttyACM1 }
    ci: { runnerLabels: [self-hosted, linux, lab-3], group: h745-rev-y }
  bench-11:
    kind: nucleo-h745
    usb: { portPath: "1-4.4" }
    console: { path: /dev/ttyACM2 }
`, 'rigs.yaml');
    expect(rigCi(file.rigs.get('bench-9')!)).toEqual({ runnerLabels: ['self-hosted', 'dfu-hil-bench-9'], group: 'bench-9' });
    expect(rigCi(file.rigs.get('bench-10')!)).toEqual({ runnerLabels: ['self-hosted', 'linux', 'lab-3'], group: 'h745-rev-y' });
    expect(rigCi(file.rigs.get('bench-11')!)).toBeUndefined();
  });

  it('lets the identical boards of one CI group share a runner, and so its labels', () => {
    const sameGroup = (group2: string) => `${minimalHardware}    ci: { group: rev-y, runnerLabels: [self-hosted, lab] }
  bench-10:
    kind: nucleo-h745
    usb: { portPath: "1-4.3" }
    console: { path: /dev/ttyACM1 }
    ci: { group: ${group2}, runnerLabels: [self-hosted, lab] }
`;
    expect(rigCi(parseRigs(sameGroup('rev-y'), 'rigs.yaml').rigs.get('bench-10')!)).toEqual({ runnerLabels: ['self-hosted', 'lab'], group: 'rev-y' });
    expect(() => parseRigs(sameGroup('rev-z'), 'rigs.yaml')).toThrow('rigs.yaml:12:39: rigs.bench-10.ci.runnerLabels: found a list; expected runner labels that no rig outside');
  });

  const broken: Array<{ name: string; text: string; keyPath: string; line: number; column: number; parts: string[] }> = [
    {
      name: 'a bad pin name',
      text: 'rigs:\n  bench-1:\n    kind: sim\n    entry:\n      rc:\n        chargePin: G2\n',
      keyPath: 'rigs.bench-1.entry.rc.chargePin', line: 6, column: 20,
      parts: ['found "G2"', 'expected a pin name like "PG2"'],
    },
    {
      name: 'a misspelt key',
      text: 'rigs:\n  bench-1:\n    kind: sim\n    entry:\n      rc:\n        chargepin: PG2\n',
      keyPath: 'rigs.bench-1.entry.rc.chargepin', line: 6, column: 9,
      parts: ['unknown key "chargepin"', 'did you mean "chargePin"?'],
    },
    {
      name: 'an unknown rig kind',
      text: 'rigs:\n  b:\n    kind: nucleo-h743\n',
      keyPath: 'rigs.b.kind', line: 3, column: 11,
      parts: ['found "nucleo-h743"', 'expected one of "sim", "nucleo-h745", "stm32h7"'],
    },
    {
      name: 'a resistance that is not one',
      text: 'rigs:\n  b:\n    kind: sim\n    entry:\n      rc: { r: 100kV, chargePin: PG2 }\n',
      keyPath: 'rigs.b.entry.rc.r', line: 5, column: 16,
      parts: ['found "100kV"', 'expected a resistance like 100k'],
    },
    {
      name: 'a bad USB id',
      text: 'rigs:\n  b:\n    kind: sim\n    bootloader:\n      vidPid: 483:df11\n',
      keyPath: 'rigs.b.bootloader.vidPid', line: 5, column: 15,
      parts: ['found "483:df11"', 'expected a USB id like "0483:df11"'],
    },
    {
      name: 'a hardware rig without a console path',
      text: 'rigs:\n  b:\n    kind: nucleo-h745\n    usb: { serial: "X" }\n',
      keyPath: 'rigs.b.console.path', line: 3, column: 5,
      parts: ['found nothing (the key is missing)', 'expected a serial device path'],
    },
    {
      name: 'a default that names no rig',
      text: 'default: sim-h754\nrigs:\n  sim-h745:\n    kind: sim\n',
      keyPath: 'default', line: 1, column: 10,
      parts: ['found "sim-h754"', 'expected one of the rigs in this file: "sim-h745"'],
    },
    {
      name: 'an exception value outside its mask',
      text: 'rigs:\n  b:\n    kind: sim\n    expect:\n      gpioAfterLeave:\n        exceptions:\n          - { port: A, register: MODER, mask: "0x03C00000", value: "0x02800001", reason: usb pins }\n',
      keyPath: 'rigs.b.expect.gpioAfterLeave.exceptions[0].value', line: 7, column: 68,
      parts: ['found "0x02800001"', 'expected a value with no bits set outside its mask'],
    },
    {
      name: 'a probe entry with no probe',
      text: 'rigs:\n  b:\n    kind: sim\n    entry:\n      probe:\n',
      keyPath: 'rigs.b.entry.probe', line: 5, column: 7,
      parts: ['expected a "probe:" section on this rig'],
    },
    {
      name: 'a timeout given as text',
      text: 'rigs:\n  b:\n    kind: sim\n    timeouts:\n      flashMs: 2min\n',
      keyPath: 'rigs.b.timeouts.flashMs', line: 5, column: 16,
      parts: ['found "2min"', 'expected a duration in milliseconds like 5000'],
    },
    {
      name: 'a bad DfuSe layout',
      text: 'rigs:\n  b:\n    kind: sim\n    bootloader:\n      layout:\n        flash: "Internal Flash/0x08000000/16*128Kg"\n',
      keyPath: 'rigs.b.bootloader.layout.flash', line: 6, column: 16,
      parts: ['expected a DfuSe layout like "@Internal Flash   /0x08000000/16*128Kg"'],
    },
    {
      name: 'a misspelt top-level key',
      text: 'defualt: a\nrigs:\n  a:\n    kind: sim\n',
      keyPath: 'defualt', line: 1, column: 1,
      parts: ['unknown key "defualt"', 'did you mean "default"?'],
    },
    {
      name: 'a ci: section on a simulated rig',
      text: 'rigs:\n  s:\n    kind: sim\n    ci: { group: a }\n',
      keyPath: 'rigs.s.ci', line: 4, column: 9,
      parts: ['expected no "ci:" section on a simulated rig'],
    },
    {
      name: 'runner labels without self-hosted',
      text: `${minimalHardware}    ci: { runnerLabels: [ubuntu-latest, bench-9] }\n`,
      keyPath: 'rigs.bench-9.ci.runnerLabels', line: 7, column: 25,
      parts: ['found a list', 'expected a list that includes "self-hosted"'],
    },
    {
      name: 'a runner label with a space',
      text: `${minimalHardware}    ci: { runnerLabels: [self-hosted, "bench 9"] }\n`,
      keyPath: 'rigs.bench-9.ci.runnerLabels[1]', line: 7, column: 39,
      parts: ['found "bench 9"', 'expected a runner label like "dfu-hil-bench-1"'],
    },
    {
      name: 'a CI group in capitals',
      text: `${minimalHardware}    ci: { group: H745 }\n`,
      keyPath: 'rigs.bench-9.ci.group', line: 7, column: 18,
      parts: ['found "H745"', 'expected a group name like "h745-rev-y"'],
    },
    {
      name: 'two CI rigs with the same runner labels',
      text: `${minimalHardware}    ci: { runnerLabels: [self-hosted, lab] }\n  bench-10:\n    kind: nucleo-h745\n    usb: { portPath: "1-4.3" }\n    console: { path: /dev/ttyACM1 }\n    ci: { runnerLabels: [LAB, self-hosted] }\n`,
      keyPath: 'rigs.bench-10.ci.runnerLabels', line: 12, column: 25,
      parts: ['expected runner labels that no rig outside this rig\'s CI group has (rig "bench-9" has the same', 'like "dfu-hil-bench-10"'],
    },
    {
      name: 'YAML that does not parse',
      text: 'rigs:\n  a:\n    kind: sim\n   bad: [\n',
      keyPath: '', line: 4, column: 1,
      parts: ['found text that is not valid YAML'],
    },
    // YAML-level problems the YAML library's toJS() would throw on, unlocated.
    {
      name: 'an alias to no anchor',
      text: 'rigs:\n  a:\n    kind: *x\n',
      keyPath: 'rigs.a.kind', line: 3, column: 11,
      parts: ['found the alias *x', 'expected an anchor &x defined before it'],
    },
    {
      name: 'a merge key with a number',
      text: 'rigs:\n  a:\n    <<: 5\n    kind: sim\n',
      keyPath: 'rigs.a.<<', line: 3, column: 5,
      parts: ['found the merge key << with "5"', 'expected << to take a mapping'],
    },
    {
      name: 'a merge key with an alias to a list',
      text: 'rigs:\n  a:\n    kind: sim\n    description: &l a text\n  b:\n    <<: *l\n    kind: sim\n',
      keyPath: 'rigs.b.<<', line: 6, column: 5,
      parts: ['the alias *l, which is not a mapping'],
    },
    {
      name: 'a recursive alias',
      text: 'rigs: &r\n  a:\n    kind: sim\n    description: *r\n',
      keyPath: 'rigs.a.description', line: 4, column: 18,
      parts: ['found the alias *r inside its own anchor', 'a recursive alias has no end'],
    },
    {
      name: 'a list as a key',
      text: 'rigs:\n  ? [a, b]\n  : { kind: sim }\n',
      keyPath: 'rigs', line: 2, column: 5,
      parts: ['found a list used as a key', 'expected a plain name as the key'],
    },
    {
      name: 'an alias bomb',
      text: `rigs:\n  s:\n    kind: sim\n    description: [&a [1, 1], &b [${Array(11).fill('*a').join(', ')}], [${Array(101).fill('*b').join(', ')}]]\n`,
      keyPath: 'rigs.s.description[1][0]', line: 4, column: 34,
      parts: ['found aliases that expand without bound'],
    },
    {
      name: 'a value its tag does not fit',
      text: 'rigs:\n  a:\n    kind: sim\n    description: !!int abc\n',
      keyPath: 'rigs.a.description', line: 4, column: 18,
      parts: ['found a value YAML cannot read as written'],
    },
  ];

  it.each(broken)('names the key, line and expected form for $name', ({ text, keyPath, line, column, parts }) => {
    const error = parseError(text);
    expect(error.code).toBe('rig-config');
    expect(error.keyPath).toBe(keyPath);
    expect([error.line, error.column]).toEqual([line, column]);
    expect(error.message.startsWith(`rigs.yaml:${line}:${column}: `)).toBe(true);
    for (const part of parts) expect(error.message).toContain(part);
    expect(error.hint).toContain('rigs.yaml');
  });

  it('accepts merge keys that merge mappings, as most YAML tools do', () => {
    const file = parseRigs('rigs:\n  a: &base\n    kind: sim\n    allowOptionBytes: true\n  b:\n    <<: *base\n    description: merged\n', 'rigs.yaml');
    expect(file.rigs.get('b')).toMatchObject({ kind: 'sim', allowOptionBytes: true, description: 'merged' });
  });

  it('reports YAML-level and schema problems together, in file order', () => {
    const error = parseError('rigs:\n  a:\n    kind: simm\n    <<: 5\n  b:\n    kind: *nope\n    allowOptionBytes: maybe\n');
    expect(error.problems.map((p) => `${p.line}:${p.column} ${p.keyPath}`)).toEqual([
      '3:11 rigs.a.kind', '4:5 rigs.a.<<', '6:11 rigs.b.kind', '7:23 rigs.b.allowOptionBytes',
    ]);
  });

  it('counts the further problems in the message', () => {
    const error = parseError('rigs:\n  a:\n    kind: simm\n    allowOptionBytes: yes\n');
    expect(error.problems.map((p) => p.keyPath)).toEqual(['rigs.a.kind', 'rigs.a.allowOptionBytes']);
    expect(error.message).toMatch(/\(and 1 more problem\)$/);
  });
});

describe('pickRig', () => {
  const file = parseRigs(readFileSync(repoRigs, 'utf8'), 'rigs.yaml');

  it('prefers the flag, then RIG, then the default', () => {
    expect(pickRig(file, { flag: 'bench-1', env: 'sim-h745-v91' })).toMatchObject({ rig: { name: 'bench-1' }, source: 'flag' });
    expect(pickRig(file, { env: 'sim-h745-v91' })).toMatchObject({ rig: { name: 'sim-h745-v91' }, source: 'env' });
    expect(pickRig(file, { env: '' })).toMatchObject({ rig: { name: 'sim-h745' }, source: 'default' });
  });

  it('lists the known rigs for an unknown name', () => {
    expect(() => pickRig(file, { env: 'bench-2' })).toThrow('unknown rig "bench-2" (from RIG); rigs.yaml has: sim-h745, sim-h745-v91, sim-h745-exec, sim-h745-example, bench-1');
  });
});

describe('engineering values and the JSON Schema', () => {
  it('parses prefixes and refuses a wrong unit', () => {
    expect(parseEngineeringValue('100k', 'resistance')).toBe(100_000);
    expect(parseEngineeringValue('1u', 'capacitance')).toBe(1e-6);
    expect(parseEngineeringValue('2.2M', 'resistance')).toBe(2_200_000);
    expect(parseEngineeringValue('1uV', 'capacitance')).toBeUndefined();
    expect(parseEngineeringValue(-3, 'voltage')).toBeUndefined();
  });

  it('describes the file for editors', () => {
    const schema = rigsJsonSchema() as { properties: { rigs: { additionalProperties: { properties: Record<string, unknown> } } } };
    const rig = schema.properties.rigs.additionalProperties.properties;
    expect(Object.keys(rig)).toContain('entry');
    expect(JSON.stringify(rig.bootloader)).toContain(JSON.stringify(ST_ROM_FLASH_LAYOUT));
  });
});
