// The hardware rig: a NUCLEO-H745ZI-Q on a bench. Its parts, each behind a seam so the rig can
// be tested without a board:
//   - USB (the ROM bootloader's DFU device on the user USB connector): a UsbBus, libusb by default;
//     the device is picked by VID:PID *and* serial and/or port path, and more than one match is
//     an error naming them all (field notes: identical boards get mixed up);
//   - the test application's console on the ST-LINK virtual COM port (real serialport by
//     default), kept open across target resets and reopened when the port vanishes;
//   - an optional debug probe (st-flash, OpenOCD or STM32_Programmer_CLI) and uhubctl power
//     switching, both through an injected CommandRunner;
//   - an exclusive lease on the rig, taken before anything is opened and given back on close.
import os from 'node:os';
import { systemClock, type Clock } from '../../clock/clock.js';
import { DfuseClient, type DfuseOpenOptions } from '../../dfu/dfuse-client.js';
import { guardBus } from '../../dfu/guarded-transport.js';
import { leaseGated, leaseGatedBus, type LeaseHandle } from '../lease-gate.js';
import { DfuHilError } from '../../errors.js';
import { createExecaRunner, type CommandRunner } from '../../probe/command-runner.js';
import { createDebugProbe, PROBE_TOOL_FEATURES } from '../../probe/probe-tools.js';
import { ProbeLog, type DebugProbe, type ProbeRange } from '../../probe/probe.js';
import { ConsoleLog } from '../../serial/console-log.js';
import { GPIO_PORTS, GPIO_REGISTERS, type GpioRegisterName, type GpioRegisters, type GpioSnapshot } from '../../serial/console-protocol.js';
import { ConsoleError, openTestAppConsole, type ReadyBanner, type TestAppConsole } from '../../serial/test-app-console.js';
import { LibusbBus } from '../../usb/libusb-bus.js';
import { TransferTrace } from '../../usb/trace.js';
import { describeDevice, describeFilter, type UsbBus, type UsbDeviceFilter, type UsbDeviceInfo } from '../../usb/transport.js';
import type { RigConfig } from '../config/load-rigs.js';
import type { EntryMethod, UhubctlPort } from '../config/schema.js';
import { acquireRigLease, RigLockBusyError } from '../lock/rig-lock.js';
import { enterWithProbeMagic } from '../probe-entry.js';
import type { ReferenceImages } from '../reference-images.js';
import {
  capabilitiesFromConfig, requireCapabilities, RigCapabilityMissing, RigInfrastructureError, RigTestError,
  type DfuEntryReport, type EnterDfuOptions, type Rig, type RigCapabilities, type RigContext, type RigFlashImage,
  type RigFlashOptions, type RigFlashReport, type RigLeaveReport, type RigStep, type RigTrace,
} from '../rig.js';
import { boardFlashCache, describeFlash, flashOverDfu, leaveDfu, probeWatchedBy } from '../dfu-operations.js';
import type { FlashContentCache } from '../../dfu/flash-content-cache.js';
import { ConsoleKeeper } from './console-keeper.js';
import { UsbHubPower } from './usb-hub-power.js';

/** GPIOA's base; ports B..K follow every 0x400 (RM0399, facts §7). */
export const GPIO_BASE = 0x58020000;
/** Distance between GPIO ports. */
export const GPIO_STRIDE = 0x400;
/** Register offsets inside a port, as the console reports them. */
export const GPIO_OFFSETS: Readonly<Record<GpioRegisterName, number>> = {
  MODER: 0x00, OTYPER: 0x04, OSPEEDR: 0x08, PUPDR: 0x0c, ODR: 0x14, AFRL: 0x20, AFRH: 0x24,
};
/** Bytes read per port: MODER up to AFRH. */
const GPIO_SPAN = 0x28;

/** A held rig lease, as the rig uses it. */
export type RigLeaseHandle = LeaseHandle;

/** Options of {@link openConsolePort}: where the rig's console is. */
export interface ConsolePortOptions {
  path: string;
  baudRate: number;
  clock: Clock;
  log: ConsoleLog;
  commandTimeoutMs: number;
}

/** Everything the hardware rig needs besides its description; tests replace the defaults. */
export interface NucleoH745RigOptions {
  images: ReferenceImages;
  clock?: Clock;
  /** The USB bus the DFU device appears on; default libusb. */
  bus?: UsbBus & { readonly trace: TransferTrace };
  /** Runs st-flash / openocd / STM32_Programmer_CLI / uhubctl; default execa. */
  runner?: CommandRunner;
  /** Opens the console port; default the real serial port. */
  openConsole?: (options: ConsolePortOptions) => Promise<TestAppConsole>;
  /** Takes the rig's lease; default a rig-lock lease (DFU_HIL_LOCK_DIR etc.). */
  acquireLease?: (rig: string) => Promise<RigLeaseHandle>;
  /** Interval of bus scans while waiting for the bootloader. */
  pollIntervalMs?: number;
  /** How long the ROM is given without power in a power cycle. */
  powerOffMs?: number;
}

/** Values in rigs.yaml that are still the example's placeholders. */
export function isPlaceholder(value: string | undefined): boolean {
  return value !== undefined && /REPLACE|CHANGE-?ME|X{4,}/i.test(value);
}

/** More than one device matches the rig's bootloader filter: refuse to guess. */
export class AmbiguousDeviceError extends RigInfrastructureError {
  constructor(rig: string, filter: UsbDeviceFilter, devices: readonly UsbDeviceInfo[]) {
    super('rig-ambiguous-device', `rig "${rig}": ${devices.length} devices match ${describeFilter(filter)}: ${devices.map(describeDevice).join(', ')}`, {
      hint: 'Several boards are in DFU mode and the rig cannot tell which is its own: set usb.serial and usb.portPath in rigs.yaml (`dfu-hil devices` lists them), or unplug the others.',
    });
  }
}

/** The hardware rig for a NUCLEO-H745ZI-Q; build it with {@link createNucleoH745Rig}. */
export class NucleoH745Rig implements Rig {
  readonly kind = 'nucleo-h745' as const;
  readonly capabilities: RigCapabilities;
  readonly probe: DebugProbe | undefined;
  private readonly steps: RigStep[] = [];
  private readonly probeLog: ProbeLog;
  private readonly power: UsbHubPower | undefined;
  private readonly jumperPower: UsbHubPower | undefined;
  private bootMark = 0;
  private dfuDevice: UsbDeviceInfo | undefined;
  private closed = false;
  /** What the board's flash holds, as far as this rig saw (differential flashing). */
  private readonly flashContents: FlashContentCache;

  /** Use {@link createNucleoH745Rig}. */
  constructor(
    readonly config: RigConfig,
    context: RigContext,
    readonly images: ReferenceImages,
    private readonly clock: Clock,
    private readonly bus: UsbBus & { readonly trace: TransferTrace },
    private readonly keeper: ConsoleKeeper,
    private readonly consoleLog: ConsoleLog,
    private readonly lease: RigLeaseHandle,
    runner: CommandRunner,
    private readonly options: { pollIntervalMs: number; powerOffMs: number },
  ) {
    this.probeLog = new ProbeLog();
    this.flashContents = boardFlashCache(bus.trace);
    this.probe = config.probe
      ? probeWatchedBy(createDebugProbe(config.probe, { runner, clock, log: this.probeLog, timeoutMs: config.timeouts.probeMs }), this.flashContents)
      : undefined;
    const hub = (port: UhubctlPort | undefined): UsbHubPower | undefined =>
      port ? new UsbHubPower(port, { runner, clock, log: this.probeLog, timeoutMs: config.timeouts.powerCycleMs + 10_000 }) : undefined;
    this.power = hub(config.power?.uhubctl);
    this.jumperPower = hub(config.entry['boot0-jumper']?.uhubctl ?? config.power?.uhubctl);

    const capabilities = capabilitiesFromConfig(config);
    const features = config.probe ? PROBE_TOOL_FEATURES[config.probe.tool] : undefined;
    // The probe entry needs a side-effect-free RAM write and a software reset; st-flash has neither.
    if (features && (!features.memoryWrite || !features.systemReset) && capabilities.entryMethods.includes('probe')) {
      context.warn(`rig "${config.name}": the probe entry method needs a memory write and a software reset, which ${config.probe!.tool} cannot do; use probe.tool: openocd or stm32-programmer-cli to offer it`);
      this.capabilities = { ...capabilities, entryMethods: capabilities.entryMethods.filter((m) => m !== 'probe') };
    } else {
      this.capabilities = capabilities;
    }
  }

  get name(): string {
    return this.config.name;
  }

  /** The console in use now; a new object after the port vanished and came back. */
  get console(): TestAppConsole {
    return this.keeper.current;
  }

  get trace(): RigTrace {
    return { usb: this.bus.trace, console: this.consoleLog, probe: this.probeLog, steps: this.steps };
  }

  /** The bus filter that picks this rig's board in DFU mode (placeholders left out). */
  bootloaderFilter(): UsbDeviceFilter {
    const { vendorId, productId } = this.config.bootloader.vidPid;
    const { serial, portPath } = this.config.usb;
    return {
      vendorId, productId,
      ...(serial && !isPlaceholder(serial) ? { serialNumber: serial } : {}),
      ...(portPath && !isPlaceholder(portPath) ? { portPath } : {}),
    };
  }

  async bootloaderPresent(): Promise<boolean> {
    return (await this.matching()).length > 0;
  }

  async enterDfu(method: EntryMethod, options: EnterDfuOptions = {}): Promise<DfuEntryReport> {
    requireCapabilities(this, method);
    // requireCapabilities reads the need 'probe' as "has a probe"; the entry method needs more.
    if (!this.capabilities.entryMethods.includes(method)) {
      throw new RigCapabilityMissing(this.name, method, `rig "${this.name}" does not offer the "${method}" entry method (it offers: ${this.capabilities.entryMethods.join(', ') || 'none'})`);
    }
    return this.step(`enter DFU by ${method}`, async () => {
      const started = this.clock.now();
      switch (method) {
        case 'console-jump': await this.keeper.use((c) => c.dfuJump()); break;
        case 'console-direct': await this.keeper.use((c) => c.dfuDirect()); break;
        case 'rc': await this.keeper.use((c) => c.dfuRc(options.rcDelayMs)); break;
        case 'probe': await enterWithProbeMagic(this.requireProbe('the probe entry method')); break;
        case 'boot0-jumper': await this.cyclePower(this.jumperPower!); break;
      }
      const device = await this.waitForBootloader(options.timeoutMs);
      return {
        method, vidPid: this.config.bootloader.vidPid, serialNumber: device.serialNumber,
        portPath: device.portPath, enumeratedAfterMs: this.clock.now() - started,
      };
    });
  }

  /** Waits for exactly one device matching {@link bootloaderFilter}; several is an error. */
  async waitForBootloader(timeoutMs = this.config.timeouts.enumerationMs): Promise<UsbDeviceInfo> {
    const deadline = this.clock.now() + timeoutMs;
    for (;;) {
      const found = await this.matching();
      if (found.length === 1) {
        this.dfuDevice = found[0]!;
        return this.dfuDevice;
      }
      if (this.clock.now() >= deadline) {
        const { vendorId, productId } = this.config.bootloader.vidPid;
        const others = (await this.bus.list({ vendorId, productId })).filter((d) => !found.includes(d));
        throw new RigTestError('dfu-not-enumerated', `rig "${this.name}": no bootloader matching ${describeFilter(this.bootloaderFilter())} within ${timeoutMs} ms${others.length > 0 ? `; other DFU devices present: ${others.map(describeDevice).join(', ')}` : ''}`, {
          hint: others.length > 0
            ? 'Another board is in DFU mode, or usb.serial/usb.portPath in rigs.yaml do not describe this board: compare with `dfu-hil devices`.'
            : 'The board did not enumerate as the ROM bootloader: check the user USB cable (CN13), the console log for the entry command\'s answer, and the entry method\'s wiring.',
        });
      }
      await this.clock.sleep(Math.min(this.options.pollIntervalMs, deadline - this.clock.now()));
    }
  }

  /** Opens a DfuSe session on the board's bootloader; close it when done. */
  async openDfu(options: Partial<DfuseOpenOptions> = {}): Promise<DfuseClient> {
    const known = this.dfuDevice;
    const present = known ? (await this.matching()).find((d) => d.deviceAddress === known.deviceAddress && d.portPath === known.portPath) : undefined;
    const device = present ?? await this.waitForBootloader();
    // The rig's policy, whatever the caller passed: it is the rig that allows option bytes.
    return DfuseClient.open(this.bus, device, { ...options, clock: this.clock, allowOptionBytes: this.config.allowOptionBytes });
  }

  async flash(image: RigFlashImage, options: RigFlashOptions = {}): Promise<RigFlashReport> {
    return this.step(`flash ${image.source}`, () => flashOverDfu(() => this.openDfu(), this.config, image, options, this.flashContents), describeFlash);
  }

  async leave(): Promise<RigLeaveReport> {
    return this.step('leave DFU', () => {
      this.bootMark = this.consoleLog.mark();
      return leaveDfu(() => this.openDfu(), this.config);
    });
  }

  /**
   * Resolves with the READY banner of the next boot. If the port vanished meanwhile (a power
   * cycle), the banner may have gone out while nobody listened: then `version` proves the
   * application is up, and its answer stands in for the banner.
   */
  async waitForApp(timeoutMs = this.config.timeouts.readyMs): Promise<ReadyBanner> {
    const deadline = this.clock.now() + timeoutMs;
    const after = this.bootMark;
    for (;;) {
      try {
        return await this.keeper.current.waitForReady(Math.max(1, deadline - this.clock.now()), { after });
      } catch (error) {
        const remaining = deadline - this.clock.now();
        if (error instanceof ConsoleError && error.failure === 'port-closed' && remaining > 0) {
          await this.keeper.reopen(remaining);
          continue;
        }
        if (error instanceof ConsoleError && error.failure === 'timeout' && this.keeper.reopenedSince(after)) {
          const { name, version } = await this.keeper.current.version();
          return { name, version, t: this.clock.now() };
        }
        throw error;
      }
    }
  }

  gpioSnapshot(): Promise<GpioSnapshot> {
    return this.keeper.use((c) => c.gpio());
  }

  /** GPIO registers of ports A..K read through the debug probe, independently of the firmware. */
  async probeGpioSnapshot(): Promise<GpioSnapshot> {
    const probe = this.requireProbe('reading GPIO through the probe');
    return this.step('GPIO snapshot through the probe', async () => {
      const ranges: ProbeRange[] = GPIO_PORTS.map((_, i) => ({ address: GPIO_BASE + i * GPIO_STRIDE, length: GPIO_SPAN }));
      const blocks = probe.readRanges ? await probe.readRanges(ranges) : await sequential(ranges, (r) => probe.readMemory(r.address, r.length));
      const snapshot: GpioSnapshot = {};
      GPIO_PORTS.forEach((port, i) => {
        const block = blocks[i]!;
        const view = new DataView(block.buffer, block.byteOffset, block.byteLength);
        const registers = {} as GpioRegisters;
        for (const name of GPIO_REGISTERS) registers[name] = view.getUint32(GPIO_OFFSETS[name], true);
        snapshot[port] = registers;
      });
      return snapshot;
    });
  }

  async reset(): Promise<void> {
    await this.step(this.probe ? 'reset (NRST through the probe)' : 'reset (console)', async () => {
      this.flashContents.distrust('a reset');
      this.bootMark = this.consoleLog.mark();
      if (this.probe) {
        await this.probe.reset('hardware');
        return;
      }
      await this.keeper.use(async (c) => {
        try {
          await c.command('reset');
        } catch (error) {
          // The application may reboot before its OK leaves the UART: that is the reset we asked for.
          if (!(error instanceof ConsoleError && error.failure === 'target-reset')) throw error;
        }
      });
    });
  }

  async powerCycle(): Promise<void> {
    if (!this.power) {
      throw new RigCapabilityMissing(this.name, 'power-control', `rig "${this.name}" cannot switch the board's power (add power: { uhubctl: { location, port } })`);
    }
    await this.step('power cycle', () => {
      this.flashContents.distrust('a power cycle');
      return this.cyclePower(this.power!);
    });
  }

  /**
   * Brings the board back to `image` (default reference app A) plus the CM4 image: over SWD when
   * there is a probe (mass erase, program, NRST), else through the BOOT0 jumper and DFU.
   */
  async recover(image: RigFlashImage = this.images.appA): Promise<void> {
    const probe = this.probe;
    if (probe) {
      await this.step(`recover with ${image.source} over SWD`, async () => {
        await probe.massErase();
        for (const img of [image, this.images.cm4]) {
          for (const s of img.segments) await probe.programFlash(s.address, s.data);
        }
        this.bootMark = this.consoleLog.mark();
        await probe.reset('hardware');
        await this.waitForApp();
      });
      return;
    }
    if (!this.capabilities.entryMethods.includes('boot0-jumper')) {
      throw new RigCapabilityMissing(this.name, 'probe', `rig "${this.name}" has neither a debug probe nor a BOOT0 jumper with power switching to recover a board with`);
    }
    await this.step(`recover with ${image.source} through BOOT0 and DFU`, async () => {
      await this.enterDfu('boot0-jumper');
      await this.flash(image, { erase: 'mass' });
      await this.flash(this.images.cm4, { erase: 'touched' });
      await this.leave();
      await this.waitForApp();
    });
  }

  forgetFlashContents(): void {
    this.flashContents.clear();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.keeper.close().catch(() => undefined);
    } finally {
      await this.lease.release();
    }
  }

  private async matching(): Promise<UsbDeviceInfo[]> {
    const filter = this.bootloaderFilter();
    const found = await this.bus.list(filter);
    if (found.length > 1) throw new AmbiguousDeviceError(this.name, filter, found);
    return found;
  }

  private requireProbe(what: string): DebugProbe {
    if (!this.probe) throw new RigCapabilityMissing(this.name, 'probe', `rig "${this.name}" has no debug probe for ${what} (add a probe: section to rigs.yaml)`);
    return this.probe;
  }

  /** Power off and on; the ST-LINK (and its COM port) goes down too, so the console is reopened. */
  private async cyclePower(hub: UsbHubPower): Promise<void> {
    this.bootMark = this.consoleLog.mark();
    await hub.cycle(this.options.powerOffMs);
    await this.keeper.reopen(this.config.timeouts.powerCycleMs + this.config.timeouts.enumerationMs);
  }

  private async step<T>(action: string, work: () => Promise<T>, describe?: (result: T) => string): Promise<T> {
    const t = this.clock.now();
    try {
      if (this.closed) throw new RigInfrastructureError('rig-closed', `rig "${this.name}" is closed`, { hint: 'Create the rig again.' });
      await this.lease.check?.();
      this.lease.assertHeld();
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

async function sequential<T, R>(items: readonly T[], work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  for (const item of items) results.push(await work(item));
  return results;
}

/** Opens the real serial port. */
function openConsolePort(options: ConsolePortOptions): Promise<TestAppConsole> {
  return openTestAppConsole({
    path: options.path, baudRate: options.baudRate, clock: options.clock, log: options.log, commandTimeoutMs: options.commandTimeoutMs,
  });
}

/**
 * Takes the rig's lease, re-entrantly: when this very process already holds it (the CLI's
 * withRig leases a rig before calling the factory), the caller's lease stands and this one
 * neither waits for nor releases it.
 */
export async function acquireOwnLease(rig: string, context: RigContext, clock: Clock, dir?: string): Promise<RigLeaseHandle> {
  try {
    return await acquireRigLease({ rig, env: context.env, warn: context.warn, clock, ...(dir ? { dir } : {}) });
  } catch (error) {
    if (error instanceof RigLockBusyError && error.holder?.pid === process.pid && error.holder.host === os.hostname()) {
      return { assertHeld: () => undefined, release: async () => undefined };
    }
    throw error;
  }
}

/**
 * Builds the hardware rig: takes the rig's lease first, then opens the console and the bus. If
 * anything fails after the lease, the lease is given back.
 */
export async function createNucleoH745Rig(config: RigConfig, context: RigContext, options: NucleoH745RigOptions): Promise<NucleoH745Rig> {
  const clock = options.clock ?? systemClock;
  for (const [key, value] of [['usb.serial', config.usb.serial], ['usb.portPath', config.usb.portPath]] as const) {
    if (isPlaceholder(value)) context.warn(`rig "${config.name}": ${key} is still the placeholder "${value}"; it is ignored when picking the board`);
  }
  if (isPlaceholder(config.usb.serial) && (config.usb.portPath === undefined || isPlaceholder(config.usb.portPath))) {
    throw new RigInfrastructureError('rig-config', `rig "${config.name}" identifies its board by nothing but placeholders (usb.serial "${config.usb.serial}")`, {
      hint: 'Put the DFU device\'s serial (`dfu-hil devices`, or `lsusb -v -d 0483:df11` with the board in DFU mode) or its USB port path in rigs.yaml.',
    });
  }
  const consolePath = config.console.path;
  if (consolePath === undefined) {
    throw new RigInfrastructureError('rig-config', `rig "${config.name}" has no console.path`, { hint: 'Set console.path to the ST-LINK\'s /dev/serial/by-id/… name (`ls -l /dev/serial/by-id/`).' });
  }

  // A lease the caller holds is used, never released here; otherwise the rig takes its own.
  const given = context.lease;
  const acquire = options.acquireLease ?? (given
    ? async () => ({ assertHeld: () => given.assertHeld(), check: () => given.check?.() ?? Promise.resolve(), release: async () => undefined })
    : (rig: string) => acquireOwnLease(rig, context, clock));
  const lease = await acquire(config.name);
  try {
    const log = new ConsoleLog();
    const openConsole = options.openConsole ?? openConsolePort;
    // Console, USB and probe reach the board only while the lease is held.
    const open = async (): Promise<TestAppConsole> => leaseGated(await openConsole({ path: consolePath, baudRate: config.console.baud, clock, log, commandTimeoutMs: config.timeouts.consoleMs }), lease);
    const first = await open();
    const keeper = new ConsoleKeeper(first, open, { clock, log, path: consolePath, reopenWithinMs: config.timeouts.enumerationMs });
    // Every transport opened on the rig's bus carries the rig's option-byte policy.
    const bus = leaseGatedBus(guardBus(options.bus ?? new LibusbBus({ clock, trace: new TransferTrace() }), { allowOptionBytes: config.allowOptionBytes }, clock), lease);
    return new NucleoH745Rig(config, context, options.images, clock, bus, keeper, log, lease, leaseGated(options.runner ?? createExecaRunner(), lease), {
      pollIntervalMs: options.pollIntervalMs ?? 100,
      powerOffMs: options.powerOffMs ?? 1_000,
    });
  } catch (error) {
    await lease.release().catch(() => undefined);
    throw error;
  }
}
