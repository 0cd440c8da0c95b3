// The DfuSe host's facade: a session on one DFU interface (alt settings, their memory layouts,
// the transfer size) whose downloads are planned (dfuse-plan.ts), then executed
// (dfuse-executor.ts) over the DFU 1.1 client. Everything it sends passes the option-byte guard
// on the transport beneath (guarded-transport.ts).
import type { Clock } from '../clock/clock.js';
import type { DfuFunctionalDescriptor, InterfaceAltSetting, UsbDescription } from '../usb/descriptors.js';
import { UsbError } from '../usb/errors.js';
import { DFU_INTERFACE_CLASS, DFU_INTERFACE_SUBCLASS, DfuInterfaceProtocol } from '../usb/spec.js';
import type { UsbBus, UsbDeviceInfo, UsbTransport } from '../usb/transport.js';
import { DfuClient, type DfuClientOptions } from './dfu-client.js';
import { DfuDescriptorError, OptionBytesRefusedError } from './errors.js';
import {
  DfuseExecutor, type DfuPhase, type DfuProgressListener, type DownloadReport, type LeaveReport, type ResetCommandReport,
  type StuckEraseRecovery, type VerifyResult,
} from './dfuse-executor.js';
import { checkReadable, MAX_BLOCK_NUMBER, planDownload, type BlockPlacement, type DownloadPlan } from './dfuse-plan.js';
import type { FlashContentCache } from './flash-content-cache.js';
import { MemoryLayout } from './layout.js';
import type { ImageSegment } from '../image/firmware-image.js';
import { guardTransport } from './guarded-transport.js';

export {
  isExpectedDisconnect, type DfuPhase, type DfuProgress, type DfuProgressListener, type DifferentialReport, type DownloadReport,
  type LeaveReport, type ResetCommandReport, type StuckEraseRecovery, type VerifyResult,
} from './dfuse-executor.js';

/** Linux libusb refuses control transfers above 4096 bytes (travisgoodspeed/md380tools#10; dfu-util 0.11 clamps -t to 4096 on Linux). */
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
  /** Highest wBlockNum used before the pointer is set again (16-bit wValue). */
  maxBlockNumber?: number;
  /**
   * How downloads address their blocks. 'run' (default): one Set Address Pointer per contiguous
   * run, then blocks 2, 3, …, which the device places at (N − 2) × wTransferSize + pointer
   * (AN3156 §4.1). 'per-block': a Set Address Pointer before every block, each sent as block 2,
   * as dfu-util, pydfu and webdfu do, for a device that places blocks otherwise. Uploads always
   * use runs when the block size is the descriptor's, as dfu-util and pydfu do.
   */
  writeAddressing?: 'run' | 'per-block';
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
   * Differential flashing (with erase 'touched' only): a sector that already holds what erasing
   * and writing it would leave is neither erased nor written. Found by reading it back, or from
   * `cache` where that vouches for it. Off by default here; rigs and `dfu-hil flash` turn it on.
   */
  skipUnchanged?: boolean;
  /** The board's flash cache: consulted for sector digests, and updated with what the download leaves. */
  cache?: FlashContentCache;
  /** Sees the plan before anything is sent. */
  onPlan?: (plan: DownloadPlan) => void;
  /**
   * This call's consent to write option bytes; the session must allow them too (its
   * `allowOptionBytes`, a rig's policy). RDP level 2 (0xCC) is refused even with both.
   */
  allowOptionBytes?: boolean;
  onProgress?: DfuProgressListener;
}

/** An image as segments, or anything carrying them (a FirmwareImage). */
export type DownloadImage = readonly ImageSegment[] | { readonly segments: readonly ImageSegment[] };

const segmentsOf = (image: DownloadImage): readonly ImageSegment[] => ('segments' in image ? image.segments : image);

/**
 * Host for ST's DfuSe extensions (AN3156) on top of {@link DfuClient}: address pointer, sector
 * and mass erase, Read Unprotect, layout-checked downloads, uploads, verify and leave. Downloads
 * are planned first ({@link planDownload}), then executed ({@link DfuseExecutor}).
 */
export class DfuseClient {
  readonly dfu: DfuClient;
  /** The session's policy: whether it may change option bytes at all (the rig's allowOptionBytes). */
  readonly allowOptionBytes: boolean;
  private readonly executor: DfuseExecutor;
  private altSetting: InterfaceAltSetting;
  private currentLayout: MemoryLayout;
  private readonly writeAlignment: number;
  private readonly writePlacement: BlockPlacement;
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
      pollFloorMs: options.pollFloorMs, repeatPollFloorMs: options.repeatPollFloorMs, pollCeilingMs: options.pollCeilingMs,
      operationDeadlineMs: options.operationDeadlineMs, controlTimeoutMs: options.controlTimeoutMs, statusStallRetries: options.statusStallRetries,
      allowOptionBytes: options.allowOptionBytes,
    });
    this.allowOptionBytes = options.allowOptionBytes === true;
    this.altSetting = alt;
    this.currentLayout = layout;
    this.writeAlignment = options.writeAlignment ?? 8;
    const maxBlockNumber = Math.min(MAX_BLOCK_NUMBER, options.maxBlockNumber ?? MAX_BLOCK_NUMBER);
    const placement = { transferSize, descriptorTransferSize: functional?.wTransferSize, maxBlockNumber };
    this.writePlacement = { ...placement, addressing: options.writeAddressing ?? 'run' };
    this.executor = new DfuseExecutor(this.dfu, {
      eraseStuckMs: options.eraseStuckMs ?? 10_000,
      ...(options.eraseStuckPolls === undefined ? {} : { eraseStuckPolls: options.eraseStuckPolls }),
      readPlacement: { ...placement, addressing: 'run' },
    });
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
  getCommands(): Promise<number[]> {
    return this.executor.getCommands();
  }

  /** Set Address Pointer (0x21 + address). */
  setAddress(address: number): Promise<void> {
    return this.executor.setAddress(address);
  }

  /**
   * Erases the sector holding `address`. An erase that stays dfuDNBUSY past `eraseStuckMs` (the
   * H7 ROM V9.1 bank-2 bug) is recovered with CLRSTATUS twice, as ST's own tool does, and
   * reported; the caller carries on.
   */
  eraseSector(address: number): Promise<StuckEraseRecovery | undefined> {
    return this.executor.eraseSector(address);
  }

  /** Mass erase (0x41 alone). Allowed the full operation deadline. */
  massErase(): Promise<void> {
    return this.executor.massErase();
  }

  /**
   * Read Unprotect (0x92): removes readout protection by erasing all flash and resetting the
   * option bytes, then the device resets. Changes option bytes, so it needs `allowOptionBytes`
   * from the call and from the session.
   */
  async readUnprotect(options: { allowOptionBytes?: boolean } = {}): Promise<ResetCommandReport> {
    if (options.allowOptionBytes !== true || !this.allowOptionBytes) throw new OptionBytesRefusedError('send Read Unprotect (it mass-erases the flash and resets the option bytes to defaults)');
    return this.executor.readUnprotect();
  }

  /**
   * The operations {@link download} would send for `image`, without sending anything: every
   * segment checked against the layout and the option-byte rules, the sectors to erase (or to
   * read back first, when skipping unchanged ones), the blocks in runs, the read-back.
   */
  planDownload(image: DownloadImage, options: Omit<DownloadOptions, 'onProgress' | 'onPlan' | 'cache'> & { knownSectors?: ReadonlyMap<number, string> } = {}): DownloadPlan {
    return planDownload(segmentsOf(image), this.layout, {
      placement: this.writePlacement,
      writeAlignment: this.writeAlignment,
      erase: options.erase ?? 'touched',
      verify: options.verify === true,
      allowOptionBytes: options.allowOptionBytes === true && this.allowOptionBytes,
      skipUnchanged: options.skipUnchanged === true,
      ...(options.knownSectors ? { knownSectors: options.knownSectors } : {}),
    });
  }

  /**
   * Writes `image` to the selected alt's memory: planned first (nothing is sent for an image
   * the layout or the option-byte rules refuse), then erase-first: the sectors it touches, each
   * once, then the data in wTransferSize blocks, one Set Address Pointer per contiguous run.
   * Takes segments or a FirmwareImage (its segments; DfuSe targets for other alt settings are
   * the caller's to select).
   */
  async download(image: DownloadImage, options: DownloadOptions = {}): Promise<DownloadReport> {
    // Consulted even for a cold download: whatever the witnesses saw since the last one must be
    // forgotten before this download's own writes are recorded over it.
    const consulted = options.cache?.consult();
    const plan = this.planDownload(image, { ...options, ...(consulted && options.skipUnchanged ? { knownSectors: consulted.known } : {}) });
    options.onPlan?.(plan);
    return this.executor.run(plan, {
      ...(options.onProgress ?? this.onProgress ? { onProgress: options.onProgress ?? this.onProgress } : {}),
      ...(options.cache ? { cache: options.cache } : {}),
      ...(consulted?.distrusted === undefined ? {} : { cacheDistrusted: consulted.distrusted }),
    });
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
    checkReadable(this.layout, address, length);
    const progress = options.onProgress ?? this.onProgress;
    const phase = options.phase ?? 'upload';
    progress?.({ phase, bytesDone: 0, bytesTotal: length });
    return this.executor.read(address, length, (offset, data) => {
      progress?.({ phase, bytesDone: offset + data.length, bytesTotal: length });
      return true;
    });
  }

  /** Reads every segment back and reports the first byte that differs (compared block by block with Buffer.compare). */
  async verify(image: readonly ImageSegment[], options: { onProgress?: DfuProgressListener } = {}): Promise<VerifyResult> {
    const progress = options.onProgress ?? this.onProgress;
    const segments = image.filter((s) => s.data.length > 0).sort((a, b) => a.address - b.address);
    const total = segments.reduce((n, s) => n + s.data.length, 0);
    let done = 0;
    for (const segment of segments) {
      checkReadable(this.layout, segment.address, segment.data.length);
      const result = await this.executor.compare(segment.address, segment.data);
      if (!result.ok) return result;
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
    const report = await this.executor.leave(address);
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
