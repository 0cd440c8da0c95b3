// Switches a board's USB power with uhubctl (Debian package uhubctl):
//   uhubctl -l <hub location> -p <port> -a off|on|cycle [-d <seconds>]
// uhubctl prints the port's state before and after ("Current status for hub 1-1 […]",
// "  Port 2: 0000 off", "Sent power off request", "New status for hub …", "  Port 2: 0503 power
// highspeed enable connect […]") and exits 1 with "No compatible devices detected" when the hub
// is wrong or cannot switch per port, or when it lacks permission. A run that exits 0 but whose
// new status does not show the state asked for is a failure too: some hubs accept the request
// and do nothing.
import { systemClock, type Clock } from '../../clock/clock.js';
import { formatCommandLine, ToolMissingError, type CommandRunner } from '../../probe/command-runner.js';
import { ProbeLog } from '../../probe/probe.js';
import type { UhubctlPort } from '../config/schema.js';
import { RigInfrastructureError } from '../rig-errors.js';

/** Options of {@link UsbHubPower}. */
export interface UsbHubPowerOptions {
  runner: CommandRunner;
  clock?: Clock;
  /** Deadline of one uhubctl run. */
  timeoutMs?: number;
  /** Where commands and their output are recorded (the rig shares its probe log). */
  log?: ProbeLog;
  executable?: string;
}

/** The power state of a hub port as uhubctl reports it. */
export type PortPower = 'on' | 'off';

/** uhubctl failed, or the port did not end in the state asked for. */
export class HubPowerError extends RigInfrastructureError {
  constructor(message: string, hint: string) {
    super('rig-hub-power', message, { hint });
  }
}

/** The last reported state of `port` in uhubctl's output ("  Port 2: 0000 off"). */
export function parsePortPower(output: string, port: number): PortPower | undefined {
  let state: PortPower | undefined;
  const re = new RegExp(`^\\s*Port ${port}:\\s+[0-9a-fA-F]{4}\\s+(.*)$`);
  for (const line of output.split(/\r?\n/)) {
    const m = re.exec(line);
    if (!m) continue;
    const flags = m[1]!.split(/[\s[]/);
    state = flags.includes('power') ? 'on' : flags.includes('off') ? 'off' : state;
  }
  return state;
}

const HINTS = {
  none: 'uhubctl found no hub that can switch power per port at that location: check power.uhubctl.location and port in rigs.yaml against `uhubctl` (no arguments), and that the hub supports per-port power switching (ppps).',
  permission: 'uhubctl needs write access to the hub: install udev/99-dfu-hil.rules (docs/bench.md) or run the bench as a user allowed to switch hub ports.',
  state: 'The hub accepted the request but the port did not change: some hubs gang their ports or ignore requests. Use a hub on uhubctl\'s supported list.',
};

/** One uhubctl-switched port powering a board. */
export class UsbHubPower {
  readonly log: ProbeLog;
  private readonly runner: CommandRunner;
  private readonly clock: Clock;
  private readonly timeoutMs: number;
  private readonly executable: string;

  constructor(readonly target: UhubctlPort, options: UsbHubPowerOptions) {
    this.runner = options.runner;
    this.clock = options.clock ?? systemClock;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.executable = options.executable ?? 'uhubctl';
    this.log = options.log ?? new ProbeLog();
  }

  /** Cuts power to the port. */
  async off(): Promise<void> {
    await this.run('off', ['-a', 'off'], 'off');
  }

  /** Restores power to the port. */
  async on(): Promise<void> {
    await this.run('on', ['-a', 'on'], 'on');
  }

  /** Off, `offMs` without power (uhubctl waits, in whole or fractional seconds), on. */
  async cycle(offMs = 1_000): Promise<void> {
    await this.run('cycle', ['-a', 'cycle', '-d', String(Math.max(offMs, 100) / 1000)], 'on');
  }

  /** The port's state now. */
  async status(): Promise<PortPower> {
    const output = await this.run('status', [], undefined);
    const state = parsePortPower(output, this.target.port);
    if (!state) throw new HubPowerError(`uhubctl printed no status for port ${this.target.port} of hub ${this.target.location}`, HINTS.none);
    return state;
  }

  private async run(action: string, extra: readonly string[], expect: PortPower | undefined): Promise<string> {
    const args = ['-l', this.target.location, '-p', String(this.target.port), ...extra];
    const commandLine = formatCommandLine(this.executable, args);
    const t = this.clock.now();
    const result = await this.runner.run(this.executable, args, { timeoutMs: this.timeoutMs });
    const output = result.all || `${result.stdout}${result.stderr}`;
    const entry = { t, command: `power ${action}: ${commandLine}`, output, ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}) };
    const fail = (problem: string, hint: string, error?: Error): never => {
      this.log.record({ ...entry, result: 'failed', detail: problem });
      throw error ?? new HubPowerError(`uhubctl ${action} on hub ${this.target.location} port ${this.target.port} ${problem} (command: ${commandLine})`, hint);
    };
    if (result.notFound) fail('uhubctl is not installed', '', new ToolMissingError('uhubctl', 'the rig switches the board\'s USB power with it'));
    if (result.timedOut) fail(`did not finish within ${this.timeoutMs} ms`, HINTS.none);
    if (/permission|Operation not permitted|access denied|try running as root/i.test(output)) fail(`had no permission: "${firstMatch(output, /permission|not permitted|denied|root/i)}"`, HINTS.permission);
    if (/No compatible devices detected/i.test(output)) fail(`found no switchable hub: "${firstMatch(output, /No compatible devices/i)}"`, HINTS.none);
    if (result.exitCode !== 0) fail(`exited with code ${String(result.exitCode)}`, HINTS.none);
    if (expect !== undefined) {
      // Only the status printed after the request counts; the "Current status" block is before.
      const after = output.slice(Math.max(0, output.lastIndexOf('New status')));
      const state = output.includes('New status') ? parsePortPower(after, this.target.port) : undefined;
      if (state !== expect) fail(`left the port ${state ?? 'in an unreported state'} instead of ${expect}`, HINTS.state);
    }
    this.log.record({ ...entry, result: 'ok' });
    return output;
  }
}

function firstMatch(output: string, pattern: RegExp): string {
  return output.split(/\r?\n/).find((l) => pattern.test(l))?.trim() ?? '';
}
