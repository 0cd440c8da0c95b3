// A NUCLEO-H745ZI-Q on a bench as a rig's backends, each behind a seam so the rig can be tested
// without a board:
//   - USB (the ROM bootloader's DFU device on the user USB connector): a UsbBus, libusb by default;
//   - the test application's console on the ST-LINK virtual COM port (real serialport by
//     default), kept open across target resets and reopened after a power cycle takes the
//     ST-LINK down with the board;
//   - an optional debug probe (st-flash, OpenOCD or STM32_Programmer_CLI), NRST through it, and
//     uhubctl power switching, all through an injected CommandRunner;
//   - BOOT0 as rigs.yaml describes it: an RC circuit, or a jumper with a switched power port;
//   - an exclusive lease on the rig, taken before anything is opened and given back on close.
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { systemClock, type Clock } from '../../clock/clock.js';
import { guardBus } from '../../dfu/guarded-transport.js';
import { createExecaRunner, type CommandRunner } from '../../probe/command-runner.js';
import { createDebugProbe } from '../../probe/probe-tools.js';
import { ProbeLog } from '../../probe/probe.js';
import { PROBE_TOOL_FEATURES } from '../../probe/tool-features.js';
import { ConsoleLog } from '../../serial/console-log.js';
import { openTestAppConsole, type AppConsole } from '../../serial/test-app-console.js';
import { LibusbBus } from '../../usb/libusb-bus.js';
import { TransferTrace } from '../../usb/trace.js';
import type { UsbBus } from '../../usb/transport.js';
import { serialLines, type ConsoleLines } from '../app-ready/console-banner-ready.js';
import { jumperSwitch } from '../backend-presence.js';
import type { PowerBackend, RigBackends } from '../backends.js';
import { BoardRig } from '../board-rig.js';
import { isPlaceholder } from '../bootloader-locator.js';
import type { RigConfig } from '../config/load-rigs.js';
import type { UhubctlPort } from '../config/schema.js';
import { ConsoleKeeper } from '../console-keeper.js';
import { consoleResetLine } from '../dfu-strategy.js';
import { borrowedLease, leaseGated, leaseGatedBus, type LeaseHandle } from '../lease-gate.js';
import { acquireRigLease } from '../lock/rig-lock.js';
import type { ReferenceImages } from '../reference-images.js';
import { type RigContext } from '../rig.js';
import { RigInfrastructureError } from '../rig-errors.js';
import { UsbHubPower } from './usb-hub-power.js';

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
  openConsole?: (options: ConsolePortOptions) => Promise<AppConsole>;
  /** Takes the rig's lease when the caller holds none; default a rig-lock lease (DFU_HIL_LOCK_DIR etc.). */
  acquireLease?: (rig: string) => Promise<LeaseHandle>;
  /** How long the ROM is given without power in a power cycle. */
  powerOffMs?: number;
  /** Opens a serial port other than the console, read only (appReady.banner on a port of its own); default the real port. */
  openSerialStream?: (path: string, baudRate: number) => Duplex & { close(callback?: (error: Error | null) => void): void };
}

/** Opens the real serial port. */
function openConsolePort(options: ConsolePortOptions): Promise<AppConsole> {
  return openTestAppConsole({
    path: options.path, baudRate: options.baudRate, clock: options.clock, log: options.log, commandTimeoutMs: options.commandTimeoutMs,
  });
}

/** Binds a bench's backends for `config`; everything that reaches the board goes through `lease`. */
async function openBenchBackends(config: RigConfig, consolePath: string, lease: LeaseHandle, options: NucleoH745RigOptions, clock: Clock): Promise<RigBackends> {
  const log = new ConsoleLog();
  const openConsole = options.openConsole ?? openConsolePort;
  // Console, USB, probe and hub reach the board only while the lease is held.
  const open = async (): Promise<AppConsole> => leaseGated(await openConsole({ path: consolePath, baudRate: config.console.baud, clock, log, commandTimeoutMs: config.timeouts.consoleMs }), lease);
  // The ST-LINK's virtual COM port goes down with the board when the hub cuts its power.
  const console = new ConsoleKeeper(await open(), open, {
    clock, log, path: consolePath, reopenWithinMs: config.timeouts.enumerationMs, survivesPowerCycle: false,
  });
  // Every transport opened on the rig's bus carries the rig's option-byte policy.
  const bus = leaseGatedBus(guardBus(options.bus ?? new LibusbBus({ clock, trace: new TransferTrace() }), { allowOptionBytes: config.allowOptionBytes }, clock), lease);
  const runner = leaseGated(options.runner ?? createExecaRunner(), lease);
  // Probe and hub commands go to one log, the report's.
  const toolLog = new ProbeLog();
  const hub = (port: UhubctlPort | undefined): PowerBackend | undefined => {
    if (!port) return undefined;
    const hubPower = new UsbHubPower(port, { runner, clock, log: toolLog, timeoutMs: config.timeouts.powerCycleMs + 10_000 });
    // The rig never leaves a hub port off: a cycle ends with the power on.
    return { cycle: () => hubPower.cycle(options.powerOffMs ?? 1_000), ensureOn: async () => undefined };
  };
  const probeTool = config.probe;
  const probe = probeTool ? createDebugProbe(probeTool, { runner, clock, log: toolLog, timeoutMs: config.timeouts.probeMs }) : undefined;
  const features = probeTool ? PROBE_TOOL_FEATURES[probeTool.tool] : undefined;
  const jumperPower = hub(jumperSwitch(config));
  // Ports the application prints on besides the console, each opened once, on first use.
  const otherPorts = new Map<string, { lines: ConsoleLines & { close(): void }; stream: Duplex & { close(callback?: (error: Error | null) => void): void } }>();
  const openStream = options.openSerialStream ?? ((path: string, baudRate: number) => new SerialPort({ path, baudRate }));
  const otherPortLines = (path: string, baudRate: number): ConsoleLines => {
    let open = otherPorts.get(path);
    if (!open) {
      const stream = openStream(path, baudRate);
      // A port that fails to open (or vanishes) shows as a banner that never comes: the wait names it.
      stream.on('error', () => undefined);
      open = { stream, lines: serialLines(stream, clock) };
      otherPorts.set(path, open);
    }
    return open.lines;
  };
  return {
    clock,
    usb: { bus, close: async () => undefined },
    console,
    reset: probe ? { via: 'NRST through the probe', pulse: () => probe.reset('hardware') } : consoleResetLine(console),
    power: hub(config.power?.uhubctl),
    probe: probe && probeTool && features ? { probe, tool: probeTool.tool, memoryWrite: features.memoryWrite, systemReset: features.systemReset } : undefined,
    boot0: { rc: config.entry.rc !== undefined, jumper: jumperPower ? { power: jumperPower } : undefined },
    toolLog,
    serialLines: otherPortLines,
    executesFirmware: true,
    appDfuRuntime: config.usb.app !== undefined,
    close: async () => {
      for (const { lines, stream } of otherPorts.values()) {
        lines.close();
        await new Promise<void>((resolve) => stream.close(() => resolve()));
      }
    },
  };
}

/**
 * Builds the hardware rig: takes the rig's lease first (unless the caller holds it), then opens
 * the console and the bus. If anything fails after the lease was taken, it is given back.
 */
export async function createNucleoH745Rig(config: RigConfig, context: RigContext, options: NucleoH745RigOptions): Promise<BoardRig> {
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
  // The one place a bench rig's lease is taken: a lease the caller holds is used, never released here.
  const acquire = options.acquireLease ?? ((rig: string) => acquireRigLease({ rig, env: context.env, warn: context.warn, clock }));
  const lease = context.lease ? borrowedLease(context.lease) : await acquire(config.name);
  try {
    const backends = await openBenchBackends(config, consolePath, lease, options, clock);
    return new BoardRig(config, options.images, backends, { lease, warn: context.warn });
  } catch (error) {
    await lease.release().catch(() => undefined);
    throw error;
  }
}
