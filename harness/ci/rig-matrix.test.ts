import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseRigs, RigConfigError } from '../rig/config/load-rigs.js';
import { hardwareRigMatrix } from './rig-matrix.js';

const matrixOf = (text: string, only?: string[]) => hardwareRigMatrix(parseRigs(text, 'rigs.yaml'), only ? { only } : {});

const hardware = (name: string, port: string, ci?: string): string =>
  `  ${name}:\n    kind: nucleo-h745\n    usb: { portPath: "${port}" }\n    console: { path: /dev/serial/by-id/${name} }\n${ci !== undefined ? `    ci: ${ci}\n` : ''}`;

const SIM_ONLY = 'rigs:\n  sim-h745:\n    kind: sim\n  sim-h745-v91:\n    kind: sim\n    bootloader: { profile: st-rom-v9.1 }\n';

const LAB = `rigs:
  sim-h745:
    kind: sim
${hardware('lab-a', '1-1', '{ group: h745-rev-y, runnerLabels: [self-hosted, linux, lab-a] }')}${hardware('desk', '1-2')}${hardware('lab-b', '1-3', '{ group: h745-rev-y, runnerLabels: [self-hosted, linux, lab-b] }')}${hardware('lab-c', '1-4', '')}`;

describe('hardwareRigMatrix', () => {
  it('is empty for the shipped rigs.yaml, whose hardware rig is an example without a ci: section', () => {
    const shipped = readFileSync(path.resolve(import.meta.dirname, '../../rigs.yaml'), 'utf8');
    expect(matrixOf(shipped)).toEqual({ include: [] });
  });

  it('is empty when the file has only simulated rigs, so the hardware jobs are skipped', () => {
    expect(matrixOf(SIM_ONLY)).toEqual({ include: [] });
    expect(JSON.stringify(matrixOf(SIM_ONLY))).toBe('{"include":[]}');
  });

  it('gives each CI rig its runner labels, and splits the suite across the identical boards of a group', () => {
    expect(matrixOf(LAB).include).toEqual([
      { rig: 'lab-a', labels: ['self-hosted', 'linux', 'lab-a'], group: 'h745-rev-y', shard: 1, shardCount: 2 },
      { rig: 'lab-b', labels: ['self-hosted', 'linux', 'lab-b'], group: 'h745-rev-y', shard: 2, shardCount: 2 },
      { rig: 'lab-c', labels: ['self-hosted', 'dfu-hil-lab-c'], group: 'lab-c', shard: 1, shardCount: 1 },
    ]);
  });

  it('runs only the rigs asked for, and splits a group among those alone', () => {
    expect(matrixOf(LAB, ['lab-b', 'lab-c']).include.map((e) => [e.rig, e.shard, e.shardCount])).toEqual([['lab-b', 1, 1], ['lab-c', 1, 1]]);
    expect(matrixOf(LAB, ['']).include).toHaveLength(3);
  });

  it('refuses a rig that is not in CI, naming the CI rigs', () => {
    expect(() => matrixOf(LAB, ['lab-z'])).toThrow('unknown rig "lab-z"; the CI rigs in rigs.yaml are: lab-a, lab-b, lab-c');
    expect(() => matrixOf(LAB, ['desk'])).toThrow('rig "desk" takes no part in CI (it is simulated or has no "ci:" section)');
    expect(() => matrixOf(SIM_ONLY, ['sim-h745'])).toThrow(/the CI rigs in rigs.yaml are: none$/);
  });

  it('never builds a matrix from a bad rigs.yaml: the error names the line, the key and the expected form', () => {
    const bad = `rigs:\n${hardware('lab-a', '1-1', '{ runnerLabels: [lab-a] }')}`;
    let error: unknown;
    try { matrixOf(bad); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(RigConfigError);
    expect((error as RigConfigError).message).toBe('rigs.yaml:6:25: rigs.lab-a.ci.runnerLabels: found a list; expected a list that includes "self-hosted" (boards are attached to self-hosted runners, never to hosted ones)');
  });
});
