// The one Rig: a board on a bench, simulated or real, as a set of backends (backends.ts) driven
// by one strategy (dfu-strategy.ts), restored between tests by one reference state
// (reference-state.ts). What it can do follows from the backends bound, whatever its kind.
//
//   rig (this facade: capabilities, trace, lease, close)
//    └─ strategy (enter by an entry method, flash, leave, wait for the app, reset, power, recover)
//        └─ backends (power, reset line, console, probe, USB bus, BOOT0, simulation)
import type { DfuseClient, DfuseOpenOptions } from '../dfu/dfuse-client.js';
import type { DebugProbe } from '../probe/probe.js';
import type { GpioSnapshot } from '../serial/console-protocol.js';
import type { AppConsole } from '../serial/test-app-console.js';
import type { TransferTrace } from '../usb/trace.js';
import type { UsbBus, UsbDeviceInfo } from '../usb/transport.js';
import type { AppReadyResult } from './app-ready/app-ready.js';
import { appReadyCheckFor } from './app-ready/rig-app-ready.js';
import { presenceOf, type RigBackends } from './backends.js';
import type { RigConfig } from './config/load-rigs.js';
import type { EntryMethod, RigKind } from './config/vocabulary.js';
import { DfuStrategy, RigSteps } from './dfu-strategy.js';
import { ENTRY_PREFERENCE, entryMethodsOf } from './entry-methods.js';
import type { RigFaults } from './faults.js';
import type { FlashDigest } from './flash-digest.js';
import type { LeaseHandle } from './lease-gate.js';
import type { ReferenceImages } from './reference-images.js';
import { referenceState } from './reference-state.js';
import {
  capabilitiesOf, requireCapabilities, type DfuEntryReport, type EnterDfuOptions, type Rig, type RigCapabilities,
  type RigFlashImage, type RigFlashOptions, type RigFlashReport, type ReferenceRestore, type RigLeaveReport, type RigTrace,
  type SimulatedBoardAccess,
} from './rig.js';
import { RigCapabilityMissing, RigInfrastructureError } from './rig-errors.js';

/** What a rig is given besides its description and backends. */
export interface BoardRigOptions {
  /** The board's lease; released on close (a lease the caller holds comes as one whose release does nothing). */
  lease?: LeaseHandle | undefined;
  /** Where warnings go (an entry method the rig's backends cannot run). */
  warn(message: string): void;
}

/** A rig over backends `B`; build one with createRig (create-rig.ts). */
export class BoardRig<B extends RigBackends = RigBackends> implements Rig {
  readonly capabilities: RigCapabilities;
  readonly console: AppConsole;
  readonly probe: DebugProbe | undefined;
  readonly faults: RigFaults | undefined;
  readonly simulation: SimulatedBoardAccess | undefined;
  readonly flashDigest: (() => Promise<FlashDigest>) | undefined;
  private readonly strategy: DfuStrategy;
  private readonly steps: RigSteps;
  private readonly lease: LeaseHandle | undefined;

  constructor(readonly config: RigConfig, readonly images: ReferenceImages, readonly backends: B, options: BoardRigOptions) {
    const presence = presenceOf(backends);
    for (const { reason } of entryMethodsOf(config, presence).refused) options.warn(`rig "${config.name}": ${reason}`);
    this.capabilities = capabilitiesOf(config, presence);
    this.lease = options.lease;
    this.steps = new RigSteps(config.name, backends.clock, options.lease);
    this.strategy = new DfuStrategy(config, backends, images, appReadyCheckFor(config, backends), this.steps);
    this.console = backends.console.view;
    this.probe = this.strategy.probe;
    const simulation = backends.simulation;
    this.faults = simulation?.faults;
    this.simulation = simulation;
    this.flashDigest = simulation ? () => simulation.flashDigest() : undefined;
  }

  get name(): string {
    return this.config.name;
  }

  get kind(): RigKind {
    return this.config.kind;
  }

  get clock(): B['clock'] {
    return this.backends.clock;
  }

  get bus(): UsbBus & { readonly trace: TransferTrace } {
    return this.backends.usb.bus;
  }

  get trace(): RigTrace {
    const tools = this.backends.toolLog;
    return { usb: this.bus.trace, console: this.backends.console.log, ...(tools ? { probe: tools } : {}), steps: this.steps.list };
  }

  bootloaderPresent(): Promise<boolean> {
    return this.strategy.locator.present();
  }

  async enterDfu(method: EntryMethod, options: EnterDfuOptions = {}): Promise<DfuEntryReport> {
    requireCapabilities(this, method);
    return this.strategy.enter(method, options);
  }

  waitForBootloader(timeoutMs?: number): Promise<UsbDeviceInfo> {
    return this.strategy.waitForBootloader(timeoutMs);
  }

  openDfu(options: Partial<DfuseOpenOptions> = {}): Promise<DfuseClient> {
    return this.strategy.openDfu(options);
  }

  flash(image: RigFlashImage, options: RigFlashOptions = {}): Promise<RigFlashReport> {
    return this.strategy.flash(image, options);
  }

  leave(): Promise<RigLeaveReport> {
    return this.strategy.leave();
  }

  waitForApp(timeoutMs?: number): Promise<AppReadyResult> {
    return this.strategy.waitForApp(timeoutMs);
  }

  async transition(target: 'dfu' | 'app', options: { method?: EntryMethod } = {}): Promise<void> {
    const inDfu = await this.bootloaderPresent();
    if (target === 'app') {
      if (!inDfu) return;
      await this.leave();
      await this.waitForApp();
      return;
    }
    if (inDfu) return;
    const method = options.method ?? ENTRY_PREFERENCE.find((m) => this.capabilities.entryMethods.includes(m));
    if (!method) throw new RigInfrastructureError('no-entry-method', `rig ${this.name} offers no way into DFU`);
    await this.enterDfu(method);
  }

  restoreReference(): Promise<ReferenceRestore> {
    return referenceState.restore(this);
  }

  gpioSnapshot(): Promise<GpioSnapshot> {
    return this.strategy.gpioSnapshot();
  }

  async probeGpioSnapshot(): Promise<GpioSnapshot> {
    if (!this.probe) throw new RigCapabilityMissing(this.name, 'debug-probe', `rig "${this.name}" has no debug probe for reading GPIO through the probe (add a probe: section to rigs.yaml)`);
    return this.strategy.probeGpioSnapshot(this.probe);
  }

  reset(): Promise<void> {
    return this.strategy.reset();
  }

  async powerCycle(): Promise<void> {
    const power = this.backends.power;
    if (!power) {
      throw new RigCapabilityMissing(this.name, 'power-control', `rig "${this.name}" cannot switch the board's power (add power: { uhubctl: { location, port } })`);
    }
    await this.strategy.powerCycle(power);
  }

  recover(image: RigFlashImage = this.images.appA): Promise<void> {
    return this.strategy.recover(this.name, image);
  }

  forgetFlashContents(): void {
    this.strategy.flashContents.clear();
  }

  async close(): Promise<void> {
    if (this.steps.closed) return;
    this.steps.closed = true;
    this.strategy.stopWatching();
    let boardHeld = true;
    try {
      await this.lease?.check?.();
      this.lease?.assertHeld();
    } catch {
      // A board whose lease was lost may be another run's now: it is left as it is.
      boardHeld = false;
    }
    try {
      await this.backends.console.close().catch(() => undefined);
      await this.backends.close({ boardHeld });
    } finally {
      await this.lease?.release();
    }
  }
}
