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
//   5   not available: the rig lacks the capability
//   70  internal error: a bug in dfu-hil (an unexpected exception)
//
// Each error dfu-hil throws carries the class that picks its code (FailureClass, harness/errors.ts).
import { CommanderError } from 'commander';
import { DfuHilError } from '../errors.js';

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

/** The exit code for an error that ended a command. */
export function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    return error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (!(error instanceof DfuHilError)) return ExitCode.Internal;
  // The bench's own description is wrong: its own code, for scripts that fix rigs.yaml.
  if (error.code === 'rig-config') return ExitCode.Config;
  switch (error.failureClass) {
    case 'usage': return ExitCode.Usage;
    case 'capability': return ExitCode.NotAvailable;
    case 'infrastructure': return ExitCode.Infrastructure;
    case 'test': return ExitCode.Failure;
  }
}
