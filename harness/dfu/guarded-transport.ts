// The option-byte guard where every DNLOAD passes: a UsbTransport that reads each DFU class
// DNLOAD before it leaves the host and refuses what the session's policy does not allow. The
// DfuSe client, the raw DFU client beneath it and any caller holding the transport all send
// through it, so none of them can put RDP level 2 on the wire.
//
// What a DNLOAD does depends on state the device keeps: the selected alternate setting and the
// DfuSe address pointer (AN3156 §4.1: data block N lands at (N − 2) × wTransferSize + pointer).
// The guard follows both per device, shared by every guarded transport to that device, and
// treats anything it cannot know (a pointer never set, an alternate setting never selected, a
// Set Address Pointer whose outcome it has not seen) as the worst case.
import { DFUSE_BCD_DFU_VERSION } from '../dfu-wire/dfuse.js';
import type { Clock } from '../clock/clock.js';
import { DfuHilError, hex32 } from '../errors.js';
import type { UsbDescription } from '../usb/descriptors.js';
import { RequestKind, StandardRequest, type SetupPacket } from '../usb/spec.js';
import type { TransferTrace } from '../usb/trace.js';
import type { UsbBus, UsbDeviceInfo, UsbTransport } from '../usb/transport.js';
import { OptionBytesFormatError, OptionBytesRefusedError, RdpLevel2RefusedError } from './errors.js';
import { MemoryLayout } from './layout.js';
import { H7_FLASH_REGISTERS, H7_RDP_BYTE_ADDRESSES, RDP_LEVEL_2 } from './option-bytes-guard.js';
import { decodeDfuseCommand, decodeStatus, DfuRequest, DfuState, DfuStatus, DFUSE_FIRST_DATA_BLOCK } from './protocol.js';

/** What a session may do to the option bytes. RDP level 2 is refused whatever it says. */
export interface OptionBytesPolicy {
  /** Option-byte writes, Read Unprotect and erasing the option area; false unless a rig allows them. */
  allowOptionBytes: boolean;
}

/** The default policy: nothing that changes option bytes. */
export const REFUSE_OPTION_BYTES: Readonly<OptionBytesPolicy> = Object.freeze({ allowOptionBytes: false });

/** A request the guard will not send because it cannot tell where its data would land. */
export class DfuGuardError extends DfuHilError {
  constructor(what: string, hint: string) {
    super('dfu-guard-refused', `refusing to ${what}`, { hint, failureClass: 'usage' });
  }
}

/** Where one interface of a device stands, as far as the guard has seen. */
interface InterfaceState {
  /** The selected alternate setting; undefined when no SET_INTERFACE was seen. */
  alt: number | undefined;
  /** The confirmed DfuSe address pointer; undefined when unknown. */
  pointer: number | undefined;
  /** A Set Address Pointer sent but not yet confirmed by GETSTATUS. */
  pendingPointer: number | undefined;
  /** True once a pointer command's outcome is unknown (the device may hold either value). */
  pointerUncertain: boolean;
}

/** Per-device state, shared by every guarded transport to that device on one bus. */
interface DeviceState {
  interfaces: Map<number, InterfaceState>;
}

// Keyed by the bus's transfer trace (one per bus) and the device's enumeration, so two
// transports to one device see each other's SET_INTERFACE and Set Address Pointer, and two
// simulated boards in one process never share state.
const devices = new WeakMap<TransferTrace, Map<string, DeviceState>>();

function deviceState(trace: TransferTrace, info: UsbDeviceInfo): DeviceState {
  let onBus = devices.get(trace);
  if (!onBus) {
    onBus = new Map();
    devices.set(trace, onBus);
  }
  const key = `${info.busNumber}-${info.portPath}#${info.deviceAddress}`;
  let state = onBus.get(key);
  if (!state) {
    state = { interfaces: new Map() };
    onBus.set(key, state);
  }
  return state;
}

function interfaceState(device: DeviceState, interfaceNumber: number): InterfaceState {
  let state = device.interfaces.get(interfaceNumber);
  if (!state) {
    state = { alt: undefined, pointer: undefined, pendingPointer: undefined, pointerUncertain: false };
    device.interfaces.set(interfaceNumber, state);
  }
  return state;
}

/** True when [start, start+length) reaches the STM32H7 FLASH register block (the option bytes live there). */
function reachesFlashRegisters(start: number, length: number): boolean {
  return start < H7_FLASH_REGISTERS.end && start + length > H7_FLASH_REGISTERS.start;
}

// Layout strings parsed once: the guard reads one for every DNLOAD, and a device has a handful.
const parsedLayouts = new Map<string, MemoryLayout | undefined>();

/** The layout an alt setting describes, or undefined when it has none. */
function altLayout(description: UsbDescription, interfaceNumber: number, alt: number): MemoryLayout | undefined {
  const setting = description.configuration.interfaces.find((i) => i.bInterfaceNumber === interfaceNumber && i.bAlternateSetting === alt);
  if (setting?.name === undefined) return undefined;
  if (!parsedLayouts.has(setting.name)) {
    let layout: MemoryLayout | undefined;
    try {
      layout = MemoryLayout.parse(setting.name);
    } catch {
      layout = undefined;
    }
    if (parsedLayouts.size > 256) parsedLayouts.clear();
    parsedLayouts.set(setting.name, layout);
  }
  return parsedLayouts.get(setting.name);
}

/** True when an alt setting is (or may be) the option-byte memory: by its name, or by its addresses. */
function isOptionBytesLayout(layout: MemoryLayout | undefined): boolean {
  if (!layout) return true;
  return /option\s*bytes/i.test(layout.name) || reachesFlashRegisters(layout.start, layout.end - layout.start);
}

const isClassOut = (s: SetupPacket): boolean => (s.bmRequestType & 0x80) === 0 && (s.bmRequestType & 0x60) === RequestKind.Class;
const isStandardOut = (s: SetupPacket): boolean => (s.bmRequestType & 0x80) === 0 && (s.bmRequestType & 0x60) === RequestKind.Standard;

/**
 * A transport that refuses DfuSe requests that would change option bytes beyond `policy`, and
 * RDP level 2 always. Build it with {@link guardTransport}.
 */
export class OptionBytesGuardTransport implements UsbTransport {
  // A true private field: the unguarded transport must not be reachable from a guarded one,
  // not even from JavaScript that ignores TypeScript's `private`.
  readonly #inner: UsbTransport;
  private description: Promise<UsbDescription> | undefined;
  private readonly device: DeviceState;

  constructor(inner: UsbTransport, readonly policy: Readonly<OptionBytesPolicy>, private readonly clock?: Clock) {
    this.#inner = inner;
    this.device = deviceState(inner.trace, inner.info);
  }

  get info(): UsbDeviceInfo {
    return this.#inner.info;
  }

  get trace(): TransferTrace {
    return this.#inner.trace;
  }

  describe(): Promise<UsbDescription> {
    this.description ??= this.#inner.describe();
    return this.description;
  }

  async controlIn(setup: SetupPacket, timeoutMs: number): Promise<Uint8Array> {
    const data = await this.#inner.controlIn(setup, timeoutMs);
    if ((setup.bmRequestType & 0x60) === RequestKind.Class && setup.bRequest === DfuRequest.GetStatus) this.observeStatus(setup.wIndex & 0xff, data);
    return data;
  }

  async controlOut(setup: SetupPacket, data: Uint8Array, timeoutMs: number): Promise<void> {
    if (isClassOut(setup) && setup.bRequest === DfuRequest.Dnload) {
      await this.checkDnload(setup, data);
    } else if (isStandardOut(setup) && setup.bRequest === StandardRequest.SetInterface) {
      this.forgetPointer(setup.wIndex & 0xff, setup.wValue);
    } else if (isStandardOut(setup) && setup.bRequest === StandardRequest.SetConfiguration) {
      this.device.interfaces.clear();
    } else if (isClassOut(setup) && (setup.bRequest === DfuRequest.Abort || setup.bRequest === DfuRequest.ClrStatus)) {
      this.settlePending(setup.wIndex & 0xff, 'unknown');
    }
    try {
      await this.#inner.controlOut(setup, data, timeoutMs);
    } catch (error) {
      // Whether the device acted on it is unknown: keep the worst case.
      if (isStandardOut(setup) && setup.bRequest === StandardRequest.SetInterface) interfaceState(this.device, setup.wIndex & 0xff).alt = undefined;
      throw error;
    }
  }

  claimInterface(interfaceNumber: number): Promise<void> {
    return this.#inner.claimInterface(interfaceNumber);
  }

  async selectAltSetting(interfaceNumber: number, alternateSetting: number): Promise<void> {
    const state = interfaceState(this.device, interfaceNumber);
    state.alt = undefined;
    await this.#inner.selectAltSetting(interfaceNumber, alternateSetting);
    this.forgetPointer(interfaceNumber, alternateSetting);
  }

  async reset(): Promise<void> {
    this.device.interfaces.clear();
    await this.#inner.reset();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  /** A new alt setting: which memory the pointer refers to is no longer known. */
  private forgetPointer(interfaceNumber: number, alt: number): void {
    const state = interfaceState(this.device, interfaceNumber);
    state.alt = alt;
    state.pointer = undefined;
    state.pendingPointer = undefined;
    state.pointerUncertain = false;
  }

  /**
   * A Set Address Pointer has taken effect once GETSTATUS reports dfuDNLOAD-IDLE with OK. After
   * an error, or a request that cuts the command short, the device may hold the old pointer or
   * the new one: the guard then knows neither.
   */
  private observeStatus(interfaceNumber: number, data: Uint8Array): void {
    const state = this.device.interfaces.get(interfaceNumber);
    const report = decodeStatus(data);
    if (!state || state.pendingPointer === undefined || !report) return;
    if (report.status !== DfuStatus.Ok || report.state === DfuState.DfuError) this.settlePending(interfaceNumber, 'unknown');
    else if (report.state === DfuState.DfuDnloadIdle || report.state === DfuState.DfuIdle) this.settlePending(interfaceNumber, 'accepted');
  }

  private settlePending(interfaceNumber: number, outcome: 'accepted' | 'unknown'): void {
    const state = this.device.interfaces.get(interfaceNumber);
    if (!state || state.pendingPointer === undefined) return;
    if (outcome === 'accepted') {
      state.pointer = state.pendingPointer;
      state.pointerUncertain = false;
    } else {
      state.pointerUncertain = true;
    }
    state.pendingPointer = undefined;
  }

  private async checkDnload(setup: SetupPacket, data: Uint8Array): Promise<void> {
    const description = await this.describe();
    const functional = description.configuration.dfuFunctional;
    const interfaceNumber = setup.wIndex & 0xff;
    const dfuse = functional?.bcdDFUVersion === DFUSE_BCD_DFU_VERSION
      || description.configuration.interfaces.some((i) => i.bInterfaceNumber === interfaceNumber && i.name?.startsWith('@'));
    // Plain DFU 1.1 has no address pointer and no option bytes to protect.
    if (!dfuse || data.length === 0) return;
    const state = interfaceState(this.device, interfaceNumber);
    if (state.pendingPointer !== undefined) {
      // A request before the outcome of the last pointer command: it may hold either value.
      state.pointerUncertain = true;
      state.pendingPointer = undefined;
    }
    const layout = state.alt === undefined ? undefined : altLayout(description, interfaceNumber, state.alt);
    const optionAlt = state.alt === undefined
      ? description.configuration.interfaces.some((i) => i.bInterfaceNumber === interfaceNumber && isOptionBytesLayout(altLayout(description, interfaceNumber, i.bAlternateSetting)))
      : isOptionBytesLayout(layout);
    try {
      if (setup.wValue === 0) this.checkCommand(data, optionAlt, state);
      else this.checkData(setup, data, optionAlt, layout, state, functional?.wTransferSize);
    } catch (error) {
      this.trace.record({
        t: this.clock?.now() ?? 0, device: `${this.info.portPath}#${this.info.deviceAddress}`, kind: 'control', setup,
        data, length: data.length, result: `refused (${(error as DfuHilError).code})`,
      });
      throw error;
    }
  }

  private checkCommand(data: Uint8Array, optionAlt: boolean, state: InterfaceState): void {
    const command = decodeDfuseCommand(data);
    switch (command.command) {
      case 'SET_ADDRESS':
        state.pendingPointer = command.address;
        return;
      case 'ERASE':
        if (optionAlt || reachesFlashRegisters(command.address, 1)) this.requireAllowed(`erase the option bytes at ${hex32(command.address)}`);
        return;
      case 'MASS_ERASE':
        if (optionAlt) this.requireAllowed('mass-erase the option-byte memory');
        return;
      case 'READ_UNPROTECT':
        this.requireAllowed('send Read Unprotect (it mass-erases the flash and resets the option bytes to defaults)');
        return;
      default:
        throw new DfuGuardError(`send the DfuSe command ${Array.from(data.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join(' ')}`,
          'dfu-hil sends only Set Address Pointer (0x21), Erase (0x41) and, where the rig allows option bytes, Read Unprotect (0x92) (AN3156 §5).');
    }
  }

  private checkData(setup: SetupPacket, data: Uint8Array, optionAlt: boolean, layout: MemoryLayout | undefined, state: InterfaceState, transferSize: number | undefined): void {
    if (setup.wValue < DFUSE_FIRST_DATA_BLOCK) {
      throw new DfuGuardError(`send a DfuSe DNLOAD with the reserved block number ${setup.wValue}`, 'DfuSe data blocks start at wValue 2 (AN3156 §4.1); block 0 carries commands.');
    }
    if (state.alt === undefined && optionAlt) {
      throw new DfuGuardError('write data before an alternate setting was selected on this device',
        'Select the alternate setting (SET_INTERFACE) first, so the memory the data goes to is known: one of them is the option bytes.');
    }
    if (state.pointer === undefined || state.pointerUncertain) {
      throw new DfuGuardError(`write data while the DfuSe address pointer is ${state.pointerUncertain ? 'uncertain (a Set Address Pointer was not confirmed)' : 'unknown'}`,
        'Send Set Address Pointer (0x21) and read its GETSTATUS to dfuDNLOAD-IDLE before writing, as DfuseClient does.');
    }
    // The ROM computes the address from its own wTransferSize (docs/stm32h7-facts.md §3); a host may believe
    // this request's length is used. Check both places the block could land.
    const sizes = new Set([setup.wLength, ...(transferSize ? [transferSize] : [])]);
    const starts = [...sizes].map((size) => (state.pointer! + (setup.wValue - DFUSE_FIRST_DATA_BLOCK) * size) >>> 0);
    const touchesOptions = optionAlt || starts.some((start) => reachesFlashRegisters(start, data.length));
    if (!touchesOptions) return;
    for (const start of starts) {
      for (const rdp of H7_RDP_BYTE_ADDRESSES) {
        const offset = rdp - start;
        if (offset >= 0 && offset < data.length && data[offset] === RDP_LEVEL_2) throw new RdpLevel2RefusedError(rdp);
      }
    }
    this.requireAllowed(`write the option bytes ("${layout?.name ?? 'FLASH registers'}") at ${hex32(starts[0]!)}`);
    // The ROM takes option bytes only as the whole block at its start, through their own alt (AN3156 §5.1).
    if (!optionAlt || !layout) {
      throw new DfuGuardError(`write ${data.length} bytes at ${hex32(starts[0]!)}: they reach the FLASH registers (${hex32(H7_FLASH_REGISTERS.start)}..), where the option bytes live, through "${layout?.name ?? 'an unknown alternate setting'}"`,
        'Option bytes are written only as the whole block through the option-byte alternate setting (AN3156 §5.1). Check the image\'s addresses.');
    }
    const blockSize = layout.end - layout.start;
    if (starts.some((s) => s !== layout.start) || data.length !== blockSize) throw new OptionBytesFormatError(starts[0]!, data.length, layout.start, blockSize);
  }

  private requireAllowed(what: string): void {
    if (!this.policy.allowOptionBytes) throw new OptionBytesRefusedError(what);
  }
}

/**
 * `transport` behind the option-byte guard with `policy`. A transport already guarded keeps its
 * guard when that is at least as strict; guards only ever narrow what a session may do.
 */
export function guardTransport(transport: UsbTransport, policy: Readonly<OptionBytesPolicy> = REFUSE_OPTION_BYTES, clock?: Clock): OptionBytesGuardTransport {
  if (transport instanceof OptionBytesGuardTransport && (!transport.policy.allowOptionBytes || policy.allowOptionBytes)) return transport;
  return new OptionBytesGuardTransport(transport, policy, clock);
}

/** `bus` with every transport it opens behind the option-byte guard with `policy`; its other members are the bus's own. */
export function guardBus<B extends UsbBus>(bus: B, policy: Readonly<OptionBytesPolicy>, clock?: Clock): B {
  return new Proxy(bus, {
    get(target, property) {
      if (property === 'open') return async (device: UsbDeviceInfo) => guardTransport(await target.open(device), policy, clock);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}
