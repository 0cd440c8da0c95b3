import { describe, expect, it } from 'vitest';
import { getDescriptorSetup } from './descriptors.js';
import { TransferTrace } from './trace.js';

describe('TransferTrace enumeration reads', () => {
  it('keeps a copy per device, the newest devices only', () => {
    const trace = new TransferTrace({ enumeratedDevices: 2 });
    const data = Uint8Array.of(18, 1);
    trace.recordEnumeration('1-1#2', [{ setup: getDescriptorSetup(1, 0, 18), data }]);
    data[0] = 0;
    expect([...trace.enumerationOf('1-1#2')![0]!.data]).toEqual([18, 1]);
    trace.recordEnumeration('1-1#3', []);
    trace.recordEnumeration('1-1#2', [{ setup: getDescriptorSetup(1, 0, 18), data: Uint8Array.of(7) }]);
    trace.recordEnumeration('1-1#4', []);
    // 1-1#2 was recorded again after 1-1#3, so 1-1#3 is the oldest and goes.
    expect(trace.enumerationOf('1-1#3')).toBeUndefined();
    expect([...trace.enumerationOf('1-1#2')![0]!.data]).toEqual([7]);
    expect(trace.enumerationOf('1-1#4')).toEqual([]);
    expect(trace.list()).toEqual([]);
  });
});
