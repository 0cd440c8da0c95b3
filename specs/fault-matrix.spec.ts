// The fault matrix: ten ways a DfuSe session goes wrong on a bench, each struck in each of the
// four phases of an update (entering DFU, erasing, programming, leaving). Every cell must end
// in one of three ways: the update completes because the harness recovered from the fault,
// or a typed error naming what happened; and in every cell the board is brought back to the
// reference application afterwards. None may end bricked, hung, or in an untyped error.
//
// The expected outcome of each cell is written down below, so that a change in how the host
// copes with a fault shows up here as a changed cell.
import { describe } from 'vitest';
import { DfuHilError } from '../harness/errors.js';
import type { EntryMethod } from '../harness/rig/config/vocabulary.js';
import type { ArmedFault, RigFaults } from '../harness/rig/faults.js';
import type { Rig } from '../harness/rig/rig.js';
import { expect, test, type DfuOpener } from '../fixtures/hil.js';

/** The four phases of an update. */
const PHASES = ['enter', 'erase', 'program', 'leave'] as const;
type Phase = (typeof PHASES)[number];

/**
 * What a cell ends in: the update completed after the harness recovered, or a typed error's
 * code. A list where the exact point a timed fault lands on the wire depends on the transport
 * (the in-process bus, or libusb through the USB emulation): each is a disconnect, typed.
 */
type Outcome = 'recovered' | string;
type Expected = Outcome | readonly Outcome[];

/**
 * Leave is three requests, well under a millisecond of full-speed bus time, and the ROM drops off
 * 2 ms after it answered. A cut 1 ms in lands in the session's last requests (the device gone
 * under a GETSTATUS or the SET_ADDRESS) or after the ROM answered, which the host cannot tell
 * from leave's own disconnect: then the application never comes up (power) or boots again
 * (NRST). Which of the two depends on where the sub-millisecond wire time left the clock.
 */
const GONE_IN_LEAVE = ['usb-no-device', 'dfu-disconnected'] as const;
const POWER_LOST_IN_LEAVE = [...GONE_IN_LEAVE, 'console-timeout'] as const;
const RESET_IN_LEAVE = [...GONE_IN_LEAVE, 'recovered'] as const;

/**
 * The bootloader never enumerates after the entry began. The rig's wait for it says so
 * (usb-not-found), except by DFU_DETACH, where the entry itself waits for the DFU-mode device on
 * the port the application left (dfu-detach: no DFU-mode device appeared after DETACH).
 */
const NO_BOOTLOADER = 'no-bootloader';

/** The codes `expected` stands for when the rig enters by `entry`. */
function outcomesFor(expected: Expected, entry: EntryMethod): Outcome[] {
  return ([] as Outcome[]).concat(expected).map((o) => (o !== NO_BOOTLOADER ? o : entry === 'dfu-detach' ? 'dfu-detach' : 'usb-not-found'));
}

/** Where in each phase a transfer fault strikes: the phase's first request of its own, and its first GETSTATUS. */
const REQUEST: Record<Phase, { request: 'UPLOAD' | 'DNLOAD'; nth: number; what: string }> = {
  enter: { request: 'UPLOAD', nth: 1, what: 'the command-list UPLOAD checking the bootloader' },
  erase: { request: 'DNLOAD', nth: 1, what: 'the ERASE command' },
  program: { request: 'DNLOAD', nth: 2, what: 'the first data block' },
  leave: { request: 'DNLOAD', nth: 2, what: 'the zero-length DNLOAD that leaves' },
};

/** Virtual ms from the start of a phase at which a timed fault (power, reset) strikes inside it. */
const INSIDE: Record<Phase, number> = { enter: 20, erase: 500, program: 20, leave: 1 };

interface Fault {
  name: string;
  arm(faults: RigFaults, phase: Phase): ArmedFault | undefined;
  /** Expected outcome per phase. */
  expect: Record<Phase, Expected>;
}

const NOISE = '\u0000\u00ff#~garbage without a line end';

const FAULTS: readonly Fault[] = [
  {
    name: 'STALL on the phase\'s request',
    arm: (f, p) => f.stall(REQUEST[p].request, REQUEST[p].nth),
    expect: { enter: 'usb-stall', erase: 'usb-stall', program: 'usb-stall', leave: 'console-timeout' },
  },
  {
    name: 'STALL on the phase\'s first GETSTATUS (retried)',
    arm: (f) => f.stall('GETSTATUS', 1),
    expect: { enter: 'recovered', erase: 'recovered', program: 'recovered', leave: 'recovered' },
  },
  {
    name: 'STALL on GETSTATUS four times running (past the retries)',
    arm: (f) => f.stall('GETSTATUS', 1, 4),
    expect: { enter: 'usb-stall', erase: 'usb-stall', program: 'usb-stall', leave: 'usb-stall' },
  },
  {
    name: 'device gone at the phase\'s request',
    arm: (f, p) => f.disconnectAt(REQUEST[p].request, REQUEST[p].nth),
    // Gone at leave's DNLOAD looks, on the wire, like the leave race: the host counts the leave as
    // done, and the missing application is what fails, by its console.
    expect: { enter: 'usb-no-device', erase: 'usb-no-device', program: 'usb-no-device', leave: 'console-timeout' },
  },
  {
    name: 'device gone at the phase\'s first GETSTATUS',
    arm: (f) => f.disconnectAt('GETSTATUS', 1),
    expect: { enter: 'usb-no-device', erase: 'usb-no-device', program: 'usb-no-device', leave: 'usb-no-device' },
  },
  {
    name: 'device gone at the phase\'s request, back 200 ms later',
    arm: (f, p) => f.disconnectAt(REQUEST[p].request, REQUEST[p].nth, 200),
    expect: { enter: 'usb-no-device', erase: 'usb-no-device', program: 'usb-no-device', leave: 'console-timeout' },
  },
  {
    name: 'device gone at the phase\'s first GETSTATUS, back 200 ms later',
    arm: (f) => f.disconnectAt('GETSTATUS', 1, 200),
    expect: { enter: 'usb-no-device', erase: 'usb-no-device', program: 'usb-no-device', leave: 'usb-no-device' },
  },
  {
    name: 'power lost inside the phase',
    arm: (f, p) => f.powerLossIn(INSIDE[p]),
    expect: { enter: NO_BOOTLOADER, erase: 'usb-no-device', program: 'usb-no-device', leave: POWER_LOST_IN_LEAVE },
  },
  {
    name: 'board reset (NRST) inside the phase',
    arm: (f, p) => f.resetIn(INSIDE[p]),
    expect: { enter: NO_BOOTLOADER, erase: 'usb-no-device', program: 'usb-no-device', leave: RESET_IN_LEAVE },
  },
  {
    name: 'console noise (0x00, 0xFF, garbage without a line end) inside the phase',
    arm: (f) => { f.consoleNoise(NOISE); return undefined; },
    expect: { enter: 'recovered', erase: 'recovered', program: 'recovered', leave: 'recovered' },
  },
];

/** Real ms a phase may take before the cell counts as hung (virtual time makes the slow parts fast). */
const HUNG_MS = 60_000;

async function bounded<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} hung: no end within ${HUNG_MS} ms of real time`)), HUNG_MS);
  });
  try {
    return await Promise.race([work, hung]);
  } finally {
    clearTimeout(timer);
  }
}

/** One update, phase by phase, with `fault` armed at the start of `phase`; ends at the first error. */
async function update(rig: Rig, dfu: DfuOpener, fault: Fault, phase: Phase): Promise<{ outcome: Outcome; armed: ArmedFault | undefined; error?: unknown }> {
  const image = rig.images.appB;
  let armed: ArmedFault | undefined;
  const arm = (p: Phase): void => { if (p === phase) armed = fault.arm(rig.faults!, p); };
  try {
    arm('enter');
    await bounded('enter', (async () => {
      await rig.enterDfu(rig.capabilities.entryMethods[0]!);
      const check = await dfu();
      expect(await check.getCommands()).toEqual([0x00, 0x21, 0x41, 0x92]);
      await check.close();
    })());
    const session = await dfu();
    arm('erase');
    await bounded('erase', session.eraseSector(image.segments[0]!.address));
    arm('program');
    const written = await bounded('program', session.download(image, { erase: 'none', verify: true }));
    expect(written.verified).toBe(true);
    await session.close();
    arm('leave');
    await bounded('leave', (async () => {
      await rig.leave();
      expect(await rig.waitForApp()).toMatchObject(rig.images.identity.b);
    })());
    return { outcome: 'recovered', armed };
  } catch (error) {
    if (error instanceof Error && error.message.endsWith('of real time')) throw error;
    // An untyped error is a bug in the harness: it fails the cell as it is.
    if (!(error instanceof DfuHilError)) throw error;
    return { outcome: error.code, armed, error };
  }
}

describe('the fault matrix: ten faults in each of the four phases of an update', () => {
  for (const fault of FAULTS) {
    for (const phase of PHASES) {
      const listed = ([] as Outcome[]).concat(fault.expect[phase]);
      const ends = listed.includes('recovered') ? 'the update completes'
        : `ends in ${listed.map((o) => (o === NO_BOOTLOADER ? 'the bootloader never enumerating' : o)).join(' or ')}`;
      test(`${fault.name}, in ${phase}: ${ends}, and the board is not bricked`, async ({ rig, dfu, needs }) => {
        // Each cell flashes the test application's B and asks the board for its version afterwards.
        needs('faults', 'test-app-console');
        const expected = outcomesFor(fault.expect[phase], rig.capabilities.entryMethods[0]!);
        const started = rig.trace.steps.length;
        const result = await update(rig, dfu, fault, phase);
        if (result.armed) expect(result.armed.fired, `${result.armed.description} never struck`).toBe(true);
        expect(expected, result.error instanceof Error ? result.error.message : undefined).toContain(result.outcome);
        // Bounded in the rig's own time too: no fault makes the host wait for hours.
        const virtualMs = rig.trace.steps.slice(started).reduce((n, s) => n + s.durationMs, 0);
        expect(virtualMs).toBeLessThan(120_000);
        // Not bricked: the harness brings the board back to the reference application.
        rig.faults!.clear();
        await bounded('recovery', rig.restoreReference());
        expect(await rig.console.version()).toEqual(rig.images.identity.a);
      });
    }
  }
});
