// Every test starts from the same board: reference application A in bank 1, the CM4 image in
// bank 2, no ECC errors, the console answering. This brings a board there from wherever the
// last test left it (in DFU, running B, hung, unpowered), cheapest way first.
import { DfuError } from '../dfu/errors.js';
import { DfuStatus } from '../dfu/protocol.js';
import { DfuHilError } from '../errors.js';
import type { EntryMethod } from './config/schema.js';
import { RigInfrastructureError, type Rig } from './rig.js';

/** How the board was brought back. */
export type ReferenceRestore = 'already' | 'reflashed' | 'reset' | 'recovered';

/** Entry methods that need no wiring beyond what the application itself does. */
const ENTRY_PREFERENCE: readonly EntryMethod[] = ['console-jump', 'probe', 'rc', 'console-direct', 'boot0-jumper'];

/** Whether the application is reference A, and whether it reports flash words with ECC errors; undefined when it does not answer. */
async function appState(rig: Rig): Promise<{ reference: boolean; eccErrors: boolean } | undefined> {
  try {
    const { name, version } = await rig.console.version();
    const boot = await rig.console.boot();
    const a = rig.images.identity.a;
    return { reference: name === a.name && version === a.version && boot.cm4 === 'running' && boot.ecc === 0, eccErrors: boot.ecc !== 0 };
  } catch {
    return undefined;
  }
}

async function appIsReference(rig: Rig): Promise<boolean | undefined> {
  return (await appState(rig))?.reference;
}

/** True when the bootloader refuses reads with errVENDOR (readout protection level 1). */
async function readoutProtected(rig: Rig): Promise<boolean> {
  const session = await rig.openDfu();
  try {
    await session.upload(rig.images.appA.segments[0]!.address, 8);
    return false;
  } catch (error) {
    return error instanceof DfuError && error.report.status === DfuStatus.ErrVendor;
  } finally {
    await session.close().catch(() => undefined);
  }
}

/** Regresses RDP level 1 to 0 with Read Unprotect, which mass-erases the flash; only where the rig allows option bytes. */
async function unprotect(rig: Rig): Promise<void> {
  if (!rig.capabilities.optionBytes) {
    throw new RigInfrastructureError('board-protected', `rig ${rig.name}: the board is readout-protected and the rig does not allow option-byte writes`, {
      hint: 'Set allowOptionBytes: true for this rig, or regress RDP by hand (STM32CubeProgrammer: -ob RDP=0xAA).',
    });
  }
  const session = await rig.openDfu();
  try {
    await session.readUnprotect({ allowOptionBytes: true });
  } finally {
    await session.close().catch(() => undefined);
  }
}

/**
 * Flashes the reference images from DFU. `full` erases and writes every sector they touch: a
 * sector whose bytes read back right may still hold flash words with ECC errors, which only an
 * erase clears, so a differential flash that skips it would leave them.
 */
async function reflash(rig: Rig, full = false): Promise<void> {
  if (!(await rig.bootloaderPresent())) {
    const method = ENTRY_PREFERENCE.find((m) => rig.capabilities.entryMethods.includes(m));
    if (!method) throw new RigInfrastructureError('no-entry-method', `rig ${rig.name} offers no way into DFU`);
    await rig.enterDfu(method);
  }
  if (await readoutProtected(rig)) {
    await unprotect(rig);
    // Read Unprotect erased everything and reset the chip: only the probe brings code back.
    await rig.recover(rig.images.appA);
    return;
  }
  await rig.flash(rig.images.cm4, { full });
  await rig.flash(rig.images.appA, { full });
  await rig.leave();
  await rig.waitForApp();
  // Leave is a jump: a CM4 whose image was rewritten under it stays stopped until a reset.
  if ((await rig.console.boot()).cm4 !== 'running') {
    await rig.reset();
    await rig.waitForApp();
  }
}

/** Brings the board to reference application A; throws RigInfrastructureError when nothing works. */
export async function restoreReferenceApp(rig: Rig): Promise<ReferenceRestore> {
  // An image of the team's own cannot be asked what it is: the probe puts it back every time
  // (after Read Unprotect, if the last test left the flash protected).
  if (!rig.capabilities.testAppConsole) {
    if (await rig.bootloaderPresent() && await readoutProtected(rig)) await unprotect(rig);
    await rig.recover(rig.images.appA);
    return 'recovered';
  }
  const attempts: string[] = [];
  const attempt = async (what: string, work: () => Promise<void>): Promise<boolean> => {
    try {
      await work();
      return (await appIsReference(rig)) === true;
    } catch (error) {
      attempts.push(`${what}: ${error instanceof DfuHilError ? error.message : String(error)}`);
      return false;
    }
  };
  if (await rig.bootloaderPresent()) {
    if (await attempt('reflash from DFU', () => reflash(rig))) return 'reflashed';
  }
  const state = await appState(rig);
  if (state?.reference === true) return 'already';
  if (state?.reference === false && await attempt('reflash', () => reflash(rig, state.eccErrors))) return 'reflashed';
  if (await attempt('reset', async () => { await rig.reset(); await rig.waitForApp(); })) return 'reset';
  if (rig.capabilities.probe && await attempt('recover over SWD', () => rig.recover(rig.images.appA))) {
    if ((await appIsReference(rig)) === true) return 'recovered';
  }
  if (await attempt('reflash after recovery', () => reflash(rig, true))) return 'recovered';
  throw new RigInfrastructureError('board-unrecoverable', `rig ${rig.name}: could not bring the board back to ${rig.images.identity.a.name} ${rig.images.identity.a.version}\n${attempts.join('\n')}`, {
    hint: 'Power-cycle the board by hand, check BOOT0 and the probe, then run `dfu-hil doctor`.',
  });
}
