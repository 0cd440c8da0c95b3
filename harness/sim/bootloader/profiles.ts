// What distinguishes one DfuSe bootloader from another: every ROM-specific value the simulated
// bootloader uses. ST's ROM on STM32H74x/75x today; a team's own in-flash bootloader can be
// described by another profile on the same seam. "§n" in comments are sections of docs/stm32h7-facts.md;
// values marked "unconfirmed" are documented defaults, not observations.
import type { DfuFunctionalDescriptor } from '../../usb/descriptors.js';
import type { ResetCause } from '../contracts.js';
import { DfuStatus } from '../../dfu-wire/dfu.js';
import { DFUSE_BCD_DFU_VERSION, DfuseCommand } from '../../dfu-wire/dfuse.js';

/** What memory an alternate setting reaches. */
export type AltTarget = 'flash' | 'option-bytes';

/** One alternate setting of the DFU interface. */
export interface AltSettingProfile {
  /** The iInterface string: a DfuSe memory layout. */
  name: string;
  iInterface: number;
  target: AltTarget;
}

/** An address range [start, end] (inclusive end, as ST documents ranges). */
export interface AddressRange {
  start: number;
  end: number;
}

/** bwPollTimeout values the device reports in the GETSTATUS that enters dfuDNBUSY, in ms. */
export interface PollTimeouts {
  setAddress: number;
  sectorErase: number;
  massErase: number;
  write: number;
  readUnprotect: number;
  /** Reported by the GETSTATUS that answers dfuMANIFEST. */
  leave: number;
}

/** A DfuSe bootloader, described. */
export interface BootloaderProfile {
  id: string;
  description: string;
  /** Bootloader ID byte in system memory (AN2606 Table 3/136). */
  bootloaderId: number;
  usb: {
    vendorId: number;
    productId: number;
    bcdUSB: number;
    bMaxPacketSize0: number;
    bcdDevice: number;
    manufacturer: string;
    product: string;
    /** iSerialNumber's text when the board gives none. */
    defaultSerialNumber: string;
    configuration: { bConfigurationValue: number; iConfiguration: number; bmAttributes: number; bMaxPower: number };
    /** Alternate settings of interface 0, in order (alt 0 first). */
    altSettings: AltSettingProfile[];
    functional: DfuFunctionalDescriptor;
    langIds: number[];
  };
  /** What UPLOAD with wValue = 0 (Get) returns. */
  commands: number[];
  /** RAM the bootloader accepts for Set Address, read and write. */
  ramRanges: AddressRange[];
  /** Other memory it accepts for Set Address and reads (system memory). */
  readOnlyRanges: AddressRange[];
  timing: {
    /** From reset (or the jump to the bootloader) until the device attaches to USB. */
    startupDelayMs: number;
    /** After the GETSTATUS that reports dfuMANIFEST (or the one that starts Read Unprotect), before the device drops off the bus. */
    disconnectDelayMs: number;
  };
  pollTimeoutMs: PollTimeouts;
  /** Flash writes must start on this boundary; a misaligned write fails, and so do all later writes until re-entry. */
  writeAlignment: { bytes: number; errorStatus: number };
  /** Status for addresses outside memory (write, Set Address, erase, read). */
  outOfRangeStatus: number;
  /** Status for read, write and erase while readout-protected (AN3156 Table 4). */
  readProtectedStatus: number;
  /** The "Option Bytes" alternate setting's memory (alt 1 on ST's ROM). */
  optionBytes: {
    /** Bytes an UPLOAD from the option-byte base may read (the register window the ROM exposes). */
    readSize: number;
    /** Sizes a DNLOAD of the whole option-byte block may have; any other size fails with the out-of-range status. */
    writeSizes: number[];
  };
  quirks: {
    /** A sector erase in bank 2 reports dfuDNBUSY on every GETSTATUS until CLRSTATUS (the erase still completes). */
    bank2EraseStaysBusy: boolean;
    /** A flash command while a stuck bank-2 erase is still running makes the device stop answering. */
    flashCommandDuringEraseHangs: boolean;
  };
  leave: {
    /** Passed to BootloaderHost.restorePeripherals: true when every peripheral the bootloader used is back at reset values. */
    restoresPeripheralsCompletely: boolean;
    /**
     * What the host sees of the GETSTATUS that starts the leave. 'lost': the device drops off the
     * bus and jumps before the transfer's status stage completes, so that GETSTATUS fails on the
     * host (dfu-util: "Error during download get_status", exit 74) while the application starts.
     * 'completes': it answers dfuMANIFEST, then drops off after `timing.disconnectDelayMs`.
     */
    statusStage: 'lost' | 'completes';
  };
  /**
   * DFU_DETACH in DFU mode: 'ignore' ACKs it and stays in DFU mode (back in dfuIDLE from the
   * idle and sync states); 'system-reset' ACKs it, then resets the chip; 'stall' refuses it as a
   * request the state does not allow.
   */
  detach: 'ignore' | 'system-reset' | 'stall';
  /** A USB bus reset: 'to-idle' drops any transfer in progress and returns to dfuIDLE; 'keep-state' changes nothing. */
  busReset: 'to-idle' | 'keep-state';
  /** The reset cause the option-byte write's system reset leaves in RCC_RSR. */
  optionBytesResetCause: ResetCause;
  /** The reset cause of the system reset after Read Unprotect. */
  readUnprotectResetCause: ResetCause;
}

/** Freezes a profile all the way down, so one board cannot change another's ROM by accident. */
function frozen<T extends object>(value: T): Readonly<T> {
  for (const inner of Object.values(value)) if (typeof inner === 'object' && inner !== null) frozen(inner as object);
  return Object.freeze(value);
}

const H7_ROM_BASE: BootloaderProfile = {
  id: 'st-rom-v9.2',
  description: 'ST system bootloader V9.2 (0x92) in ROM, STM32H74x/75x (PID 0x450), DFU V2.2',
  bootloaderId: 0x92,
  usb: {
    // §2: 0483:DF11, bcdUSB 0x0200, bMaxPacketSize0 64, bcdDevice 0x0200 (observed on H743/H750).
    vendorId: 0x0483,
    productId: 0xdf11,
    bcdUSB: 0x0200,
    bMaxPacketSize0: 64,
    bcdDevice: 0x0200,
    manufacturer: 'STMicroelectronics',
    product: 'DFU in FS Mode',
    defaultSerialNumber: '200364500000',
    configuration: { bConfigurationValue: 1, iConfiguration: 2, bmAttributes: 0xc0, bMaxPower: 0x32 },
    altSettings: [
      // §2: alt 0 iInterface 0x06 (H). Alt 1's index is not in the sources: 7 is unconfirmed.
      { name: '@Internal Flash   /0x08000000/16*128Kg', iInterface: 6, target: 'flash' },
      { name: '@Option Bytes   /0x5200201C/01*128 e', iInterface: 7, target: 'option-bytes' },
    ],
    // §2: wTransferSize 1024 and bcdDFUVersion 0x011A (H). bmAttributes and wDetachTimeOut are not
    // found for the H7 ROM (unconfirmed): 0x0B (bitCanDnload | bitCanUpload | bitWillDetach, not
    // manifestation-tolerant as AN3156 §5.5 says) and 255 ms, as `dfu-util -v` logs of other ST ROMs
    // at 0483:df11 show and as ST's DFU class defines them (USBD_DFU_BM_ATTRIBUTES 0x0B,
    // USBD_DFU_DETACH_TIMEOUT 0xFF: STMicroelectronics/stm32-mw-usb-device Class/DFU/Inc/usbd_dfu.h).
    functional: { bmAttributes: 0x0b, wDetachTimeOut: 255, wTransferSize: 1024, bcdDFUVersion: DFUSE_BCD_DFU_VERSION },
    langIds: [0x0409],
  },
  commands: [DfuseCommand.Get, DfuseCommand.SetAddressPointer, DfuseCommand.Erase, DfuseCommand.ReadUnprotect],
  // §1: RAM the bootloader accepts for read/write/go (AN2606 Tables 135, 226).
  ramRanges: [{ start: 0x2000_4100, end: 0x2001_ffff }, { start: 0x2400_5000, end: 0x2407_ffff }],
  // §1: system memory 0x1FF00000-0x1FF1E7FF.
  readOnlyRanges: [{ start: 0x1ff0_0000, end: 0x1ff1_e7ff }],
  timing: {
    // §1: "USB connection 53.9764 ms" (AN2606 Tables 227/229). Virtual timers tick in whole ms: attaches at 54 ms.
    startupDelayMs: 53.9764,
    // Unconfirmed: long enough for the GETSTATUS answer to reach the host before the device drops off.
    disconnectDelayMs: 2,
  },
  pollTimeoutMs: {
    // §3: sector erase reports 1000 ms then 0 ms (H743 rev V, M). The others are not found: unconfirmed defaults.
    setAddress: 0,
    sectorErase: 1000,
    massErase: 1000,
    write: 5,
    readUnprotect: 1000,
    leave: 0,
  },
  // §1: 8-byte alignment (AN2606 §4.6, H); the status it fails with is not documented: errTARGET is unconfirmed.
  writeAlignment: { bytes: 8, errorStatus: DfuStatus.ErrTarget },
  outOfRangeStatus: DfuStatus.ErrTarget,
  readProtectedStatus: DfuStatus.ErrVendor,
  optionBytes: {
    // STM32CubeProgrammer uploads 308 bytes from 0x5200201C on H743 (its verbose log in
    // https://community.st.com/s/question/0D53W00000HM7kF/stm32cubeprogrammer-fail-to-connect-over-dfu): the option registers of
    // both banks, FLASH+0x1C to +0x14F. The layout string says 01*128 (H), which covers bank 1 only;
    // the ROM reads the whole window all the same.
    readSize: 308,
    // The layout's 128-byte block (H), and the 308-byte window, assuming CubeProgrammer writes back
    // what it reads (unconfirmed: no write size is documented for this ROM).
    writeSizes: [128, 308],
  },
  quirks: { bank2EraseStaysBusy: false, flashCommandDuringEraseHangs: false },
  leave: {
    // §3: AN3156 says the peripherals used go back to reset values; AN2606 says "occasionally not all". Default: complete.
    restoresPeripheralsCompletely: true,
    // After `dfu-util -s 0x08000000:leave -D app.bin`, H743/H750 boards print "Submitting leave
    // request..." then "Error during download get_status" and exit 74 while the application starts
    // (apache/nuttx weact-stm32h750 doc; the same with dfu-util 0.11 in other projects' reports).
    // ST's DFU class leaves from EP0_TxReady, after the GETSTATUS data went out and before its status
    // stage (DFU_Leave calls USBD_Stop: stm32-mw-usb-device usbd_dfu.c). The clean answer is 'completes'.
    statusStage: 'lost',
  },
  // "The Detach request is not meaningful in the case of the bootloader" (AN3156 Table 2), and
  // ST's DFU class ACKs it (DFU_Detach in usbd_dfu.c); on a real H7, `dfu-util -R` ends with no
  // "can't detach". What the ROM does next is not documented: default nothing (it stays in DFU mode).
  detach: 'ignore',
  // Unconfirmed: the ROM's USB stack is assumed to restart its DFU class on a bus reset.
  busReset: 'to-idle',
  // Unconfirmed: a software system reset (NVIC_SystemReset) is assumed for both.
  optionBytesResetCause: 'software',
  readUnprotectResetCause: 'software',
};

/** ST ROM bootloader V9.2 (0x92): the bank-2 erase bug fixed (AN2606 Table 136). */
export const ST_ROM_H745_V9_2: Readonly<BootloaderProfile> = frozen(structuredClone(H7_ROM_BASE));

/**
 * ST ROM bootloader V9.1 (0x91): "Erase on bank2 not working as expected... SW exits while the
 * operation is ongoing. Sending a new command invoking the flash memory after the erase can
 * hang the system" (AN2606 Table 136; field reports in docs/stm32h7-facts.md §1).
 */
export const ST_ROM_H745_V9_1: Readonly<BootloaderProfile> = frozen({
  ...structuredClone(H7_ROM_BASE),
  id: 'st-rom-v9.1',
  description: 'ST system bootloader V9.1 (0x91) in ROM, STM32H74x/75x (PID 0x450): bank-2 erase stays dfuDNBUSY',
  bootloaderId: 0x91,
  quirks: { bank2EraseStaysBusy: true, flashCommandDuringEraseHangs: true },
});

/** Profiles by the name rigs use. */
export const bootloaderProfiles: Record<string, BootloaderProfile> = {
  'st-rom-v9.1': ST_ROM_H745_V9_1,
  'st-rom-v9.2': ST_ROM_H745_V9_2,
};

// ---- Entered from running code (executed mode) ---------------------------------------------
// When the chip executes the application, the ROM is reached by a jump from whatever state the
// application left. AN2606 §4.1 lists what must be undone first; what the ROM then does when it
// was not is mostly undocumented, so each case is a setting with its default and source here.

/** What the board shows when the ROM inherits a state it cannot work from. */
export type RomEntryOutcome = 'enumerates' | 'no-enumeration';

/** The words entry code reads from system memory, and the ROM's answer to each unclean hand-over. */
export interface RomEntryBehaviour {
  /**
   * The initial stack pointer and entry address the ROM's tables hold: at the bootloader start
   * address 0x1FF09800 (AN2606 Table 135) and at the hardware boot vector 0x1FF00000 that
   * MicroPython jumps through (docs/stm32h7-facts.md §5). The real values are not published:
   * assumed, with the stack at the top of the 16 KB of DTCM the ROM uses (AN2606 Table 135).
   */
  vector: { stackPointer: number; entry: number };
  outcomes: {
    /** PRIMASK set: "interrupts must be re-enabled before jumping to the Bootloader, as this is not done by the bootloader SW" (AN2606 §4.1, H): its USB stack never runs. */
    interruptsMasked: RomEntryOutcome;
    /** An interrupt enabled and pending (AN2606 §4.1: clear pending interrupts). Unconfirmed outcome. */
    interruptPending: RomEntryOutcome;
    /** SysTick counting with its interrupt on (AN2606 §4.1; ST's H7 sequence sets SysTick->CTRL = 0, docs/stm32h7-facts.md §5). Unconfirmed outcome. */
    sysTickRunning: RomEntryOutcome;
    /** A peripheral clock still enabled (AN2606 §4.1: disable all peripheral clocks). Unconfirmed outcome. */
    peripheralClocksOn: RomEntryOutcome;
    /** A PLL on, or the system clock not the HSI (AN2606 §4.1: disable the PLLs in use). Unconfirmed outcome. */
    pllOn: RomEntryOutcome;
    /** MSP not loaded from the ROM's table (ST's H7 sequence and every published jump load it, docs/stm32h7-facts.md §5). Unconfirmed outcome. */
    stackNotFromVector: RomEntryOutcome;
    /** Entered at an address that is not the ROM's entry: its code there was not meant to start from. Unconfirmed outcome. */
    notAtEntry: RomEntryOutcome;
    /** The Cortex-M7 caches left on: not in AN2606 §4.1 or ST's H7 sequence, only in community versions (docs/stm32h7-facts.md §5, M). */
    cachesOn: RomEntryOutcome;
  };
}

/** The ST ROM's behaviour when entered by a jump; the same for V9.1 and V9.2 as far as known. */
export const ST_ROM_ENTRY: Readonly<RomEntryBehaviour> = frozen({
  vector: { stackPointer: 0x2000_4000, entry: 0x1ff0_a001 },
  outcomes: {
    interruptsMasked: 'no-enumeration',
    interruptPending: 'no-enumeration',
    sysTickRunning: 'no-enumeration',
    peripheralClocksOn: 'no-enumeration',
    pllOn: 'no-enumeration',
    stackNotFromVector: 'no-enumeration',
    notAtEntry: 'no-enumeration',
    cachesOn: 'enumerates',
  },
});

/** The entry behaviour of `profile`'s bootloader. */
export function romEntryBehaviour(_profile: BootloaderProfile): RomEntryBehaviour {
  return ST_ROM_ENTRY;
}
