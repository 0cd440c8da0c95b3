// The rig's sequences, written once over its backends (labgrid's strategies): enter DFU by a
// method, flash, leave, wait for the application, reset, power-cycle, recover. Each is recorded
// as a step of the rig's trace, and none starts once the board's lease is gone. What differs
// between a simulated board and a bench is only which backends are bound (backends.ts).
import type { Clock } from '../clock/clock.js';
import { DfuseClient, type DfuseOpenOptions } from '../dfu/dfuse-client.js';
import type { FlashContentCache } from '../dfu/flash-content-cache.js';
import { DfuHilError } from '../errors.js';
import type { DebugProbe } from '../probe/probe.js';
import type { GpioSnapshot } from '../serial/console-protocol.js';
import { ConsoleError } from '../serial/test-app-console.js';
import type { UsbDeviceInfo } from '../usb/transport.js';
import type { AppReadyCheck, AppReadyResult, AppReadyWatch } from './app-ready/app-ready.js';
import type { PowerBackend, ResetLine, RigBackends } from './backends.js';
import { BootloaderLocator } from './bootloader-locator.js';
import type { RigConfig } from './config/load-rigs.js';
import type { EntryMethod } from './config/vocabulary.js';
import type { ConsoleKeeper } from './console-keeper.js';
import { boardFlashCache, describeFlash, flashOverDfu, leaveDfu, probeWatchedBy } from './dfu-operations.js';
import { DFU_ENTRIES } from './entry-methods.js';
import { readGpioThroughProbe } from './gpio-over-probe.js';
import type { LeaseHandle } from './lease-gate.js';
import type { ReferenceImages } from './reference-images.js';
import {
  type DfuEntryReport, type EnterDfuOptions, type RigFlashImage, type RigFlashOptions, type RigFlashReport,
  type RigLeaveReport, type RigStep,
} from './rig.js';
import { RigCapabilityMissing, RigInfrastructureError } from './rig-errors.js';

/** Records each rig action as a step, and keeps it off a board the rig no longer holds. */
export class RigSteps {
  readonly list: RigStep[] = [];
  /** Set when the rig is closed: no step starts after that. */
  closed = false;

  constructor(private readonly rig: string, private readonly clock: Clock, private readonly lease: LeaseHandle | undefined) {}

  /** Runs `work` as the step `action`, with `describe(result)` as its detail. */
  async run<T>(action: string, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    const t = this.clock.now();
    try {
      if (this.closed) throw new RigInfrastructureError('rig-closed', `rig "${this.rig}" is closed`, { hint: 'Create the rig again.' });
      await this.lease?.check?.();
      this.lease?.assertHeld();
      const result = await work();
      this.list.push({ t, action, durationMs: this.clock.now() - t, outcome: 'ok', ...(describe ? { detail: describe(result) } : {}) });
      return result;
    } catch (error) {
      const detail = error instanceof DfuHilError ? `${error.code}: ${error.message}` : String(error);
      this.list.push({ t, action, durationMs: this.clock.now() - t, outcome: 'failed', detail });
      throw error;
    }
  }
}

/** The sequences of one rig over its backends. */
export class DfuStrategy {
  readonly locator: BootloaderLocator;
  /** What the board's flash holds, as far as this rig saw (differential flashing). */
  readonly flashContents: FlashContentCache;
  /** The debug probe, reporting to the flash record what it changes. */
  readonly probe: DebugProbe | undefined;
  /** The watch for the application, armed at the last reset, power-up or leave: the boot `waitForApp` waits for. */
  private appWatch: AppReadyWatch;

  constructor(
    private readonly config: RigConfig,
    private readonly backends: RigBackends,
    private readonly images: ReferenceImages,
    private readonly appReady: AppReadyCheck,
    readonly steps: RigSteps,
  ) {
    this.locator = new BootloaderLocator(config, backends.usb.bus);
    this.flashContents = boardFlashCache(backends.usb.bus.trace);
    backends.simulation?.faults.onArm((fault) => this.flashContents.distrust(`fault armed: ${fault}`));
    this.probe = backends.probe ? probeWatchedBy(backends.probe.probe, this.flashContents) : undefined;
    this.appWatch = appReady.arm();
  }

  private get clock(): Clock {
    return this.backends.clock;
  }

  /** Puts the board in the bootloader by `method` and waits for it to enumerate. */
  enter(method: EntryMethod, options: EnterDfuOptions = {}): Promise<DfuEntryReport> {
    return this.steps.run(`enter DFU by ${method}`, async () => {
      const started = this.clock.now();
      const entryMark = this.backends.console.log.mark();
      await DFU_ENTRIES[method].start({ config: this.config, backends: this.backends, options, powerCycle: (power) => this.cyclePower(power) });
      const device = await this.waitForBootloader(options.timeoutMs).catch((error: unknown) => { throw this.explain(error, entryMark); });
      return {
        method, vidPid: this.config.bootloader.vidPid, serialNumber: device.serialNumber,
        portPath: device.portPath, enumeratedAfterMs: this.clock.now() - started,
      };
    });
  }

  /** Waits for the board's bootloader on the bus and remembers it. */
  waitForBootloader(timeoutMs = this.config.timeouts.enumerationMs): Promise<UsbDeviceInfo> {
    return this.locator.waitFor(timeoutMs).catch((error: unknown) => { throw this.explain(error); });
  }

  /** Opens a DfuSe session on the bootloader the board is in. */
  async openDfu(options: Partial<DfuseOpenOptions> = {}): Promise<DfuseClient> {
    const device = await this.locator.current().catch((error: unknown) => { throw this.explain(error); });
    // The rig's policy, whatever the caller passed: it is the rig that allows option bytes.
    return DfuseClient.open(this.backends.usb.bus, device, { ...options, clock: this.clock, allowOptionBytes: this.config.allowOptionBytes });
  }

  flash(image: RigFlashImage, options: RigFlashOptions = {}): Promise<RigFlashReport> {
    return this.steps.run(`flash ${image.source}`, () => flashOverDfu(() => this.openDfu(), this.config, image, options, this.flashContents), describeFlash);
  }

  leave(): Promise<RigLeaveReport> {
    return this.steps.run('leave DFU', () => {
      this.bootFollows();
      return leaveDfu(() => this.openDfu(), this.config);
    });
  }

  /** Resolves once the application is up after the last reset, power-up or leave, as the rig's appReady says. */
  waitForApp(timeoutMs = this.config.timeouts.readyMs): Promise<AppReadyResult> {
    return this.appWatch.wait(timeoutMs).catch((error: unknown) => { throw this.explain(error); });
  }

  /** Stops watching for the application (the rig is closing). */
  stopWatching(): void {
    this.appWatch.cancel();
  }

  /** The application boots next (a reset, a power-up, a leave): watch for it from before it starts. */
  private bootFollows(): void {
    this.appWatch.cancel();
    this.appWatch = this.appReady.arm();
  }

  gpioSnapshot(): Promise<GpioSnapshot> {
    return this.backends.console.use((c) => c.gpio());
  }

  /** GPIO registers of ports A..K read through the debug probe. */
  probeGpioSnapshot(probe: DebugProbe): Promise<GpioSnapshot> {
    return this.steps.run('GPIO snapshot through the probe', () => readGpioThroughProbe(probe));
  }

  async reset(): Promise<void> {
    const line = this.backends.reset;
    await this.steps.run(`reset (${line.via})`, async () => {
      this.flashContents.distrust(`a reset (${line.via})`);
      this.bootFollows();
      await line.pulse();
    });
  }

  async powerCycle(power: PowerBackend): Promise<void> {
    await this.steps.run('power cycle', () => {
      this.flashContents.distrust('a power cycle');
      return this.cyclePower(power);
    });
  }

  /**
   * Brings the board back to `image` plus the CM4 image: over SWD when there is a probe (mass
   * erase, program, NRST), else through the BOOT0 jumper and DFU.
   */
  async recover(rig: string, image: RigFlashImage): Promise<void> {
    const probe = this.probe;
    const cm4 = this.images.cm4;
    if (probe) {
      await this.steps.run(`recover with ${image.source} over SWD`, async () => {
        await this.backends.power?.ensureOn();
        await probe.massErase();
        for (const img of [image, cm4]) {
          for (const s of img.segments) await probe.programFlash(s.address, s.data);
        }
        this.bootFollows();
        await probe.reset('hardware');
        await this.waitForApp();
      });
      return;
    }
    if (!this.backends.boot0.jumper) {
      throw new RigCapabilityMissing(rig, 'debug-probe', `rig "${rig}" has neither a debug probe nor a BOOT0 jumper with power switching to recover a board with`);
    }
    await this.steps.run(`recover with ${image.source} through BOOT0 and DFU`, async () => {
      await this.enter('boot0-jumper');
      await this.flash(image, { erase: 'mass' });
      await this.flash(cm4, { erase: 'touched' });
      await this.leave();
      await this.waitForApp();
    });
  }

  /** Power off and on; a console port that goes down with the board is reopened. */
  private async cyclePower(power: PowerBackend): Promise<void> {
    this.bootFollows();
    await power.cycle();
    await this.backends.console.afterPowerCycle(this.config.timeouts.powerCycleMs + this.config.timeouts.enumerationMs);
  }

  /**
   * What the board shows is what a bench would (no DFU device, no banner); what a bench cannot
   * say, the simulated chip can: the error names the likely cause when it knows one. An entry
   * that ended in the application's banner since `entryMark` says so: its code did not take the jump.
   */
  private explain(error: unknown, entryMark?: number): unknown {
    if (!(error instanceof Error) || error.message.includes('likely cause')) return error;
    const cause = this.backends.simulation?.likelyCause();
    if (cause !== undefined) {
      error.message = `${error.message}; likely cause: ${cause}`;
      return error;
    }
    const banner = entryMark === undefined ? undefined
      : this.backends.console.log.since(entryMark).find((e) => e.direction === 'rx' && e.text.startsWith('READY '));
    if (banner) error.message = `${error.message}; likely cause: the application booted again ("${banner.text}") instead of entering the bootloader: its entry code did not take the jump`;
    return error;
  }
}

/** The console's `reset` command as a reset line, for a bench with nothing on NRST. */
export function consoleResetLine(console: ConsoleKeeper): ResetLine {
  return {
    via: 'console',
    pulse: () => console.use(async (c) => {
      try {
        await c.command('reset');
      } catch (error) {
        // The application may reboot before its OK leaves the UART: that is the reset we asked for.
        if (!(error instanceof ConsoleError && error.failure === 'target-reset')) throw error;
      }
    }),
  };
}
