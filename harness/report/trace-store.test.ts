import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRigs } from '../rig/config/load-rigs.js';
import type { TraceTestId } from './golden-trace.js';
import { compareTraceDirs, hasDifferences, readTraceTree, traceKey, traceSetOf, updateGoldens, writeTestTrace } from './trace-store.js';
import { formatTraceComparison } from './trace-report.js';

const folders: string[] = [];
async function folder(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'dfu-hil-traces-'));
  folders.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of folders.splice(0)) await rm(dir, { recursive: true, force: true });
});

const leave: TraceTestId = { specFile: 'specs/leave.spec.ts', title: ['leaving DFU', 'leaving without flashing returns to the same application'] };
const enter: TraceTestId = { specFile: 'specs/enter-dfu.spec.ts', title: ['entering DFU from software', 'by rc: the bootloader enumerates'] };
const gpio: TraceTestId = { specFile: 'specs/gpio-after-leave.spec.ts', title: ['GPIO state after leave', 'the live registers agree'] };
const LEAVE_LINES = ['dev1  OUT LEAVE         type=21 value=2 index=0 len=0  -> ok', 'dev1  IN  GETSTATUS     type=a1 value=0 index=0 len=6  OK/dfuMANIFEST poll=0ms  -> ok', 'dev1  DETACH  ok'];
const ENTER_LINES = ['dev1  ATTACH  ok'];

describe('trace sets and keys', () => {
  const rigs = parseRigs(`
rigs:
  sim-a: { kind: sim, bootloader: { profile: st-rom-v9.1 } }
  sim-b: { kind: sim, usb: { app: "1209:0001", dfuRuntime: {} } }
  bench-1: { kind: nucleo-h745, usb: { portPath: "1-4" }, console: { path: /dev/ttyACM0 } }
  bench-2: { kind: nucleo-h745, usb: { portPath: "1-5" }, console: { path: /dev/ttyACM1 }, ci: { group: rev-y } }
`, 'rigs.yaml').rigs;

  it('keys simulated rigs by bootloader profile (and whether the application has USB) and hardware rigs by CI group', () => {
    expect(traceSetOf(rigs.get('sim-a')!)).toBe('sim/st-rom-v9.1');
    // The application's own enumerations and DETACH are on its bus: not the profile's goldens.
    expect(traceSetOf(rigs.get('sim-b')!)).toBe('sim/st-rom-v9.2+app-usb');
    expect(traceSetOf(rigs.get('bench-1')!)).toBe('hardware/bench-1');
    expect(traceSetOf(rigs.get('bench-2')!)).toBe('hardware/rev-y');
  });

  it('names a test by its spec and its title, cutting long titles apart by a hash', () => {
    expect(traceKey(leave)).toBe('leave/leaving-without-flashing-returns-to-the-same-application');
    const long = (end: string): TraceTestId => ({ specFile: '/abs/specs/flash.spec.ts', title: [`${'writes a very long image name '.repeat(5)}${end}`] });
    const [a, b] = [traceKey(long('one')), traceKey(long('two'))];
    expect(a).toMatch(/^flash\/writes-a-very-long-image-name-.+-[0-9a-f]{8}$/);
    expect(a.length).toBeLessThanOrEqual('flash/'.length + 100 + 9);
    expect(a).not.toBe(b);
  });
});

describe('comparing a run with the goldens', () => {
  it('finds every trace of a run identical to goldens written from the same lines', async () => {
    const [golden, run] = [await folder(), await folder()];
    for (const root of [golden, run]) {
      await writeTestTrace(root, 'sim/st-rom-v9.2', leave, LEAVE_LINES);
      await writeTestTrace(root, 'sim/st-rom-v9.2', enter, ENTER_LINES);
    }
    const results = await compareTraceDirs(golden, run);
    expect(results).toEqual([{ set: 'sim/st-rom-v9.2', unrecorded: false, identical: [traceKey(enter), traceKey(leave)], changed: [], missing: [], added: [] }]);
    expect(hasDifferences(results)).toBe(false);
  });

  it('reports changed, missing and new tests, and a set with no goldens, and compares only the sets the run has', async () => {
    const [golden, run] = [await folder(), await folder()];
    await writeTestTrace(golden, 'sim/st-rom-v9.2', leave, LEAVE_LINES);
    await writeTestTrace(golden, 'sim/st-rom-v9.2', enter, ENTER_LINES);
    await writeTestTrace(golden, 'sim/st-rom-v9.1', leave, LEAVE_LINES);
    await writeTestTrace(run, 'sim/st-rom-v9.2', leave, LEAVE_LINES.map((l) => l.replace('poll=0ms', 'poll=10ms')));
    await writeTestTrace(run, 'sim/st-rom-v9.2', gpio, ENTER_LINES);
    await writeTestTrace(run, 'hardware/bench-1', leave, LEAVE_LINES);

    const results = await compareTraceDirs(golden, run);
    expect(results.map((r) => r.set)).toEqual(['hardware/bench-1', 'sim/st-rom-v9.2']);
    const [hardware, sim] = results;
    expect(hardware).toMatchObject({ unrecorded: true, added: [{ test: 'specs/leave.spec.ts > leaving DFU > leaving without flashing returns to the same application' }] });
    expect(sim!.changed.map((c) => [c.key, c.changes.map((x) => x.requests)])).toEqual([[traceKey(leave), [['GETSTATUS']]]]);
    expect(sim!.missing.map((m) => m.test)).toEqual(['specs/enter-dfu.spec.ts > entering DFU from software > by rc: the bootloader enumerates']);
    expect(sim!.added.map((a) => a.test)).toEqual(['specs/gpio-after-leave.spec.ts > GPIO state after leave > the live registers agree']);
    expect(hasDifferences(results)).toBe(true);

    const text = formatTraceComparison(results, { updateCommand: 'npx tsx tools/ci/compare-traces.ts --update' });
    expect(text).toContain('hardware/bench-1: no goldens recorded yet (1 test traced)');
    expect(text).toContain('sim/st-rom-v9.2: 1 changed, 1 missing, 1 new, 0 identical');
    expect(text).toContain('GETSTATUS changed (golden line 2, run line 2), after:');
    expect(text).toContain(`      - ${LEAVE_LINES[1]}`);
    expect(text).toContain(`      + ${LEAVE_LINES[1]!.replace('poll=0ms', 'poll=10ms')}`);
    expect(text).toContain('missing from this run (skipped, renamed or not run): specs/enter-dfu.spec.ts');
    expect(text).toContain('new, no golden yet: specs/gpio-after-leave.spec.ts');
    expect(text).toContain('USB traces differ from the goldens in 2 of 2 sets.');
    expect(text).not.toContain('st-rom-v9.1');
  });

  it('says when a run recorded no traces at all', async () => {
    const results = await compareTraceDirs(await folder(), path.join(await folder(), 'absent'));
    expect(results).toEqual([]);
    expect(formatTraceComparison(results, { updateCommand: 'x' })).toMatch(/^No USB traces were recorded/);
  });
});

describe('updateGoldens', () => {
  it('copies the run, removes goldens of the recorded specs that the run no longer has, and leaves the rest', async () => {
    const [golden, run] = [await folder(), await folder()];
    await writeTestTrace(golden, 'sim/st-rom-v9.2', leave, ['old']);
    await writeTestTrace(golden, 'sim/st-rom-v9.2', { ...leave, title: ['leaving DFU', 'a test since removed'] }, ['old']);
    await writeTestTrace(golden, 'sim/st-rom-v9.2', enter, ENTER_LINES);
    await writeTestTrace(golden, 'sim/st-rom-v9.1', leave, ['other profile']);
    await writeTestTrace(run, 'sim/st-rom-v9.2', leave, LEAVE_LINES);

    expect(await updateGoldens(golden, run)).toEqual({ sets: ['sim/st-rom-v9.2'], written: 1, removed: 1 });
    const tree = await readTraceTree(golden);
    expect([...tree.get('sim/st-rom-v9.2')!.keys()]).toEqual([traceKey(enter), traceKey(leave)]);
    expect(tree.get('sim/st-rom-v9.2')!.get(traceKey(leave))!.lines).toEqual(LEAVE_LINES);
    expect(tree.get('sim/st-rom-v9.1')!.get(traceKey(leave))!.lines).toEqual(['other profile']);
    expect(await readdir(path.join(golden, 'sim', 'st-rom-v9.2', 'leave'))).toHaveLength(1);
    expect(await readFile(path.join(golden, 'sim', 'st-rom-v9.2', `${traceKey(leave)}.trace`), 'utf8')).toContain('# set: sim/st-rom-v9.2');
    // The run matches its spec now; the enter-dfu golden it did not record still counts as missing.
    const [after] = await compareTraceDirs(golden, run);
    expect(after).toMatchObject({ identical: [traceKey(leave)], changed: [], added: [], missing: [{ test: expect.stringContaining('enter-dfu.spec.ts') }] });
  });
});
