import { DfuRequest } from '../../dfu/protocol.js';
import type { SimulatedNucleoH745 } from '../../sim/board/nucleo-h745.js';
import type { FaultHandle } from '../../sim/bootloader/faults.js';
import type { ArmedFault, DfuRequestName, RigFaults } from '../faults.js';

const REQUEST_CODES: Record<DfuRequestName, number> = {
  DETACH: DfuRequest.Detach, DNLOAD: DfuRequest.Dnload, UPLOAD: DfuRequest.Upload, GETSTATUS: DfuRequest.GetStatus,
  CLRSTATUS: DfuRequest.ClrStatus, GETSTATE: DfuRequest.GetState, ABORT: DfuRequest.Abort,
};

/** The simulated board's fault injection, in the rig's terms. */
export class SimRigFaults implements RigFaults {
  private readonly armed: Array<FaultHandle | ArmedFault> = [];
  private readonly listeners: Array<(fault: string) => void> = [];

  constructor(private readonly board: SimulatedNucleoH745) {}

  /** `listener` hears of every fault armed from now on (the rig's flash record stops trusting what it knows). */
  onArm(listener: (fault: string) => void): void {
    this.listeners.push(listener);
  }

  leaveRace(): ArmedFault {
    return this.keep(this.board.faults.bootloader.leaveRace());
  }

  stall(request: DfuRequestName, nth = 1, times = 1): ArmedFault {
    return this.keep(this.board.faults.bootloader.stallAt({ request: REQUEST_CODES[request], nth }, { times }));
  }

  stallFirstStatusAfterCommand(): ArmedFault {
    return this.keep(this.board.faults.bootloader.stallFirstGetStatusAfterCommand());
  }

  disconnectAt(request: DfuRequestName, nth = 1, reattachAfterMs?: number): ArmedFault {
    return this.keep(this.board.faults.bootloader.disconnectAt({ request: REQUEST_CODES[request], nth }, reattachAfterMs === undefined ? {} : { reattachAfterMs }));
  }

  lyingPollTimeout(reportMs: number, busyMs?: number): ArmedFault {
    return this.keep(this.board.faults.bootloader.lyingPollTimeout({ reportMs, ...(busyMs === undefined ? {} : { busyMs }) }));
  }

  powerLossAfterBytes(bytes: number): ArmedFault {
    return this.keep(this.board.faults.bootloader.powerLossAfterBytes(bytes));
  }

  consoleNoise(text: string): void {
    this.board.faults.consoleNoise(text);
  }

  consoleNoiseAtReset(text: string): void {
    this.board.faults.noiseOnReset = Uint8Array.from(Buffer.from(text, 'latin1'));
  }

  slowReEnumeration(extraMs: number): void {
    this.board.faults.slowReEnumerationMs = extraMs;
  }

  powerLossIn(afterMs: number): ArmedFault {
    return this.keep(this.timed(`power loss in ${afterMs} ms`, afterMs, () => this.board.powerOff()));
  }

  resetIn(afterMs: number): ArmedFault {
    return this.keep(this.timed(`reset (NRST) in ${afterMs} ms`, afterMs, () => this.board.pressReset()));
  }

  clear(): void {
    for (const f of this.armed.splice(0)) f.disarm();
    this.board.faults.slowReEnumerationMs = 0;
    this.board.faults.noiseOnReset = new Uint8Array();
  }

  private keep(handle: FaultHandle | ArmedFault): ArmedFault {
    for (const listener of this.listeners) listener(handle.description);
    this.armed.push(handle);
    return handle;
  }

  /** Does `act` on the board's clock after `afterMs`, unless disarmed first; fired once it has. */
  private timed(description: string, afterMs: number, act: () => void): ArmedFault {
    let fired = false;
    const timer = this.board.clock.setTimer(afterMs, () => {
      fired = true;
      act();
    });
    return { description, get fired() { return fired; }, disarm: () => timer.cancel() };
  }
}
