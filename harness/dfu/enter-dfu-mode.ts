import type { Clock } from '../clock/clock.js';
import { DfuAttribute } from '../usb/descriptors.js';
import { isDisconnect, UsbError } from '../usb/errors.js';
import { DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS, DfuInterfaceProtocol } from '../usb/spec.js';
import { describeDevice, describeFilter, type UsbBus, type UsbDeviceFilter, type UsbDeviceInfo } from '../usb/transport.js';
import type { DfuState, DfuStatusReport } from '../dfu-wire/dfu.js';
import { DfuClient } from './dfu-client.js';
import { DfuDetachError } from './errors.js';

/** ST's ROM bootloader in DFU mode (AN2606). */
export const ST_DFU_MODE_ID = { vendorId: 0x0483, productId: 0xdf11 } as const;

/** Options of {@link enterDfuMode}. */
export interface EnterDfuModeOptions {
  clock: Clock;
  /**
   * The DFU-mode device to wait for. Default: ST's ROM (0483:df11) on the same port path as the
   * run-time device, since the port survives re-enumeration and the VID:PID does not.
   */
  dfuFilter?: UsbDeviceFilter;
  /**
   * Overall deadline for the switch, in ms. Re-enumeration delays vary by host (dfu-util waits
   * 5 s by default, one project needed 2 s of sleep; arduino/dfu-utils-cross PR #6).
   */
  timeoutMs?: number;
  /** wValue of DETACH: how long the device should wait for the reset. Default: its wDetachTimeOut, else 1000. */
  detachTimeoutMs?: number;
  /** Timeout of the DETACH control transfer itself. */
  controlTimeoutMs?: number;
}

/** What the switch did. */
export interface EnterDfuModeReport {
  /** The DFU-mode device, ready for {@link DfuseClient.open}. */
  device: UsbDeviceInfo;
  /** The device was already in DFU mode; nothing was sent. */
  alreadyInDfuMode: boolean;
  /**
   * The run-time interface's state before DETACH, from GETSTATUS: appIDLE, or appDETACH after an
   * earlier DETACH; `unsupported` when GETSTATUS stalls (optional in appIDLE, DFU 1.1 A.2.1);
   * undefined when nothing was asked (already in DFU mode).
   */
  runtimeState?: DfuState | 'unsupported';
  /** How DETACH was answered: devices answer with a STALL, an IO error or by vanishing (NordicSemiconductor/nrf-device-setup-js PR #14). */
  detachReply: 'ok' | UsbError['failure'] | 'not-sent';
  /** Whether the host drove a USB reset (not done when the device says WillDetach). */
  resetSent: boolean;
  elapsedMs: number;
}

/**
 * Switches a device from its application (DFU run-time interface, class 0xFE/1/1) to DFU
 * mode as DFU 1.1 §5.1 and dfu-util's main.c do it: the run-time status (GETSTATUS), DETACH with
 * wDetachTimeOut, a USB reset unless the functional descriptor says bitWillDetach, then waits
 * for the old enumeration to leave and the DFU-mode device (which may have another VID:PID, ST's
 * ROM 0483:df11) to arrive on the same port, all within one deadline.
 */
export async function enterDfuMode(bus: UsbBus, runtime: UsbDeviceInfo, options: EnterDfuModeOptions): Promise<EnterDfuModeReport> {
  const { clock } = options;
  const started = clock.now();
  const timeoutMs = options.timeoutMs ?? 10_000;
  const remaining = (): number => Math.max(0, timeoutMs - (clock.now() - started));
  const filter: UsbDeviceFilter = options.dfuFilter ?? { ...ST_DFU_MODE_ID, portPath: runtime.portPath };

  const transport = await bus.open(runtime);
  let detachReply: EnterDfuModeReport['detachReply'] = 'not-sent';
  let runtimeState: EnterDfuModeReport['runtimeState'];
  let resetSent = false;
  try {
    const description = await transport.describe();
    const dfuInterfaces = description.configuration.interfaces.filter((i) => i.bInterfaceClass === DFU_INTERFACE_CLASS && i.bInterfaceSubClass === DFU_INTERFACE_SUBCLASS);
    if (dfuInterfaces.some((i) => i.bInterfaceProtocol === DfuInterfaceProtocol.DfuMode)) {
      return { device: runtime, alreadyInDfuMode: true, detachReply, resetSent, elapsedMs: clock.now() - started };
    }
    const runtimeInterface = dfuInterfaces.find((i) => i.bInterfaceProtocol === DfuInterfaceProtocol.Runtime);
    if (!runtimeInterface) {
      throw new DfuDetachError(`${describeDevice(runtime)} has no DFU run-time interface (class 0xFE/0x01/0x01)`,
        'The application does not offer DFU_DETACH. Enter the bootloader another way (the console\'s "dfu jump", BOOT0, or the rig\'s entry method).');
    }
    const functional = description.configuration.dfuFunctional;
    const willDetach = functional !== undefined && (functional.bmAttributes & DfuAttribute.WillDetach) !== 0;
    await transport.claimInterface(runtimeInterface.bInterfaceNumber);
    const client = new DfuClient(transport, runtimeInterface.bInterfaceNumber, clock, options.controlTimeoutMs === undefined ? {} : { controlTimeoutMs: options.controlTimeoutMs });
    runtimeState = await runtimeStatus(client);
    try {
      await client.detach(options.detachTimeoutMs ?? functional?.wDetachTimeOut ?? 1000);
      detachReply = 'ok';
    } catch (error) {
      // Devices answer DETACH in many ways; what counts is whether the DFU device turns up.
      if (!(error instanceof UsbError)) throw error;
      detachReply = error.failure;
    }
    if (!willDetach && !isGoneReply(detachReply)) {
      try {
        await transport.reset();
        resetSent = true;
      } catch (error) {
        if (!(error instanceof UsbError) || !(isDisconnect(error) || error.failure === 'io')) throw error;
      }
    }
  } finally {
    await transport.close();
  }

  try {
    await bus.waitForDetach(runtime, remaining());
  } catch (error) {
    throw new DfuDetachError(`${describeDevice(runtime)} was still on the bus ${timeoutMs} ms after DETACH (answered: ${detachReply})`,
      'The application did not act on DFU_DETACH. Check that its run-time DFU interface is implemented, or enter the bootloader another way.', { cause: error });
  }
  let device: UsbDeviceInfo;
  try {
    device = await bus.waitForDevice(filter, remaining());
  } catch (error) {
    throw new DfuDetachError(`no DFU-mode device matching ${describeFilter(filter)} appeared within ${timeoutMs} ms of DETACH`,
      'The device left but did not come back in DFU mode ("lost device after reset"). Check the expected DFU VID:PID, the hub and the host\'s re-enumeration delay; raise timeoutMs if the host is slow.', { cause: error });
  }
  return { device, alreadyInDfuMode: false, ...(runtimeState === undefined ? {} : { runtimeState }), detachReply, resetSent, elapsedMs: clock.now() - started };
}

/** The run-time state, or `unsupported` for a device that stalls GETSTATUS (dfu-util then assumes appIDLE). */
async function runtimeStatus(client: DfuClient): Promise<DfuState | 'unsupported'> {
  let report: DfuStatusReport;
  try {
    report = await client.getStatus(undefined, { stallRetries: 0 });
  } catch (error) {
    if (error instanceof UsbError && error.failure === 'stall') return 'unsupported';
    throw error;
  }
  return report.state;
}

function isGoneReply(reply: EnterDfuModeReport['detachReply']): boolean {
  return reply === 'no-device' || reply === 'not-found';
}
