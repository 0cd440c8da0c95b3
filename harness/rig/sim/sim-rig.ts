import { VirtualClock } from '../../clock/virtual-clock.js';
import { DfuseClient, type DfuseOpenOptions } from '../../dfu/dfuse-client.js';
import { guardBus } from '../../dfu/guarded-transport.js';
import { leaseGated, leaseGatedBus, type LeaseHandle } from '../lease-gate.js';
import { DfuHilError } from '../../errors.js';
import { SimulatedProbe } from '../../probe/sim-probe.js';
import { createSimSerialBinding } from '../../serial/sim-binding.js';
import { openTestAppConsole, type ReadyBanner, type TestAppConsole } from '../../serial/test-app-console.js';
import type { GpioSnapshot } from '../../serial/console-protocol.js';
import { ConsoleLog } from '../../serial/console-log.js';
import { SimulatedNucleoH745, type Boot0Wiring, type SimBoardState } from '../../sim/board/nucleo-h745.js';
import { bootloaderProfiles } from '../../sim/bootloader/profiles.js';
import type { UsbConnector } from '../../usb/gadget.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import { TransferTrace } from '../../usb/trace.js';
import type { UsbBus, UsbDeviceInfo } from '../../usb/transport.js';
import type { RigConfig } from '../config/load-rigs.js';
import type { EntryMethod } from '../config/schema.js';
import type { ReferenceImages } from '../reference-images.js';
import type { FlashDigest } from '../flash-digest.js';
import {
  capabilitiesFromConfig, requireCapabilities, RigCapabilityMissing, RigInfrastructureError, RigTestError,
  type DfuEntryReport, type EnterDfuOptions, type Rig, type RigCapabilities, type RigFlashImage, type RigFlashOptions,
  type RigFlashReport, type RigLeaveReport, type RigStep, type RigTrace,
} from '../rig.js';
import { enterWithProbeMagic } from '../probe-entry.js';
import { SimRigFaults } from './sim-faults.js';
import { announcedIdentity } from '../../dfu/image/version-block.js';
import type { CpuCore } from '../../sim/cpu/cpu-core.js';
import { CpuUnavailableError } from '../../sim/cpu/errors.js';
import { openUnicornCore } from '../../sim/cpu/unicorn-core.js';
import { boardFlashCache, describeFlash, flashOverDfu, leaveDfu, probeWatchedBy } from '../dfu-operations.js';
import type { FlashContentCache } from '../../dfu/flash-content-cache.js';

/** The USB bus the host side of a simulated rig sees: in-process, or libusb through the USB emulation. */
export interface SimUsbAttachment {
  bus: UsbBus & { readonly trace: TransferTrace; isPresent(device: UsbDeviceInfo): boolean | Promise<boolean> };
  /** Detaches the board from the bus. */
  close(): Promise<void>;
}

/** Connects a simulated board's USB connector to a bus the host code can use. */
export type SimUsbWiring = (board: { clock: VirtualClock; connector: UsbConnector; trace: TransferTrace }) => Promise<SimUsbAttachment>;

/** The default wiring: an {@link InProcessUsbBus}, no operating system involved. */
export const inProcessSimUsb: SimUsbWiring = async ({ clock, connector, trace }) => {
  const bus = new InProcessUsbBus({ clock, trace });
  bus.addConnector(connector);
  return { bus, close: async () => bus.dispose() };
};

/** Options of {@link SimRig.create}. */
export interface SimRigOptions {
  /** A board saved by an earlier run, restored instead of a factory-fresh one. */
  initialState?: SimBoardState;
  /** How the host reaches the board's USB; default {@link inProcessSimUsb}. */
  usb?: SimUsbWiring;
  /**
   * The board's lease, held by the caller (the CLI). The rig's bus, console and probe then reach
   * the board only while it is held; once it is lost they fail with RigLockLostError.
   */
  lease?: LeaseHandle;
  /** The environment (DFU_HIL_LIBUNICORN for executed mode); default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The CPU core an executed-mode rig runs its firmware on; capability missing (with the install hint) where libunicorn is not. */
async function openExecutedCore(config: RigConfig, env: Readonly<Record<string, string | undefined>>): Promise<CpuCore> {
  try {
    return await openUnicornCore(env);
  } catch (error) {
    if (!(error instanceof CpuUnavailableError)) throw error;
    throw new RigCapabilityMissing(config.name, 'executed-firmware',
      `rig "${config.name}" executes its firmware on an emulated Cortex-M7, which needs libunicorn 2: ${error.message}. ${error.hint ?? ''}`.trim());
  }
}

/**
 * The default rig: a simulated NUCLEO-H745ZI-Q on an in-process USB bus, its console through a
 * serialport binding and a simulated SWD probe, all on one virtual clock. The host code it runs
 * (DfuseClient, TestAppConsole) is the same code a hardware rig runs.
 */
export class SimRig implements Rig {
  readonly kind = 'sim' as const;
  readonly capabilities: RigCapabilities;
  readonly faults: SimRigFaults;
  readonly probe: SimulatedProbe;
  private readonly steps: RigStep[] = [];
  private bootMark = 0;
  private dfuDevice: UsbDeviceInfo | undefined;
  /** What the board's flash holds, as far as this rig saw (differential flashing). */
  private readonly flashContents: FlashContentCache;

  private constructor(
    readonly config: RigConfig,
    readonly clock: VirtualClock,
    readonly board: SimulatedNucleoH745,
    readonly bus: SimUsbAttachment['bus'],
    readonly console: TestAppConsole,
    readonly images: ReferenceImages,
    private readonly usb: SimUsbAttachment,
    private readonly lease: LeaseHandle | undefined,
  ) {
    // A simulated board's power is always switchable.
    this.capabilities = { ...capabilitiesFromConfig(config), powerControl: true };
    this.flashContents = boardFlashCache(bus.trace);
    this.faults = new SimRigFaults(board, (fault) => this.flashContents.distrust(`fault armed: ${fault}`));
    const probe = new SimulatedProbe(board.debug, clock);
    this.probe = probeWatchedBy(lease ? leaseGated(probe, lease) : probe, this.flashContents);
  }

  /**
   * Builds the board, programs the reference images as a factory would, powers it and waits for
   * READY. With `initialState` (a board saved by an earlier run) the board is restored instead and
   * waited for in whatever it was running: READY for the application, enumeration for the bootloader.
   */
  static async create(config: RigConfig, images: ReferenceImages, options: SimRigOptions = {}): Promise<SimRig> {
    const { initialState } = options;
    const profileName = config.bootloader.profile ?? 'st-rom-v9.2';
    const profile = bootloaderProfiles[profileName];
    if (!profile) throw new RigInfrastructureError('sim-profile', `rig ${config.name}: no simulated bootloader profile "${profileName}"`);
    const clock = new VirtualClock();
    const rc = config.entry.rc;
    const boot0: Boot0Wiring = rc
      ? { kind: 'rc', chargePin: rc.chargePin, r: rc.r, c: rc.c, vdd: rc.vdd, threshold: rc.threshold }
      : { kind: 'jumper', level: 0 };
    const consolePath = config.console.path ?? `sim:${config.name}`;
    const application = config.application === 'executed'
      ? { kind: 'executed' as const, core: await openExecutedCore(config, options.env ?? process.env) }
      : { kind: 'modelled' as const };
    const board = new SimulatedNucleoH745({
      clock, profile, boot0, consolePath, portPath: config.usb.portPath ?? '1-1', application,
      ...(config.usb.serial ? { serialNumber: config.usb.serial } : {}),
    });
    if (!initialState) for (const image of [images.appA, images.cm4]) for (const s of image.segments) board.loadImage(s.address, s.data);
    const { lease } = options;
    const wired = await (options.usb ?? inProcessSimUsb)({ clock, connector: board.usb, trace: new TransferTrace() });
    // Every transport opened on the rig's bus carries the rig's option-byte policy, and its lease.
    const guarded = guardBus(wired.bus, { allowOptionBytes: config.allowOptionBytes }, clock);
    const usb = { ...wired, bus: lease ? leaseGatedBus(guarded, lease) : guarded };
    const opened = await openTestAppConsole({
      path: consolePath, binding: createSimSerialBinding(board.console, { path: consolePath }), clock,
      log: new ConsoleLog(), commandTimeoutMs: config.timeouts.consoleMs,
    });
    const console = lease ? leaseGated(opened, lease) : opened;
    const rig = new SimRig(config, clock, board, usb.bus, console, images, usb, lease);
    rig.bootMark = console.mark();
    if (!initialState) {
      board.powerOn();
      await rig.waitForApp();
      return rig;
    }
    board.restore(initialState);
    if (board.runningCode === 'app') {
      // An application that had crashed (a core in its fault handler, or locked up) crashes again
      // and never says READY; the rig opens all the same, for `recover` and `status` to act on it.
      await rig.waitForApp().catch((error: unknown) => {
        if (board.mcu.cm7Trouble === undefined) throw error;
      });
    }
    else if (board.runningCode === 'bootloader') await rig.waitForBootloader();
    return rig;
  }

  get name(): string {
    return this.config.name;
  }

  get trace(): RigTrace {
    return { usb: this.bus.trace, console: this.console.log, probe: this.probe.log, steps: this.steps };
  }

  async bootloaderPresent(): Promise<boolean> {
    const { vendorId, productId } = this.config.bootloader.vidPid;
    return (await this.bus.list({ vendorId, productId })).length > 0;
  }

  async enterDfu(method: EntryMethod, options: EnterDfuOptions = {}): Promise<DfuEntryReport> {
    requireCapabilities(this, method);
    return this.step(`enter DFU by ${method}`, async () => {
      const started = this.clock.now();
      const entryMark = this.console.mark();
      switch (method) {
        case 'console-jump': await this.console.dfuJump(); break;
        case 'console-direct': await this.console.dfuDirect(); break;
        case 'rc': await this.console.dfuRc(options.rcDelayMs); break;
        case 'probe': await enterWithProbeMagic(this.probe); break;
        case 'boot0-jumper':
          throw new RigInfrastructureError('sim-boot0-jumper', 'the simulated rig models BOOT0 as an RC circuit, not a jumper');
      }
      const device = await this.waitForBootloader(options.timeoutMs).catch((error: unknown) => {
        throw this.withRebootNoted(error, entryMark);
      });
      return {
        method, vidPid: this.config.bootloader.vidPid, serialNumber: device.serialNumber,
        portPath: device.portPath, enumeratedAfterMs: this.clock.now() - started,
      };
    });
  }

  /** Waits for the bootloader's DFU device on the bus and remembers it. */
  async waitForBootloader(timeoutMs = this.config.timeouts.enumerationMs): Promise<UsbDeviceInfo> {
    const { vendorId, productId } = this.config.bootloader.vidPid;
    try {
      this.dfuDevice = await this.bus.waitForDevice({ vendorId, productId, ...(this.config.usb.serial ? { serialNumber: this.config.usb.serial } : {}) }, timeoutMs);
    } catch (error) {
      throw this.withLikelyCause(error);
    }
    return this.dfuDevice;
  }

  /** An entry that ended in the application's banner rather than the bootloader says so: its entry code did not take the jump. */
  private withRebootNoted(error: unknown, since: number): unknown {
    const banner = this.console.log.since(since).find((e) => e.direction === 'rx' && e.text.startsWith('READY '));
    if (!(error instanceof Error) || !banner || error.message.includes('likely cause')) return error;
    error.message = `${error.message}; likely cause: the application booted again ("${banner.text}") instead of entering the bootloader: its entry code did not take the jump`;
    return error;
  }

  /**
   * What the board shows is what a bench would (no DFU device, no banner); what a bench cannot
   * say, the simulated chip can: the error names the likely cause when the core is in trouble.
   */
  private withLikelyCause(error: unknown): unknown {
    const trouble = this.board.mcu.cm7Trouble;
    if (!(error instanceof Error) || trouble === undefined || error.message.includes('likely cause')) return error;
    error.message = `${error.message}; likely cause: ${trouble.description}`;
    return error;
  }

  /** Opens a DfuSe session on the bootloader the board is in; close it when done. */
  async openDfu(options: Partial<DfuseOpenOptions> = {}): Promise<DfuseClient> {
    const device = this.dfuDevice && await this.bus.isPresent(this.dfuDevice) ? this.dfuDevice : await this.waitForBootloader();
    // The rig's policy, whatever the caller passed: it is the rig that allows option bytes.
    return DfuseClient.open(this.bus, device, { ...options, clock: this.clock, allowOptionBytes: this.config.allowOptionBytes });
  }

  async flash(image: RigFlashImage, options: RigFlashOptions = {}): Promise<RigFlashReport> {
    return this.step(`flash ${image.source}`, () => flashOverDfu(() => this.openDfu(), this.config, image, options, this.flashContents), describeFlash);
  }

  async leave(): Promise<RigLeaveReport> {
    return this.step('leave DFU', () => {
      this.bootMark = this.console.mark();
      return leaveDfu(() => this.openDfu(), this.config);
    });
  }

  waitForApp(timeoutMs = this.config.timeouts.readyMs): Promise<ReadyBanner> {
    if (!this.capabilities.testAppConsole) return this.waitForRunningImage(timeoutMs);
    return this.console.waitForReady(timeoutMs, { after: this.bootMark }).catch((error: unknown) => { throw this.withLikelyCause(error); });
  }

  /**
   * An image of the team's own has no READY line to wait for: the application is up once the core
   * runs it (not the ROM, not a fault handler). Its name and version come from its version block.
   */
  private async waitForRunningImage(timeoutMs: number): Promise<ReadyBanner> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      // Give the core its first millisecond: a broken image faults within it.
      await this.clock.sleep(1);
      const mcu = this.board.mcu;
      if (this.board.runningCode === 'app' && mcu.cm7Trouble === undefined) {
        const table = (this.board.optionBytes.bootCm7Add0() << 16) >>> 0;
        const block = this.board.flash.contains(table, 0x430) ? this.board.flash.read(table, 0x430) : new Uint8Array(0);
        return { ...announcedIdentity(block), t: this.clock.now() };
      }
      if (this.clock.now() >= deadline) {
        throw this.withLikelyCause(new RigTestError('sim-app-not-running', `the application did not start within ${timeoutMs} ms (the board runs ${this.board.runningCode === 'none' ? 'nothing' : `its ${this.board.runningCode}`})`, {
          hint: 'Check that the image is valid code for 0x08000000 and sets the supply the board is wired for.',
        }));
      }
    }
  }

  gpioSnapshot(): Promise<GpioSnapshot> {
    return this.console.gpio();
  }

  async reset(): Promise<void> {
    await this.step('reset (NRST)', async () => {
      this.flashContents.distrust('a reset (NRST)');
      this.bootMark = this.console.mark();
      this.board.pressReset();
    });
  }

  async powerCycle(): Promise<void> {
    await this.step('power cycle', async () => {
      this.flashContents.distrust('a power cycle');
      this.bootMark = this.console.mark();
      this.board.powerOff();
      await this.clock.sleep(Math.min(500, this.config.timeouts.powerCycleMs));
      this.board.powerOn();
    });
  }

  /** Over SWD: mass erase, program `image` (default the reference app A) and the CM4 image, reset, wait for READY. */
  async recover(image: RigFlashImage = this.images.appA): Promise<void> {
    requireCapabilities(this, 'probe');
    await this.step(`recover with ${image.source} over SWD`, async () => {
      if (!this.board.isPowered) this.board.powerOn();
      await this.probe.massErase();
      for (const img of [image, this.images.cm4]) {
        for (const s of img.segments) await this.probe.programFlash(s.address, s.data);
      }
      this.bootMark = this.console.mark();
      await this.probe.reset('hardware');
      await this.waitForApp();
    });
  }

  forgetFlashContents(): void {
    this.flashContents.clear();
  }

  /** Per-sector CRC32s of the user flash, read through the debug port. */
  async flashDigest(): Promise<FlashDigest> {
    const { crc32 } = await import('node:zlib');
    const flash = this.board.flash;
    const crcs: number[] = [];
    for (let at = flash.base; at < flash.base + flash.size; at += flash.sectorSize) crcs.push(crc32(flash.read(at, flash.sectorSize)));
    return { base: flash.base, sectorSize: flash.sectorSize, crcs };
  }

  async close(): Promise<void> {
    this.faults.clear();
    await this.console.close();
    await this.usb.close();
    this.board.dispose();
  }

  private async step<T>(action: string, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    const t = this.clock.now();
    try {
      await this.lease?.check?.();
      this.lease?.assertHeld();
      const result = await work();
      this.steps.push({ t, action, durationMs: this.clock.now() - t, outcome: 'ok', ...(describe ? { detail: describe(result) } : {}) });
      return result;
    } catch (error) {
      const detail = error instanceof DfuHilError ? `${error.code}: ${error.message}` : String(error);
      this.steps.push({ t, action, durationMs: this.clock.now() - t, outcome: 'failed', detail });
      throw error;
    }
  }
}
