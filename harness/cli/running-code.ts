// One vocabulary for what a board runs, in text and in JSON: `dfu-hil status` prints
// "running: application …" and `--json` says "running": "application".

/**
 * What runs on the board: its application, the DFU bootloader, nothing at all (a simulated
 * board with nothing bootable), or unknown (nothing answered on the console).
 */
export type RunningCode = 'application' | 'bootloader' | 'nothing' | 'unknown';

/** The CLI's word for what a simulated board reports it runs. */
export function runningCodeOf(simulated: 'app' | 'bootloader' | 'none'): RunningCode {
  return simulated === 'app' ? 'application' : simulated === 'none' ? 'nothing' : 'bootloader';
}
