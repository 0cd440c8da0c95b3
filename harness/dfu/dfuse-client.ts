import type { Clock } from '../clock/clock.js';
import { hex32 } from '../errors.js';
import type { DfuFunctionalDescriptor, InterfaceAltSetting, UsbDescription } from '../usb/descriptors.js';
import { isDisconnect, UsbError } from '../usb/errors.js';
import { DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS, DfuInterfaceProtocol } from '../usb/spec.js';
import type { UsbBus, UsbDeviceInfo, UsbTransport } from '../usb/transport.js';
import { DfuClient, type DfuClientOptions } from './dfu-client.js';
import {
  DfuDescriptorError, DfuDisconnectedError, DfuError, DfuRangeError, DfuStateError, DfuTimeoutError, DfuVerifyError, OptionBytesRefusedError,
  type DfuOperation,
} from './errors.js';
import { MemoryLayout, type Sector } from './layout.js';
import type { ImageSegment } from './image/firmware-image.js';
import { guardTransport } from './guarded-transport.js';
import { checkOptionBytesWrite, isOptionBytesTarget, refuseRdpLevel2 } from './option-bytes-guard.js';
import {
  DFUSE_FIRST_DATA_BLOCK, DfuseCommand, DfuState, encodeDfuseCommand, formatStatus, type DfuStatusReport,
} from './protocol.js';

/** What a long operation is doing. */
export type DfuPhase = 'erase' | 'download' | 'upload' | 'verify';

/** Progress of one phase; bytes are image bytes (erase counts the sectors' bytes). */
export interface DfuProgress {
  phase: DfuPhase;
  bytesDone: number;
  bytesTotal: number;
}

/** Receives progress events. */
export type DfuProgressListener = (progress: DfuProgress) => void;

/** Linux libusb refuses control transfers above 4096 bytes (field notes, failure mode 10). */
export const MAX_CONTROL_TRANSFER = 4096;

/** Options of {@link DfuseClient.open}. */
export interface DfuseOpenOptions extends DfuClientOptions {
  clock: Clock;
  /** Alternate setting by number, or by the layout's name ("Internal Flash", "Option Bytes"). Default 0. */
  altSetting?: number | string;
  /** The DFU-mode interface; default 0, as on ST's ROM. */
  interfaceNumber?: number;
  /** Use this block size instead of the descriptor's wTransferSize (1..65535, taken as given). */
  transferSize?: number;
  /**
   * How long a sector erase may stay dfuDNBUSY before it is treated as the STM32H7 V9.1
   * bank-2 bug and recovered, in ms. Sector erase takes up to 2.2 s at x32 (about 4 s at x8),
   * so the default leaves margin. A setting because the ROM's behaviour differs by version.
   */
  eraseStuckMs?: number;
  /** Also treat a sector erase as stuck after this many dfuDNBUSY answers (off by default: time is the safer test). */
  eraseStuckPolls?: number;
  /**
   * Write alignment in bytes. AN2606 §4.6: the H7 bootloader needs 8-byte aligned writes, and a
   * misaligned write makes every later write fail. Segment starts must be aligned; segment ends
   * are padded with 0xFF.
   */
  writeAlignment?: number;
  /** Highest wBlockNum used for uploads before the pointer is re-set (16-bit wValue). */
  maxBlockNumber?: number;
  /** Bring the device to dfuIDLE when the session opens (default true). */
  resetToIdle?: boolean;
  /** Receives progress of download, upload and verify. */
  onProgress?: DfuProgressListener;
}

/** Options of {@link DfuseClient.download}. */
export interface DownloadOptions {
  /** 'touched' (default) erases each sector the image touches once; 'mass' erases everything first; 'none' skips erasing. */
  erase?: 'touched' | 'mass' | 'none';
  /** Reads the image back after writing and throws {@link DfuVerifyError} on the first difference. */
  verify?: boolean;
  /**
   * This call's consent to write option bytes; the session must allow them too (its
   * `allowOptionBytes`, a rig's policy). RDP level 2 (0xCC) is refused even with both.
   */
  allowOptionBytes?: boolean;
  onProgress?: DfuProgressListener;
}

/** An erase that stayed dfuDNBUSY and was recovered with CLRSTATUS, CLRSTATUS. */
export interface StuckEraseRecovery {
  address: number;
  /** The status seen after the first CLRSTATUS (errUNKNOWN/dfuERROR on the H7 ROM). */
  afterFirstClear: string;
  elapsedMs: number;
}

/** What a download did. */
export interface DownloadReport {
  /** 'will-reset': an option-byte write, after which the device resets and leaves the bus. */
  outcome: 'written' | 'will-reset';
  bytesWritten: number;
  /** How the memory was erased: sector by sector, all at once, or not at all (option bytes are never erased first). */
  erase: 'touched' | 'mass' | 'none';
  /** Start addresses of the sectors erased one by one, in order (empty after a mass erase). */
  erasedSectors: number[];
  recoveries: StuckEraseRecovery[];
  verified: boolean;
}

/** What leaving DFU mode did. The device going away is the expected end, not an error. */
export interface LeaveReport {
  /** 'manifest': GETSTATUS answered dfuMANIFEST; 'disconnected': the device left before answering. */
  outcome: 'manifest' | 'disconnected';
  /** After which request of leave the device was gone, when it was (gone during SET_ADDRESS is an error, DfuDisconnectedError). */
  goneAfter?: 'DNLOAD' | 'GETSTATUS';
  /** Whether the device then left the bus within `waitForDetachMs` (only when asked). */
  detached?: boolean;
}

/** Result of a read-back comparison. */
export type VerifyResult =
  | { ok: true; bytesCompared: number }
  | { ok: false; address: number; expected: number; actual: number };

/** What a command that resets the device (Read Unprotect) did. */
export interface ResetCommandReport {
  outcome: 'will-reset' | 'completed';
}

const FLASH_SEGMENT_ORDER = (a: ImageSegment, b: ImageSegment): number => a.address - b.address;

/**
 * The failures that mean the device has gone, as expected after leave, an option-byte write or
 * Read Unprotect: libusb's NO_DEVICE/NOT_FOUND, IO (a transfer cut by the disconnect), and PIPE
 * (a STALL from a device that is already resetting).
 */
export function isExpectedDisconnect(error: unknown): boolean {
  return isDisconnect(error) || (error instanceof UsbError && (error.failure === 'io' || error.failure === 'stall'));
}

/**
 * Host for ST's DfuSe extensions (AN3156) on top of {@link DfuClient}: address pointer, sector
 * and mass erase, Read Unprotect, layout-checked downloads, uploads, verify and leave.
 */
export class DfuseClient {
  readonly dfu: DfuClient;
  /** The session's policy: whether it may change option bytes at all (the rig's allowOptionBytes). */
  readonly allowOptionBytes: boolean;
  private altSetting: InterfaceAltSetting;
  private currentLayout: MemoryLayout;
  private readonly eraseStuckMs: number;
  private readonly eraseStuckPolls: number | undefined;
  private readonly writeAlignment: number;
  private readonly maxBlockNumber: number;
  private readonly onProgress: DfuProgressListener | undefined;

  private constructor(
    readonly transport: UsbTransport,
    readonly description: UsbDescription,
    readonly functional: DfuFunctionalDescriptor | undefined,
    /** Block size used for DNLOAD and UPLOAD. */
    readonly transferSize: number,
    private readonly alts: readonly InterfaceAltSetting[],
    alt: InterfaceAltSetting,
    layout: MemoryLayout,
    options: DfuseOpenOptions,
    private readonly bus: UsbBus | undefined,
  ) {
    this.dfu = new DfuClient(transport, alt.bInterfaceNumber, options.clock, {
      pollFloorMs: options.pollFloorMs, pollCeilingMs: options.pollCeilingMs, operationDeadlineMs: options.operationDeadlineMs,
      controlTimeoutMs: options.controlTimeoutMs, statusStallRetries: options.statusStallRetries, allowOptionBytes: options.allowOptionBytes,
    });
    this.allowOptionBytes = options.allowOptionBytes === true;
    this.altSetting = alt;
    this.currentLayout = layout;
    this.eraseStuckMs = options.eraseStuckMs ?? 10_000;
    this.eraseStuckPolls = options.eraseStuckPolls;
    this.writeAlignment = options.writeAlignment ?? 8;
    this.maxBlockNumber = Math.min(0xffff, options.maxBlockNumber ?? 0xffff);
    this.onProgress = options.onProgress;
  }

  /** Opens `device` on `bus`, claims its DFU interface, selects the alt setting and brings it to dfuIDLE. */
  static async open(bus: UsbBus, device: UsbDeviceInfo, options: DfuseOpenOptions): Promise<DfuseClient> {
    const transport = await bus.open(device);
    try {
      return await DfuseClient.attach(transport, options, bus);
    } catch (error) {
      await transport.close();
      throw error;
    }
  }

  /** Starts a session on a transport already open (the bus is needed only for leave's detach wait). */
  static async attach(raw: UsbTransport, options: DfuseOpenOptions, bus?: UsbBus): Promise<DfuseClient> {
    // Everything this session sends, the alt-setting selection included, passes the guard.
    const transport = guardTransport(raw, { allowOptionBytes: options.allowOptionBytes === true }, options.clock);
    const description = await transport.describe();
    const interfaceNumber = options.interfaceNumber ?? 0;
    const alts = description.configuration.interfaces.filter((i) => i.bInterfaceNumber === interfaceNumber
      && i.bInterfaceClass === DFU_INTERFACE_CLASS && i.bInterfaceSubClass === DFU_INTERFACE_SUBCLASS
      && i.bInterfaceProtocol === DfuInterfaceProtocol.DfuMode);
    if (alts.length === 0) {
      const runtime = description.configuration.interfaces.some((i) => i.bInterfaceClass === DFU_INTERFACE_CLASS
        && i.bInterfaceProtocol === DfuInterfaceProtocol.Runtime);
      throw new DfuDescriptorError(`interface ${interfaceNumber} of ${description.product ?? 'the device'} is not a DFU-mode interface (class 0xFE/0x01/0x02)`,
        runtime ? 'The device is running its application (it has a DFU run-time interface). Switch it to DFU mode first with enterDfuMode().'
          : 'Check the interface number, and that the device is the bootloader (0483:df11 for ST\'s ROM).');
    }
    const alt = pickAlt(alts, options.altSetting);
    const layout = parseLayout(alt);
    const functional = description.configuration.dfuFunctional;
    const transferSize = chooseTransferSize(functional, options.transferSize);
    await transport.claimInterface(interfaceNumber);
    await transport.selectAltSetting(interfaceNumber, alt.bAlternateSetting);
    const client = new DfuseClient(transport, description, functional, transferSize, alts, alt, layout, options, bus);
    if (options.resetToIdle !== false) await client.dfu.toIdle();
    return client;
  }

  /** The memory layout of the selected alt setting. */
  get layout(): MemoryLayout {
    return this.currentLayout;
  }

  /** The selected alt setting's number. */
  get alternateSetting(): number {
    return this.altSetting.bAlternateSetting;
  }

  /** Layouts of every alt setting of the DFU interface, by alt number. */
  layouts(): Map<number, MemoryLayout> {
    const out = new Map<number, MemoryLayout>();
    for (const a of this.alts) {
      try { out.set(a.bAlternateSetting, parseLayout(a)); } catch { /* an alt without a layout is simply not listed */ }
    }
    return out;
  }

  /** Switches to another alt setting (by number or layout name) and its layout. */
  async selectAlt(altSetting: number | string): Promise<MemoryLayout> {
    const alt = pickAlt(this.alts, altSetting);
    const layout = parseLayout(alt);
    await this.transport.selectAltSetting(alt.bInterfaceNumber, alt.bAlternateSetting);
    this.altSetting = alt;
    this.currentLayout = layout;
    return layout;
  }

  /** DfuSe Get (UPLOAD wValue=0): the command bytes the bootloader supports, e.g. [0x00, 0x21, 0x41, 0x92]. */
  async getCommands(): Promise<number[]> {
    await this.dfu.toIdle();
    const bytes = await this.dfu.upload(0, 256);
    await this.dfu.abort();
    return Array.from(bytes);
  }

  /** Set Address Pointer (0x21 + address). */
  async setAddress(address: number): Promise<void> {
    await this.command(encodeDfuseCommand(DfuseCommand.SetAddressPointer, address), { request: 'SET_ADDRESS', address });
  }

  /**
   * Erases the sector holding `address`. An erase that stays dfuDNBUSY past `eraseStuckMs` (the
   * H7 ROM V9.1 bank-2 bug) is recovered with CLRSTATUS twice, as ST's own tool does, and
   * reported; the caller carries on.
   */
  async eraseSector(address: number): Promise<StuckEraseRecovery | undefined> {
    const operation: DfuOperation = { request: 'ERASE', address };
    const started = this.dfu.clock.now();
    try {
      await this.command(encodeDfuseCommand(DfuseCommand.Erase, address), operation, {
        deadlineMs: this.eraseStuckMs, ...(this.eraseStuckPolls === undefined ? {} : { maxPolls: this.eraseStuckPolls }),
      });
      return undefined;
    } catch (error) {
      if (!(error instanceof DfuTimeoutError) || error.lastReport?.state !== DfuState.DfuDnbusy) throw error;
      const afterFirstClear = await this.recoverStuckBusy();
      return { address, afterFirstClear, elapsedMs: this.dfu.clock.now() - started };
    }
  }

  /** Mass erase (0x41 alone). Allowed the full operation deadline. */
  async massErase(): Promise<void> {
    await this.command(encodeDfuseCommand(DfuseCommand.Erase), { request: 'MASS_ERASE' });
  }

  /**
   * Read Unprotect (0x92): removes readout protection by erasing all flash and resetting the
   * option bytes, then the device resets. Changes option bytes, so it needs `allowOptionBytes`
   * from the call and from the session.
   */
  async readUnprotect(options: { allowOptionBytes?: boolean } = {}): Promise<ResetCommandReport> {
    if (options.allowOptionBytes !== true || !this.allowOptionBytes) throw new OptionBytesRefusedError('send Read Unprotect (it mass-erases the flash and resets the option bytes to defaults)');
    try {
      await this.command(encodeDfuseCommand(DfuseCommand.ReadUnprotect), { request: 'READ_UNPROTECT' });
      return { outcome: 'completed' };
    } catch (error) {
      if (isExpectedDisconnect(error)) return { outcome: 'will-reset' };
      throw error;
    }
  }

  /**
   * Writes `image` to the selected alt's memory. Every segment is checked against the layout
   * (and the option-byte rules) before any request is sent; then the sectors it touches are
   * erased, each once, and the data goes in wTransferSize blocks, each as Set Address Pointer
   * to the block start followed by DNLOAD wValue=2. Takes segments or a FirmwareImage (its
   * segments; DfuSe targets for other alt settings are the caller's to select).
   */
  async download(image: readonly ImageSegment[] | { readonly segments: readonly ImageSegment[] }, options: DownloadOptions = {}): Promise<DownloadReport> {
    const given = 'segments' in image ? image.segments : image;
    const segments = [...given].filter((s) => s.data.length > 0).sort(FLASH_SEGMENT_ORDER);
    if (segments.length === 0) throw new DfuRangeError('empty', given[0]?.address ?? this.layout.start, 'the image has no bytes to write');
    const progress = options.onProgress ?? this.onProgress;
    const optionBytes = this.checkImage(segments, options);
    if (optionBytes) return this.writeOptionBytes(segments[0]!, progress);

    const erase = options.erase ?? 'touched';
    const report: DownloadReport = { outcome: 'written', bytesWritten: 0, erase, erasedSectors: [], recoveries: [], verified: false };
    const padded = segments.map((s) => this.padToAlignment(s));
    if (erase === 'mass') {
      progress?.({ phase: 'erase', bytesDone: 0, bytesTotal: 1 });
      await this.massErase();
      progress?.({ phase: 'erase', bytesDone: 1, bytesTotal: 1 });
    } else if (erase === 'touched') {
      const sectors = this.sectorsTouched(padded);
      const total = sectors.reduce((n, s) => n + s.size, 0);
      let done = 0;
      progress?.({ phase: 'erase', bytesDone: 0, bytesTotal: total });
      for (const sector of sectors) {
        const recovery = await this.eraseSector(sector.start);
        if (recovery) report.recoveries.push(recovery);
        report.erasedSectors.push(sector.start);
        done += sector.size;
        progress?.({ phase: 'erase', bytesDone: done, bytesTotal: total });
      }
    }

    const total = padded.reduce((n, s) => n + s.data.length, 0);
    progress?.({ phase: 'download', bytesDone: 0, bytesTotal: total });
    for (const segment of padded) {
      for (let offset = 0; offset < segment.data.length; offset += this.transferSize) {
        const block = segment.data.subarray(offset, offset + this.transferSize);
        await this.writeBlock(segment.address + offset, block);
        report.bytesWritten += block.length;
        progress?.({ phase: 'download', bytesDone: report.bytesWritten, bytesTotal: total });
      }
    }

    if (options.verify) {
      const result = await this.verify(segments, { onProgress: progress });
      if (!result.ok) throw new DfuVerifyError(result.address, result.expected, result.actual);
      report.verified = true;
    }
    return report;
  }

  /**
   * Reads `length` bytes from `address`: Set Address Pointer, ABORT to dfuIDLE, then UPLOAD with
   * wValue=2,3,... The device places block N at (N − 2) × its wTransferSize + pointer
   * (dfuseBlockAddress), so consecutive blocks are used only while this client's block size is
   * the descriptor's wTransferSize; with another size (an override, or a wTransferSize above the
   * 4096 clamp) each block gets its own Set Address Pointer. The pointer is also set again before
   * the 16-bit block number would wrap. A short last block needs nothing special.
   */
  async upload(address: number, length: number, options: { onProgress?: DfuProgressListener; phase?: DfuPhase } = {}): Promise<Uint8Array> {
    this.checkReadable(address, length);
    const progress = options.onProgress ?? this.onProgress;
    const phase = options.phase ?? 'upload';
    const out = new Uint8Array(length);
    const lastBlock = this.transferSize === this.functional?.wTransferSize ? this.maxBlockNumber : DFUSE_FIRST_DATA_BLOCK;
    let done = 0;
    progress?.({ phase, bytesDone: 0, bytesTotal: length });
    while (done < length) {
      await this.setAddress(address + done);
      await this.dfu.abort();
      for (let block = DFUSE_FIRST_DATA_BLOCK; done < length && block <= lastBlock; block++) {
        const want = Math.min(this.transferSize, length - done);
        const data = await this.uploadBlock(block, want, address + done);
        if (data.length !== want) {
          const report = await this.dfu.getStatus();
          throw new DfuStateError({ request: `UPLOAD#${block}`, address: address + done }, `${want} bytes`, report, {
            hint: `The device sent ${data.length} bytes; a short frame ends an upload early. The range may run past readable memory.`,
          });
        }
        out.set(data, done);
        done += want;
        progress?.({ phase, bytesDone: done, bytesTotal: length });
      }
      await this.dfu.abort();
    }
    return out;
  }

  /** Reads every segment back and reports the first byte that differs. */
  async verify(image: readonly ImageSegment[], options: { onProgress?: DfuProgressListener } = {}): Promise<VerifyResult> {
    const progress = options.onProgress ?? this.onProgress;
    const total = image.reduce((n, s) => n + s.data.length, 0);
    let done = 0;
    for (const segment of [...image].sort(FLASH_SEGMENT_ORDER)) {
      const actual = await this.upload(segment.address, segment.data.length, { onProgress: () => undefined });
      for (let i = 0; i < segment.data.length; i++) {
        if (actual[i] !== segment.data[i]) return { ok: false, address: segment.address + i, expected: segment.data[i]!, actual: actual[i]! };
      }
      done += segment.data.length;
      progress?.({ phase: 'verify', bytesDone: done, bytesTotal: total });
    }
    return { ok: true, bytesCompared: done };
  }

  /**
   * Leaves DFU mode: Set Address Pointer to `address` (when given; the ROM jumps to the vector
   * table there), a zero-length DNLOAD with wValue=2, then GETSTATUS expecting dfuMANIFEST. The
   * device dropping off the bus at any point after the DNLOAD is the expected outcome. Closes
   * the transport: the session is over whatever happened.
   */
  async leave(address?: number, options: { waitForDetachMs?: number } = {}): Promise<LeaveReport> {
    const report = await this.leaveRequests(address);
    if (options.waitForDetachMs !== undefined && this.bus) {
      try {
        await this.bus.waitForDetach(this.transport.info, options.waitForDetachMs);
        report.detached = true;
      } catch (error) {
        if (!(error instanceof UsbError)) throw error;
        report.detached = false;
      }
    }
    await this.transport.close();
    return report;
  }

  /** Closes the transport without leaving DFU mode. */
  async close(): Promise<void> {
    await this.transport.close();
  }

  private async leaveRequests(address: number | undefined): Promise<LeaveReport> {
    if (address !== undefined) {
      try {
        await this.setAddress(address);
      } catch (error) {
        // Gone before the leave request: nothing jumped to the application, so this is no leave.
        if (isDisconnect(error)) throw new DfuDisconnectedError({ request: 'SET_ADDRESS', address }, 'leave', { cause: error });
        throw error;
      }
    }
    try {
      await this.dfu.download(DFUSE_FIRST_DATA_BLOCK, new Uint8Array());
    } catch (error) {
      if (isExpectedDisconnect(error)) return { outcome: 'disconnected', goneAfter: 'DNLOAD' };
      throw error;
    }
    let status: DfuStatusReport;
    try {
      // No stall retries: a stall here is the device already resetting.
      status = await this.dfu.getStatus({ request: 'LEAVE', ...(address === undefined ? {} : { address }) }, { stallRetries: 0 });
    } catch (error) {
      if (isExpectedDisconnect(error)) return { outcome: 'disconnected', goneAfter: 'GETSTATUS' };
      throw error;
    }
    if (status.state === DfuState.DfuManifest || status.state === DfuState.DfuManifestSync || status.state === DfuState.DfuManifestWaitReset) {
      return { outcome: 'manifest' };
    }
    throw new DfuStateError({ request: 'LEAVE', ...(address === undefined ? {} : { address }) }, 'dfuMANIFEST', status, {
      hint: 'The device did not start manifestation. Check that the address holds a valid vector table, and that the device was in dfuIDLE or dfuDNLOAD-IDLE.',
    });
  }

  /**
   * One DfuSe command: DNLOAD wValue=0, then the first GETSTATUS, which executes it and must
   * report dfuDNBUSY, then poll to dfuDNLOAD-IDLE.
   */
  private async command(bytes: Uint8Array, operation: DfuOperation, options: { deadlineMs?: number; maxPolls?: number } = {}): Promise<DfuStatusReport> {
    return this.clearingErrors(async () => {
      await this.dfu.download(0, bytes);
      const first = await this.dfu.getStatus(operation);
      if (first.state !== DfuState.DfuDnbusy && first.state !== DfuState.DfuError) {
        throw new DfuStateError(operation, 'dfuDNBUSY (a DfuSe command runs on the first GETSTATUS)', first);
      }
      return this.dfu.pollUntil(operation, [DfuState.DfuDnloadIdle], { ...options, first });
    });
  }

  /**
   * Runs `work`; if the device reports an error status, clears it (best effort) before the
   * error is thrown, so the session stays usable: otherwise every later request would stall
   * in dfuERROR and hide the first, real error.
   */
  private async clearingErrors<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof DfuError) {
        try { await this.dfu.toIdle(); } catch { /* the original error is the one worth reporting */ }
      }
      throw error;
    }
  }

  /**
   * One UPLOAD block. A device refuses an IN transfer with a STALL, and says why only in the
   * GETSTATUS that follows (errVENDOR under readout protection, AN3156): report that status.
   */
  private async uploadBlock(block: number, length: number, address: number): Promise<Uint8Array> {
    try {
      return await this.dfu.upload(block, length);
    } catch (error) {
      if (!(error instanceof UsbError && error.failure === 'stall')) throw error;
      let report: DfuStatusReport;
      try {
        report = await this.dfu.getStatus();
      } catch {
        throw error;
      }
      if (report.state !== DfuState.DfuError) throw error;
      const refused = new DfuError({ request: 'UPLOAD', address }, report, { cause: error });
      try { await this.dfu.toIdle(); } catch { /* the refusal is the error worth reporting */ }
      throw refused;
    }
  }

  /** CLRSTATUS (device answers errUNKNOWN/dfuERROR), then back to dfuIDLE; returns the status seen in between. */
  private async recoverStuckBusy(): Promise<string> {
    try {
      await this.dfu.clearStatus();
    } catch (error) {
      // A device that stalls CLRSTATUS in dfuDNBUSY still ends up in dfuERROR, which toIdle clears.
      if (!(error instanceof UsbError && error.failure === 'stall')) throw error;
    }
    const between = await this.dfu.getStatus({ request: 'CLRSTATUS' });
    if (between.state === DfuState.DfuError) await this.dfu.clearStatus();
    await this.dfu.toIdle();
    return formatStatus(between);
  }

  private async writeBlock(address: number, block: Uint8Array): Promise<void> {
    await this.setAddress(address);
    const operation: DfuOperation = { request: `DNLOAD#${DFUSE_FIRST_DATA_BLOCK}`, address };
    await this.clearingErrors(async () => {
      await this.dfu.download(DFUSE_FIRST_DATA_BLOCK, block);
      // Some bootloaders (STM32U5) go straight to dfuDNLOAD-IDLE without showing dfuDNBUSY.
      await this.dfu.pollUntil(operation, [DfuState.DfuDnloadIdle]);
    });
  }

  private async writeOptionBytes(segment: ImageSegment, progress: DfuProgressListener | undefined): Promise<DownloadReport> {
    const report: DownloadReport = { outcome: 'written', bytesWritten: 0, erase: 'none', erasedSectors: [], recoveries: [], verified: false };
    progress?.({ phase: 'download', bytesDone: 0, bytesTotal: segment.data.length });
    try {
      await this.writeBlock(segment.address, segment.data);
    } catch (error) {
      // AN3156: the option-byte write ends in a system reset, with no second GETSTATUS.
      if (!isExpectedDisconnect(error)) throw error;
      report.outcome = 'will-reset';
    }
    report.bytesWritten = segment.data.length;
    progress?.({ phase: 'download', bytesDone: segment.data.length, bytesTotal: segment.data.length });
    return report;
  }

  /** Validates the whole image; returns true when it is an option-byte write (already checked). */
  private checkImage(segments: readonly ImageSegment[], options: DownloadOptions): boolean {
    const layout = this.layout;
    for (const s of segments) refuseRdpLevel2(s);
    const optionBytes = segments.filter((s) => isOptionBytesTarget(layout, s.address, s.data.length));
    if (optionBytes.length > 0) {
      for (const s of optionBytes) checkOptionBytesWrite(layout, s, options.allowOptionBytes === true && this.allowOptionBytes);
      if (segments.length > 1) {
        throw new DfuRangeError('overlap', segments[1]!.address, 'an option-byte write must be the only segment of its download');
      }
      if (layout.uncovered(segments[0]!.address, segments[0]!.data.length) !== undefined) {
        throw new DfuRangeError('outside-layout', segments[0]!.address, `the option-byte block is not in the selected alt's layout "${layout.name}"`);
      }
      if (this.transferSize < segments[0]!.data.length) {
        throw new DfuDescriptorError(`wTransferSize ${this.transferSize} is smaller than the ${segments[0]!.data.length}-byte option-byte block`,
          'The block must go in one DNLOAD; raise the transfer size.');
      }
      return true;
    }
    let previousEnd = -1;
    for (const s of segments) {
      if (s.address < previousEnd) throw new DfuRangeError('overlap', s.address, 'image segments overlap');
      previousEnd = s.address + s.data.length;
      const outside = layout.uncovered(s.address, s.data.length);
      if (outside !== undefined) {
        throw new DfuRangeError('outside-layout', outside, `${s.data.length}-byte segment from ${hex32(s.address)} leaves the layout "${layout.name}" (${hex32(layout.start)}..${hex32(layout.end - 1)})`);
      }
      for (const sector of layout.sectorsTouched(s.address, s.data.length)) {
        if (!sector.segment.writable) throw new DfuRangeError('not-writable', sector.start, `layout "${layout.name}" marks the sector not writable`);
        if (!sector.segment.erasable && options.erase !== 'none') throw new DfuRangeError('not-erasable', sector.start, `layout "${layout.name}" marks the sector not erasable`);
      }
      if (s.address % this.writeAlignment !== 0) {
        throw new DfuRangeError('misaligned', s.address, `segment start is not ${this.writeAlignment}-byte aligned`);
      }
    }
    return false;
  }

  private checkReadable(address: number, length: number): void {
    const outside = this.layout.uncovered(address, length);
    if (outside !== undefined) {
      throw new DfuRangeError('outside-layout', outside, `read of ${length} bytes from ${hex32(address)} leaves the layout "${this.layout.name}"`);
    }
    for (const sector of this.layout.sectorsTouched(address, length)) {
      if (!sector.segment.readable) throw new DfuRangeError('not-readable', sector.start, `layout "${this.layout.name}" marks the memory not readable`);
    }
  }

  private padToAlignment(segment: ImageSegment): ImageSegment {
    const rest = segment.data.length % this.writeAlignment;
    if (rest === 0) return segment;
    const data = new Uint8Array(segment.data.length + this.writeAlignment - rest).fill(0xff);
    data.set(segment.data);
    return { address: segment.address, data };
  }

  private sectorsTouched(segments: readonly ImageSegment[]): Sector[] {
    const seen = new Map<number, Sector>();
    for (const s of segments) {
      for (const sector of this.layout.sectorsTouched(s.address, s.data.length)) seen.set(sector.start, sector);
    }
    return [...seen.values()].sort((a, b) => a.start - b.start);
  }
}

function pickAlt(alts: readonly InterfaceAltSetting[], wanted: number | string | undefined): InterfaceAltSetting {
  const alt = typeof wanted === 'string'
    ? alts.find((a) => layoutName(a)?.toLowerCase() === wanted.trim().toLowerCase())
    : alts.find((a) => a.bAlternateSetting === (wanted ?? 0));
  if (!alt) {
    const list = alts.map((a) => `${a.bAlternateSetting} "${a.name ?? ''}"`).join(', ');
    throw new DfuDescriptorError(`no alternate setting ${JSON.stringify(wanted ?? 0)} on the DFU interface (it has ${list})`,
      'Pick one of the listed alternate settings by number or by its memory name.');
  }
  return alt;
}

function layoutName(alt: InterfaceAltSetting): string | undefined {
  try { return alt.name === undefined ? undefined : MemoryLayout.parse(alt.name).name; } catch { return undefined; }
}

function parseLayout(alt: InterfaceAltSetting): MemoryLayout {
  if (alt.name === undefined) {
    throw new DfuDescriptorError(`alternate setting ${alt.bAlternateSetting} has no iInterface string, so its memory layout is unknown`,
      'DfuSe devices describe their memory in the iInterface string ("@Internal Flash  /0x08000000/16*128Kg"). Is this a DfuSe device?');
  }
  return MemoryLayout.parse(alt.name);
}

/**
 * The block size: the override if given, else wTransferSize, which must not be 0 and is clamped
 * to 4096 (the Linux libusb limit), as dfu-util does.
 */
export function chooseTransferSize(functional: DfuFunctionalDescriptor | undefined, override: number | undefined): number {
  if (override !== undefined) {
    if (!Number.isInteger(override) || override < 1 || override > 0xffff) {
      throw new DfuDescriptorError(`transfer size override ${override} is not in 1..65535`, 'Pass a whole number of bytes, e.g. 1024 or 2048.');
    }
    return override;
  }
  if (!functional) {
    throw new DfuDescriptorError('the device has no DFU functional descriptor, so wTransferSize is unknown',
      'Pass transferSize explicitly (1024 for ST\'s STM32H7 ROM).');
  }
  if (functional.wTransferSize === 0) {
    throw new DfuDescriptorError('the DFU functional descriptor gives wTransferSize 0',
      'The device\'s descriptor is broken; pass transferSize explicitly (1024 for ST\'s STM32H7 ROM).');
  }
  return Math.min(MAX_CONTROL_TRANSFER, functional.wTransferSize);
}
