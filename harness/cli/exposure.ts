// dfu-hil run by a program under `dfu-hil sim expose`: the simulated board lives in the exposing
// process, which holds its lease and will save it, so the command must not open its own copy of
// the saved board (it would flash a copy and lose the result). It reaches the board as any other
// client does: DFU through the exposed USB (libusb, under umockdev's preload library), the
// console through the socket the exposing process relays it on, with the real clock. In other
// words the exposed board is driven as a bench board is: by the hardware rig, on an emulated bench.
import path from 'node:path';
import type { RigConfig } from '../rig/config/load-rigs.js';
import type { LeaseHandle } from '../rig/lease-gate.js';
import { RigLockLostError } from '../rig/lock/rig-lock.js';
import type { Rig, RigContext } from '../rig/rig.js';
import { CliUsageError } from './usage-error.js';

/** The environment variable `sim expose` passes its programs. */
export const EXPOSURE_ENV = 'DFU_HIL_EXPOSED';

/** What a program under `sim expose` is told about the board it may use. */
export interface Exposure {
  /** The simulated rig whose board is exposed. */
  rig: string;
  /** The exposing process's lease on it, and where it lives. */
  leaseId: string;
  lockDir: string;
  /** The Unix socket the board's console is relayed on. */
  console: string;
}

/** The exposure this process runs under, if any. */
export function exposureFrom(env: Readonly<Record<string, string | undefined>>): Exposure | undefined {
  const text = env[EXPOSURE_ENV];
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<Exposure>;
    if (typeof value.rig === 'string' && typeof value.leaseId === 'string' && typeof value.lockDir === 'string' && typeof value.console === 'string') {
      return { rig: value.rig, leaseId: value.leaseId, lockDir: value.lockDir, console: value.console };
    }
  } catch { /* reported below */ }
  throw new CliUsageError(`${EXPOSURE_ENV} is set but is not what dfu-hil sim expose sets`, `Unset ${EXPOSURE_ENV}; it is meant only for programs run by \`dfu-hil sim expose\`.`);
}

/** Where the commands under one exposure take turns: a lease directory of that exposure's own. */
export function exposureLeaseDir(exposure: Exposure): string {
  return path.join(exposure.lockDir, `exposed-${exposure.leaseId}`);
}

/**
 * The exposing process's lease, as the commands under it see it: still held while the holder
 * file beside it names the same lease. Combined with the command's own turn.
 */
export function exposedLease(exposure: Exposure, turn: LeaseHandle): LeaseHandle {
  const holderFile = path.join(exposure.lockDir, `${exposure.rig}.holder.json`);
  let lost: RigLockLostError | undefined;
  return {
    assertHeld: () => {
      if (lost) throw lost;
      turn.assertHeld();
    },
    check: async () => {
      const { readFile } = await import('node:fs/promises');
      const holder = await readFile(holderFile, 'utf8').then((t) => JSON.parse(t) as { leaseId?: string }, () => undefined);
      if (holder?.leaseId !== exposure.leaseId) lost ??= new RigLockLostError(exposure.rig, new Error('the dfu-hil sim expose that runs this command no longer holds the board'));
      if (lost) throw lost;
      await turn.check?.();
    },
    release: () => turn.release(),
  };
}

/** The exposed board as a rig: the hardware rig on the emulated USB bus and the relayed console. */
export async function openExposedRig(config: RigConfig, exposure: Exposure, context: RigContext): Promise<Rig> {
  // The probe and the power switch stay with the exposing process; the console methods remain.
  const { 'console-jump': jump, 'console-direct': direct, rc } = config.entry;
  const bench = {
    ...config,
    kind: 'nucleo-h745',
    probe: undefined,
    power: undefined,
    entry: { 'console-jump': jump, 'console-direct': direct, rc, 'boot0-jumper': undefined, probe: undefined },
    console: { path: exposure.console, baud: config.console.baud },
  } as RigConfig;
  // Loaded here: only a command under an exposure drives a board as a bench board.
  const [{ systemClock }, { createNucleoH745Rig }, { loadReferenceImages }, { connectRelayedConsole }, { createSimSerialBinding }, { openTestAppConsole }, { TransferTrace }, { LibusbBus }] = await Promise.all([
    import('../clock/clock.js'), import('../rig/hardware/nucleo-h745-rig.js'), import('../rig/reference-images.js'), import('../serial/console-relay.js'),
    import('../serial/sim-binding.js'), import('../serial/test-app-console.js'), import('../usb/trace.js'), import('../usb/libusb-bus.js'),
  ]);
  return createNucleoH745Rig(bench, context, {
    images: await loadReferenceImages(),
    clock: systemClock,
    bus: new LibusbBus({ clock: systemClock, trace: new TransferTrace(), pollIntervalMs: 10 }),
    openConsole: async ({ path: socket, clock, log, commandTimeoutMs }) => openTestAppConsole({
      path: socket, binding: createSimSerialBinding(await connectRelayedConsole(socket), { path: socket }), clock, log, commandTimeoutMs,
    }),
  });
}
