import { describe, expect, it } from 'vitest';
import { TransferTrace, type TraceEntry } from '../usb/trace.js';
import { FlashContentCache, transferTraceWitness } from './flash-content-cache.js';
import { encodeDfuseCommand } from './protocol.js';

const dnload = (wValue: number, data: Uint8Array, result = 'ok'): TraceEntry => ({
  t: 12.5, device: '1-1#3', kind: 'control', result, data, length: data.length,
  setup: { bmRequestType: 0x21, bRequest: 1, wValue, wIndex: 0, wLength: data.length },
});

function watched(trace = new TransferTrace()) {
  const cache = new FlashContentCache();
  cache.watch(transferTraceWitness(trace));
  cache.record(0x08000000, 'a');
  cache.record(0x08020000, 'b');
  cache.seal();
  return { cache, trace };
}

describe('FlashContentCache', () => {
  it('keeps its digests while the bus saw nothing that writes memory', () => {
    const { cache, trace } = watched();
    trace.record(dnload(0, encodeDfuseCommand(0x21, 0x08000000)));
    trace.record(dnload(2, new Uint8Array(64), 'refused (dfu-guard-refused)'));
    trace.record(dnload(2, new Uint8Array()));
    trace.record({ t: 13, device: '1-1#3', kind: 'control', result: 'ok', setup: { bmRequestType: 0xa1, bRequest: 2, wValue: 2, wIndex: 0, wLength: 1024 } });
    expect(cache.consult()).toEqual({ known: new Map([[0x08000000, 'a'], [0x08020000, 'b']]), distrusted: undefined });
  });

  it.each([
    ['an erase', dnload(0, encodeDfuseCommand(0x41, 0x08020000)), 'ERASE 0x08020000 reached 1-1#3 at 12.5 ms from outside the last download'],
    ['a mass erase', dnload(0, Uint8Array.of(0x41)), 'MASS_ERASE reached 1-1#3 at 12.5 ms from outside the last download'],
    ['a data block', dnload(3, new Uint8Array(1024)), 'DNLOAD#3 of 1024 bytes reached 1-1#3 at 12.5 ms from outside the last download'],
    ['a command the trace clipped', { ...dnload(0, Uint8Array.of(0x41, 0, 0)), length: 5, setup: { bmRequestType: 0x21, bRequest: 1, wValue: 0, wIndex: 0, wLength: 5 } }, 'a DfuSe command reached 1-1#3 at 12.5 ms from outside the last download'],
    ['a data block that failed (the device may have taken it)', dnload(2, new Uint8Array(8), 'timeout'), 'DNLOAD#2 of 8 bytes reached 1-1#3 at 12.5 ms from outside the last download'],
  ])('forgets everything after %s, and says why once', (_, entry, reason) => {
    const { cache, trace } = watched();
    trace.record(entry);
    expect(cache.consult()).toEqual({ known: new Map(), distrusted: reason });
    expect(cache.consult().distrusted).toBeUndefined();
  });

  it('distrusts what it cannot see: entries the trace dropped since it last looked', () => {
    const { cache, trace } = watched(new TransferTrace({ capacity: 4 }));
    for (let i = 0; i < 6; i++) trace.record({ t: i, device: '1-1#3', kind: 'attach', result: 'ok' });
    expect(cache.consult().distrusted).toBe('the USB transfer trace dropped 2 transfers since the last download, so what they did is unknown');
  });

  it('takes the owner\'s word: the first reason given since it was last consulted is reported', () => {
    const { cache } = watched();
    cache.distrust('power cycle');
    cache.distrust('reset');
    expect(cache.consult()).toEqual({ known: new Map(), distrusted: 'power cycle' });
    // Nothing to forget, nothing to report.
    cache.distrust('reset');
    expect(cache.consult().distrusted).toBeUndefined();
  });
});
