// The golden-trace check against a deliberately changed bootloader. The scenario is the one of
// specs/leave.spec.ts "leaving without flashing returns to the same application" (enter DFU, leave,
// wait for the application) on the simulated ROM V9.2, compared with its committed golden: the
// profile as shipped reproduces it exactly, and a copy of the profile with another value that goes
// over the wire must be reported, naming the request and both lines.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRigs } from '../rig/config/load-rigs.js';
import { createRig } from '../rig/create-rig.js';
import { REPO_ROOT } from '../rig/reference-images.js';
import { bootloaderProfiles, type BootloaderProfile } from '../sim/bootloader/profiles.js';
import { compareTraceLines, normaliseTrace, parseTraceFile, type TraceTestId } from './golden-trace.js';
import { formatTraceComparison } from './trace-report.js';
import { compareTraceDirs, hasDifferences, traceKey, writeTestTrace } from './trace-store.js';

const PROFILE = 'st-rom-v9.2';
const SET = `sim/${PROFILE}`;
const TEST: TraceTestId = { specFile: 'specs/leave.spec.ts', title: ['leaving DFU', 'leaving without flashing returns to the same application'] };
const GOLDEN_FILE = path.join(REPO_ROOT, 'specs', 'golden-traces', SET, `${traceKey(TEST)}.trace`);

const rigConfig = parseRigs(`rigs:\n  sim-h745:\n    kind: sim\n    usb: { serial: "200364500000" }\n    bootloader: { profile: ${PROFILE} }\n`, 'rigs.yaml').rigs.get('sim-h745')!;

type ProfileChange = (shipped: BootloaderProfile) => BootloaderProfile;

/** Runs the scenario on a fresh simulated rig whose ROM is the shipped V9.2, or `change` of it. */
async function enterAndLeave(change?: ProfileChange): Promise<string[]> {
  const shipped = bootloaderProfiles[PROFILE]!;
  // A simulated rig takes its ROM from this registry by profile name, so replacing the entry is
  // what an edit of profiles.ts would do.
  if (change) bootloaderProfiles[PROFILE] = change(structuredClone(shipped));
  try {
    const rig = await createRig(rigConfig, { env: {}, warn: () => undefined });
    try {
      const mark = rig.trace.usb.mark();
      await rig.enterDfu(rig.capabilities.entryMethods[0]!);
      await rig.leave();
      await rig.waitForApp();
      return normaliseTrace(rig.trace.usb.since(mark));
    } finally {
      await rig.close();
    }
  } finally {
    bootloaderProfiles[PROFILE] = shipped;
  }
}

const golden = async (): Promise<string[]> => parseTraceFile(await readFile(GOLDEN_FILE, 'utf8')).lines;

const folders: string[] = [];
afterEach(async () => {
  for (const dir of folders.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** Compares `lines` with the committed golden the way CI does: through trace folders and the printed report. */
async function reportAgainstGolden(lines: string[]): Promise<{ differs: boolean; text: string }> {
  const [goldenRoot, runRoot] = [await mkdtemp(path.join(tmpdir(), 'dfu-hil-golden-')), await mkdtemp(path.join(tmpdir(), 'dfu-hil-run-'))];
  folders.push(goldenRoot, runRoot);
  await writeTestTrace(goldenRoot, SET, TEST, await golden());
  await writeTestTrace(runRoot, SET, TEST, lines);
  const results = await compareTraceDirs(goldenRoot, runRoot);
  return { differs: hasDifferences(results), text: formatTraceComparison(results, { updateCommand: 'update' }) };
}

describe('golden traces against a changed bootloader profile', () => {
  it('the shipped ROM V9.2 profile reproduces the committed golden exactly', async () => {
    const lines = await enterAndLeave();
    expect(compareTraceLines(await golden(), lines)).toEqual([]);
    expect(await reportAgainstGolden(lines)).toMatchObject({ differs: false, text: expect.stringContaining(`${SET}: 1 identical`) });
  });

  it('a bwPollTimeout changed for Set Address is reported as a GETSTATUS change with both values', async () => {
    const lines = await enterAndLeave((p) => ({ ...p, pollTimeoutMs: { ...p.pollTimeoutMs, setAddress: 25 } }));
    const changes = compareTraceLines(await golden(), lines);
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      requests: ['GETSTATUS'],
      after: expect.stringContaining('SET_ADDRESS 0x08000000'),
      expected: [expect.stringContaining('OK/dfuDNBUSY poll=0ms')],
      actual: [expect.stringContaining('OK/dfuDNBUSY poll=25ms')],
    });
    const report = await reportAgainstGolden(lines);
    expect(report.differs).toBe(true);
    expect(report.text).toContain(`${SET}: 1 changed, 0 identical`);
    expect(report.text).toContain('✗ specs/leave.spec.ts > leaving DFU > leaving without flashing returns to the same application');
    expect(report.text).toMatch(/GETSTATUS changed \(golden line \d+, run line \d+\), after:\n {8}.*SET_ADDRESS 0x08000000/);
    expect(report.text).toMatch(/\n {6}- dev1 .*OK\/dfuDNBUSY poll=0ms .*\n {6}\+ dev1 .*OK\/dfuDNBUSY poll=25ms/);
  });

  it('a changed answer to the GETSTATUS that starts leave is reported on that line', async () => {
    // The ROM's leave loses the GETSTATUS status stage; a profile that answers dfuMANIFEST instead
    // shows the GETSTATUS answered before the detach, and no longer failing after it.
    const changes = compareTraceLines(await golden(), await enterAndLeave((p) => ({ ...p, leave: { ...p.leave, statusStage: 'completes' } })));
    expect(changes.map((c) => [c.requests, c.after, c.expected, c.actual])).toEqual([
      [['GETSTATUS'], expect.stringContaining('LEAVE'), [], [expect.stringContaining('OK/dfuMANIFEST poll=0ms  -> ok')]],
      [['GETSTATUS'], expect.stringContaining('DETACH'), [expect.stringContaining('GETSTATUS     type=a1 value=0 index=0 len=6  -> no-device')], []],
    ]);
  });

  it('a slower USB attach changes only timing, which the comparison leaves out', async () => {
    const lines = await enterAndLeave((p) => ({ ...p, timing: { ...p.timing, startupDelayMs: 180 } }));
    expect(compareTraceLines(await golden(), lines)).toEqual([]);
  });
});
