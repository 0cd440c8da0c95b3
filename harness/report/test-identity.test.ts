import { describe, expect, it } from 'vitest';
import { applyIdentity, identityOf } from './test-identity.js';

const kinds: Record<string, string> = { 'sim-h745': 'sim', 'bench-1': 'nucleo-h745' };
const kindOf = (rig: string): string | undefined => kinds[rig];

describe('identityOf', () => {
  it('names the rig and the transport each project reaches it by', () => {
    expect(identityOf({ RIG: 'sim-h745' }, kindOf)).toEqual({ rig: 'sim-h745', transport: 'in-process' });
    expect(identityOf({ RIG: 'sim-h745', DFU_HIL_SIM_USB: 'umockdev' }, kindOf)).toEqual({ rig: 'sim-h745', transport: 'libusb+umockdev' });
    expect(identityOf({ RIG: 'bench-1' }, kindOf)).toEqual({ rig: 'bench-1', transport: 'libusb' });
    expect(identityOf({ RIG: 'gone' }, kindOf)).toEqual({ rig: 'gone', transport: 'unknown' });
    expect(identityOf({}, kindOf)).toBeUndefined();
  });
});

describe('applyIdentity', () => {
  it('adds rig and transport as parameters and labels, keeping what the test already set', () => {
    const result = { parameters: [{ name: 'window (ms)', value: '69' }], labels: [{ name: 'rig', value: 'sim-h745' }] };
    applyIdentity(result, { rig: 'sim-h745', transport: 'libusb+umockdev' });
    expect(result.parameters).toEqual([{ name: 'window (ms)', value: '69' }, { name: 'rig', value: 'sim-h745' }, { name: 'transport', value: 'libusb+umockdev' }]);
    expect(result.labels).toEqual([{ name: 'rig', value: 'sim-h745' }, { name: 'transport', value: 'libusb+umockdev' }]);
  });
});
