// The reference state: what every test starts from, and how a board is brought back there from
// wherever the last test (or person) left it: in DFU, running another image, hung, unpowered,
// readout-protected. One object, used by the fixtures before each test and by `dfu-hil recover`;
// nothing else decides it.
//
// The reference is reference application A in bank 1 (on a rig that boots its team's own
// firmware, that image), the CM4 image in bank 2, no flash word with an ECC error, and the
// application up and answering. The rig's record of the flash is forgotten once the board is
// there: the reference is the board's, not the rig's memory of it, so a test's first flash reads
// back what it skips and sends the same requests whatever ran before.
//
// The way back, cheapest first: nothing, if the application already is reference A; a reflash
// over DFU (entering it by the cheapest method the rig offers) if it runs something else or the
// bootloader is up; a reset; recovery over SWD (or through BOOT0); a full reflash after that. A
// readout-protected board is unprotected first where the rig allows option bytes. A flash that
// follows reported ECC errors is cold: a sector whose bytes read back right may still hold them,
// and only an erase clears them.
import { DfuError } from '../dfu/errors.js';
import { DfuStatus } from '../dfu/protocol.js';
import { DfuHilError } from '../errors.js';
import { RigInfrastructureError } from './rig-errors.js';
import type { ReferenceRestore, Rig } from './rig.js';

/** What the application reports about itself, for {@link ReferenceState}. */
interface AppState {
  /** True when it is reference A, with the CM4 running and no ECC errors. */
  reference: boolean;
  eccErrors: boolean;
}

/** The state every test starts from, and the way back to it (see the top of this file). */
export class ReferenceState {
  /** One line for reports: what the reference is on `rig`. */
  describe(rig: Rig): string {
    const { name, version } = rig.images.identity.a;
    return `${name} ${version} in bank 1, ${rig.images.cm4.source} in bank 2, no ECC errors, the application up`;
  }

  /** Brings `rig`'s board to the reference; throws RigInfrastructureError when nothing works. */
  async restore(rig: Rig): Promise<ReferenceRestore> {
    const how = await this.bringBack(rig);
    rig.forgetFlashContents();
    return how;
  }

  private async bringBack(rig: Rig): Promise<ReferenceRestore> {
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
        return (await appState(rig))?.reference === true;
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
    if (rig.capabilities.probe && await attempt('recover over SWD', () => rig.recover(rig.images.appA))) return 'recovered';
    if (await attempt('reflash after recovery', () => reflash(rig, true))) return 'recovered';
    throw new RigInfrastructureError('board-unrecoverable', `rig ${rig.name}: could not bring the board back to ${this.describe(rig)}\n${attempts.join('\n')}`, {
      hint: 'Power-cycle the board by hand, check BOOT0 and the probe, then run `dfu-hil doctor`.',
    });
  }
}

/** The reference state of every rig. */
export const referenceState = new ReferenceState();

/** Whether the application is reference A, and whether it reports flash words with ECC errors; undefined when it does not answer. */
async function appState(rig: Rig): Promise<AppState | undefined> {
  try {
    const { name, version } = await rig.console.version();
    const boot = await rig.console.boot();
    const a = rig.images.identity.a;
    return { reference: name === a.name && version === a.version && boot.cm4 === 'running' && boot.ecc === 0, eccErrors: boot.ecc !== 0 };
  } catch {
    return undefined;
  }
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

/** Flashes the reference images from DFU; `full` erases and writes every sector they touch (see the top of this file). */
async function reflash(rig: Rig, full = false): Promise<void> {
  await rig.transition('dfu');
  if (await readoutProtected(rig)) {
    await unprotect(rig);
    // Read Unprotect erased everything and reset the chip: only the probe brings code back.
    await rig.recover(rig.images.appA);
    return;
  }
  await rig.flash(rig.images.cm4, { full });
  await rig.flash(rig.images.appA, { full });
  await rig.transition('app');
  // Leave is a jump: a CM4 whose image was rewritten under it stays stopped until a reset.
  if ((await rig.console.boot()).cm4 !== 'running') {
    await rig.reset();
    await rig.waitForApp();
  }
}
