import { describe, expect, it } from 'vitest';
import { DfuRequest, DfuState, DfuStatus, dfuSetup, encodeDfuseCommand, encodeStatus, DfuseCommand } from '../dfu/protocol.js';
import { RequestRecipient, StandardRequest } from '../usb/spec.js';
import type { TraceEntry } from '../usb/trace.js';
import { compareTraceLines, normaliseTrace, parseTraceFile, requestOfLine, serialiseTrace } from './golden-trace.js';

const DEVICE = '1-4.2#7';

function getStatus(t: number, state: DfuState, pollTimeoutMs = 0, device = DEVICE): TraceEntry {
  return {
    t, device, kind: 'control', setup: dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6), result: 'ok',
    data: encodeStatus({ status: DfuStatus.Ok, pollTimeoutMs, state, iString: 0 }), length: 6,
  };
}

function command(t: number, bytes: Uint8Array): TraceEntry {
  return { t, device: DEVICE, kind: 'control', setup: dfuSetup(DfuRequest.Dnload, 'out', 0, 0, bytes.length), result: 'ok', data: bytes, length: bytes.length };
}

/** An erase of the sector at 0x08000000 as a host sees it, polled `busyPolls` times while busy. */
function erase(start: number, busyPolls: number, device = DEVICE): TraceEntry[] {
  const entries: TraceEntry[] = [{ t: start, device, kind: 'attach', result: 'ok' }, command(start + 1, encodeDfuseCommand(DfuseCommand.Erase, 0x0800_0000))];
  for (let i = 0; i < busyPolls; i++) entries.push(getStatus(start + 2 + i * 1000, DfuState.DfuDnbusy, i === 0 ? 1000 : 0, device));
  entries.push(getStatus(start + 3 + busyPolls * 1000, DfuState.DfuDnloadIdle));
  return entries.map((e) => ({ ...e, device }));
}

describe('normaliseTrace', () => {
  it('decodes GETSTATUS answers and DfuSe commands, and keeps no timestamp', () => {
    expect(normaliseTrace(erase(4788.25, 1))).toEqual([
      'dev1  ATTACH  ok',
      'dev1  OUT DNLOAD(cmd)   type=21 value=0 index=0 len=5  ERASE 0x08000000  -> ok',
      'dev1  IN  GETSTATUS     type=a1 value=0 index=0 len=6  OK/dfuDNBUSY poll=1000ms  -> ok',
      'dev1  IN  GETSTATUS     type=a1 value=0 index=0 len=6  OK/dfuDNLOAD-IDLE poll=0ms  -> ok',
    ]);
  });

  it('gives the same lines whatever the timing, the bus address and the number of busy polls', () => {
    const simulated = normaliseTrace(erase(301, 1, '1-1#2'));
    expect(normaliseTrace(erase(12_345.678, 3, '3-1.4#19'))).toEqual(simulated);
  });

  it('keeps a bwPollTimeout change in the first busy answer', () => {
    const lying = erase(0, 1);
    lying[2] = getStatus(2, DfuState.DfuDnbusy, 0xffffff);
    expect(normaliseTrace(lying)[2]).toContain('OK/dfuDNBUSY poll=16777215ms');
  });

  it('numbers devices by first appearance, so a re-enumeration shows as a new device', () => {
    const lines = normaliseTrace([
      { t: 0, device: '1-1#4', kind: 'detach', result: 'ok' },
      { t: 90, device: '1-1#5', kind: 'attach', result: 'ok' },
      getStatus(91, DfuState.DfuIdle, 0, '1-1#5'),
    ]);
    expect(lines.map((l) => l.split('  ')[0])).toEqual(['dev1', 'dev2', 'dev2']);
  });

  it('keeps a busy answer that follows something other than a busy answer', () => {
    const entries = [getStatus(0, DfuState.DfuDnbusy), command(1, encodeDfuseCommand(DfuseCommand.SetAddressPointer, 0x0800_0000)), getStatus(2, DfuState.DfuDnbusy)];
    expect(normaliseTrace(entries).map(requestOfLine)).toEqual(['GETSTATUS', 'DNLOAD(cmd)', 'GETSTATUS']);
  });

  it('shows a failed transfer, standard requests and the leading data bytes of a block', () => {
    const block = Uint8Array.from({ length: 16 }, (_, i) => i);
    const lines = normaliseTrace([
      { t: 0, device: DEVICE, kind: 'control', setup: { bmRequestType: RequestRecipient.Interface, bRequest: StandardRequest.SetInterface, wValue: 1, wIndex: 0, wLength: 0 }, result: 'ok' },
      { t: 1, device: DEVICE, kind: 'control', setup: dfuSetup(DfuRequest.Dnload, 'out', 0, 2, 1024), result: 'ok', data: block, length: 1024 },
      { t: 2, device: DEVICE, kind: 'control', setup: dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6), result: 'stall' },
    ]);
    expect(lines).toEqual([
      'dev1  OUT SET_INTERFACE type=01 value=1 index=0 len=0  -> ok',
      'dev1  OUT DNLOAD#2      type=21 value=2 index=0 len=1024  [00 01 02 03 04 05 06 07 08 09 0a 0b 0c 0d 0e 0f …]  -> ok',
      'dev1  IN  GETSTATUS     type=a1 value=0 index=0 len=6  -> stall',
    ]);
  });
});

describe('compareTraceLines', () => {
  const golden = normaliseTrace(erase(0, 1));

  it('finds nothing between equal traces', () => {
    expect(compareTraceLines(golden, [...golden])).toEqual([]);
  });

  it('names the request that changed, where, after what, and both versions', () => {
    const changed = golden.map((l) => l.replace('poll=1000ms', 'poll=25ms'));
    expect(compareTraceLines(golden, changed)).toEqual([{
      expectedLine: 3, actualLine: 3, after: golden[1],
      expected: [golden[2]], actual: [golden[2]!.replace('poll=1000ms', 'poll=25ms')], requests: ['GETSTATUS'],
    }]);
  });

  it('reports added and missing requests as separate changes, with line numbers in each trace', () => {
    const clrStatus = 'dev1  OUT CLRSTATUS     type=21 value=0 index=0 len=0  -> ok';
    const actual = [golden[0]!, golden[1]!, golden[2]!, clrStatus, golden[3]!];
    expect(compareTraceLines(golden, actual)).toEqual([{ expectedLine: 4, actualLine: 4, after: golden[2], expected: [], actual: [clrStatus], requests: ['CLRSTATUS'] }]);
    expect(compareTraceLines(golden, golden.slice(1))).toEqual([{ expectedLine: 1, actualLine: 1, after: undefined, expected: [golden[0]], actual: [], requests: ['ATTACH'] }]);
  });
});

describe('golden files', () => {
  it('read back the lines written and the test named in the header', () => {
    const lines = normaliseTrace(erase(0, 2));
    const text = serialiseTrace('sim/st-rom-v9.2', { specFile: 'specs/leave.spec.ts', title: ['leaving DFU', 'returns'] }, lines);
    expect(text.split('\n')[0]).toMatch(/^# /);
    expect(parseTraceFile(text)).toEqual({ test: 'specs/leave.spec.ts > leaving DFU > returns', lines });
  });
});
