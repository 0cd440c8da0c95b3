import type { Clock } from '../clock/clock.js';
import { describeRange, ProbeError, ProbeLog, type DebugProbe, type ProbeResetKind } from './probe.js';

/**
 * What a simulated board's debug port offers (structural, so the probe layer does not know the
 * simulator). Calls are synchronous; busy times come back in ms.
 */
export interface SimulatedDebugAccess {
  readMemory(address: number, length: number): Uint8Array;
  writeMemory(address: number, bytes: Uint8Array): void;
  reset(kind: ProbeResetKind): void;
  programFlash(address: number, bytes: Uint8Array): number;
  massErase(): number;
}

/** A probe attached to a simulated board: same interface and log as st-flash or OpenOCD. */
export class SimulatedProbe implements DebugProbe {
  readonly log = new ProbeLog();

  constructor(private readonly port: SimulatedDebugAccess, private readonly clock: Clock) {}

  readMemory(address: number, length: number): Promise<Uint8Array> {
    return this.run(describeRange('read', address, length), () => this.port.readMemory(address, length));
  }

  writeMemory(address: number, bytes: Uint8Array): Promise<void> {
    return this.run(describeRange('write', address, bytes.length), () => this.port.writeMemory(address, bytes));
  }

  reset(kind: ProbeResetKind): Promise<void> {
    return this.run(`reset ${kind}`, () => this.port.reset(kind));
  }

  async massErase(): Promise<void> {
    const busy = await this.run('mass-erase', () => this.port.massErase());
    await this.clock.sleep(busy);
  }

  async programFlash(address: number, bytes: Uint8Array): Promise<void> {
    const busy = await this.run(describeRange('program', address, bytes.length), () => this.port.programFlash(address, bytes));
    await this.clock.sleep(busy);
  }

  private async run<T>(command: string, work: () => T): Promise<T> {
    try {
      const result = work();
      this.log.record({ t: this.clock.now(), command, result: 'ok' });
      return result;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      this.log.record({ t: this.clock.now(), command, result: 'failed', detail });
      const hint = typeof error === 'object' && error !== null && 'hint' in error ? String((error as { hint: unknown }).hint) : undefined;
      throw new ProbeError(`probe ${command} failed: ${detail}`, { cause: error, ...(hint ? { hint } : {}) });
    }
  }
}
