// Exit codes of `dfu-hil`, stable for scripts and CI:
//
//   0   success (doctor: no check failed; warnings allowed)
//   1   the board or firmware failed (a DFU error status, a console ERR, a verify mismatch)
//   2   usage: unknown command or option, bad argument, a missing image file or a .bin
//       whose address is unknown, a range outside the memory layout, a request the safety
//       rules refuse (RDP level 2, option bytes on a rig that does not allow them)
//   3   rigs.yaml is invalid, or names no such rig
//   4   the bench failed: lock busy, console cannot be opened, USB access, a tool missing,
//       doctor found a failing check (infrastructure: retry or fix the bench, not the firmware)
//   5   not available: the rig lacks the capability, or the command is not built for its kind
//   70  internal error: a bug in dfu-hil (an unexpected exception)
import { CommanderError } from 'commander';
import { DfuHilError } from '../errors.js';
import { classifyFailure } from '../rig/rig.js';

/** Exit codes by meaning; see the table at the top of this file. */
export const ExitCode = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  Config: 3,
  Infrastructure: 4,
  NotAvailable: 5,
  Internal: 70,
} as const;

/** Refused before anything reaches the board (the safety rules, an image that cannot be read or placed): the request was the problem, not the board. */
const REFUSALS = new Set(['dfu-rdp2-refused', 'dfu-option-bytes-refused', 'dfu-option-bytes-format', 'dfu-guard-refused', 'image-unreadable', 'image-no-address']);

/** The exit code for an error that ended a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (!(error instanceof DfuHilError)) return ExitCode.Internal;
  if (error.code === 'rig-config') return ExitCode.Config;
  // A range the layout does not allow (DfuRangeError) is refused before the device is touched.
  if (error.code === 'cli-usage' || REFUSALS.has(error.code) || error.code.startsWith('dfu-range-')) return ExitCode.Usage;
  if (error.code === 'rig-not-available' || classifyFailure(error) === 'capability') return ExitCode.NotAvailable;
  if (classifyFailure(error) === 'infrastructure') return ExitCode.Infrastructure;
  return ExitCode.Failure;
}
