import { describe, expect, it } from 'vitest';
import { getDescriptorSetup } from './descriptors.js';
import { TransferTrace, type TraceEntry } from './trace.js';

const control = (i: number, data?: Uint8Array): TraceEntry => ({
  t: i, device: `1-1#${2 + (i % 3)}`, kind: 'control', result: i % 5 === 0 ? 'stall' : 'ok',
  setup: { bmRequestType: 0x21, bRequest: 1, wValue: i & 0xffff, wIndex: 0, wLength: data?.length ?? 0 },
  ...(data ? { data } : {}),
});

describe('TransferTrace', () => {
  it('gives back what was recorded, in order, with data clipped to dataBytes and the full length kept', () => {
    const trace = new TransferTrace({ dataBytes: 4 });
    trace.record(control(1, Uint8Array.of(1, 2, 3, 4, 5, 6)));
    trace.record({ t: 2, device: '1-1#2', kind: 'detach', result: 'ok' });
    expect(trace.list()).toEqual([
      { ...control(1), setup: { ...control(1).setup!, wLength: 6 }, data: Uint8Array.of(1, 2, 3, 4), length: 6 },
      { t: 2, device: '1-1#2', kind: 'detach', result: 'ok' },
    ]);
  });

  it('keeps the recorded bytes even when the caller reuses its buffer', () => {
    const trace = new TransferTrace();
    const buffer = Uint8Array.of(9, 9);
    trace.record(control(1, buffer));
    buffer.fill(0);
    expect(trace.list()[0]!.data).toEqual(Uint8Array.of(9, 9));
  });

  it('drops the oldest entries past its capacity and counts them; marks stay valid across drops', () => {
    const trace = new TransferTrace({ capacity: 3 });
    for (let i = 0; i < 2; i++) trace.record(control(i));
    const mark = trace.mark();
    for (let i = 2; i < 7; i++) trace.record(control(i));
    expect(trace.dropped).toBe(4);
    expect(trace.list().map((e) => e.t)).toEqual([4, 5, 6]);
    expect(trace.since(mark).map((e) => e.t)).toEqual([4, 5, 6]);
    expect(trace.since(trace.mark() - 1).map((e) => e.t)).toEqual([6]);
    expect(trace.mark()).toBe(7);
  });

  it('grows past its first allocation without reordering or losing entries', () => {
    const trace = new TransferTrace({ capacity: 5000 });
    for (let i = 0; i < 3000; i++) trace.record(control(i, Uint8Array.of(i & 0xff, i >> 8)));
    const all = trace.list();
    expect(all).toHaveLength(3000);
    expect(all.every((e, i) => e.t === i && e.setup!.wValue === i && e.data![0] === (i & 0xff) && e.data![1] === i >> 8)).toBe(true);
    expect(trace.dropped).toBe(0);
  });

  it('wraps around after growing to its capacity', () => {
    const trace = new TransferTrace({ capacity: 1500 });
    for (let i = 0; i < 4000; i++) trace.record(control(i));
    expect(trace.list().map((e) => e.t)).toEqual(Array.from({ length: 1500 }, (_, i) => 2500 + i));
    expect(trace.dropped).toBe(2500);
  });

  it('clear() forgets the entries but keeps counting, so older marks still work', () => {
    const trace = new TransferTrace();
    trace.record(control(1));
    const mark = trace.mark();
    trace.clear();
    trace.record(control(2));
    expect(trace.list().map((e) => e.t)).toEqual([2]);
    expect(trace.since(mark).map((e) => e.t)).toEqual([2]);
  });

  it('formats one line per entry with the request name', () => {
    const trace = new TransferTrace();
    trace.record(control(3, Uint8Array.of(0x21, 0, 0, 0, 8)));
    expect(trace.format((s) => (s.bRequest === 1 ? 'DNLOAD' : undefined))).toBe(
      '       3.000 ms  1-1#2  OUT DNLOAD     type=21 value=3 index=0 len=5  [21 00 00 00 08]  -> ok');
  });
});

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
