// The DfuSe device model driven directly: setup packets and times in, replies and effects out.
// Every expected value that encodes a ROM behaviour names its source next to it.
import { describe, expect, it } from 'vitest';
import { decodeStatus, DfuRequest, DfuState, DfuStatus } from '../../dfu-wire/dfu.js';
import { DfuseCommand, encodeDfuseCommand } from '../../dfu-wire/dfuse.js';
import { decodeConfigurationDescriptor, getDescriptorSetup } from '../../usb/descriptors.js';
import { DescriptorType, StandardRequest, type SetupPacket } from '../../usb/spec.js';
import { createUserMemories, type UserMemoriesOptions } from '../flash/user-memories.js';
import { OptionRegisterOffset } from '../option-bytes/option-register-map.js';
import { DfuseDeviceModel, type DeviceEffect, type DfuSessionState, type ModelStep } from './dfuse-device-model.js';
import { BootloaderFaults } from './faults.js';
import { ST_ROM_H745_V9_1, ST_ROM_H745_V9_2, type BootloaderProfile } from './profiles.js';

const out = (bRequest: number, wValue = 0, wLength = 0): SetupPacket => ({ bmRequestType: 0x21, bRequest, wValue, wIndex: 0, wLength });
const inp = (bRequest: number, wValue: number, wLength: number): SetupPacket => ({ bmRequestType: 0xa1, bRequest, wValue, wIndex: 0, wLength });
const pattern = (length: number, seed = 5): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 31 + seed) & 0xff);

/** A model on the chip's real flash and option bytes, with a clock the test moves by hand. */
function device(profile: BootloaderProfile = ST_ROM_H745_V9_2, memories: UserMemoriesOptions = {}, resume?: DfuSessionState) {
  const { flash, optionBytes } = createUserMemories(memories);
  const faults = new BootloaderFaults();
  const model = new DfuseDeviceModel(profile, { flash, optionBytes }, { serialNumber: '200364500000', faults, ...(resume ? { resume } : {}) });
  let now = 100;
  const effects: DeviceEffect[] = [];
  const send = (setup: SetupPacket, data?: Uint8Array): ModelStep => {
    const step = model.control(setup, data, now);
    effects.push(...step.effects);
    return step;
  };
  const ok = (step: ModelStep): Uint8Array => {
    expect(step.reply.type).toBe('ack');
    return (step.reply as { data?: Uint8Array }).data ?? new Uint8Array();
  };
  const api = {
    model, flash, optionBytes, faults, effects,
    get now() { return now; },
    /** Moves time on, running what the model scheduled. */
    wait(ms: number): void {
      now += ms;
      effects.push(...model.advance(now));
    },
    send,
    dnload: (wValue: number, data: Uint8Array) => ok(send(out(DfuRequest.Dnload, wValue, data.length), data)),
    command: (code: DfuseCommand, address?: number) => ok(send(out(DfuRequest.Dnload, 0, address === undefined ? 1 : 5), encodeDfuseCommand(code, address))),
    upload: (wValue: number, length: number) => ok(send(inp(DfuRequest.Upload, wValue, length))),
    /** GETSTATUS; waits out a NAK first, as a host's control transfer would. */
    status() {
      let step = send(inp(DfuRequest.GetStatus, 0, 6));
      if (step.reply.type === 'nak') {
        api.wait(step.reply.until - now);
        step = send(inp(DfuRequest.GetStatus, 0, 6));
      }
      const report = decodeStatus(ok(step))!;
      return { status: report.status, poll: report.pollTimeoutMs, state: report.state };
    },
    simple: (bRequest: number) => send(out(bRequest)),
  };
  return api;
}

describe('block addressing: (wBlockNum − 2) × wTransferSize + pointer', () => {
  // Source: STMicroelectronics/stm32-mw-usb-device Class/DFU/Src/usbd_dfu.c computes
  // `(wblock_num - 2U) * USBD_DFU_XFER_SIZE + data_ptr` with the fixed transfer size (1024 on the
  // H7 ROM, as dfu-util -v and STM32CubeProgrammer logs show); dfu-util and pydfu upload with a short last block.
  it('reads a short last UPLOAD block from (N − 2) × 1024, not (N − 2) × wLength', () => {
    const d = device();
    const data = pattern(3 * 1024);
    d.flash.program(0x0802_0000, data);
    d.command(DfuseCommand.SetAddressPointer, 0x0802_0000);
    d.status(); d.status();
    d.simple(DfuRequest.Abort);
    expect(d.upload(2, 1024)).toEqual(data.subarray(0, 1024));
    expect(d.upload(3, 1024)).toEqual(data.subarray(1024, 2048));
    // Block 4 asks for 100 bytes: they come from 0x08020000 + 2 × 1024.
    expect(d.upload(4, 100)).toEqual(data.subarray(2048, 2148));
  });

  it('writes a short DNLOAD block at (N − 2) × 1024 too', () => {
    const d = device();
    d.command(DfuseCommand.SetAddressPointer, 0x0804_0000);
    d.status(); d.status();
    d.dnload(3, pattern(24));
    d.status(); d.status();
    expect(d.flash.read(0x0804_0400, 24)).toEqual(pattern(24));
    expect(d.flash.read(0x0804_0018, 8).every((b) => b === 0xff)).toBe(true);
  });
});

describe('leave', () => {
  // Source: H743/H750 boards print "Submitting leave request..." then "Error during download
  // get_status" (exit 74) while the application starts (apache/nuttx Documentation/platforms/arm/
  // stm32h7/boards/weact-stm32h750); ST's DFU class leaves from EP0_TxReady before the status stage (usbd_dfu.c).
  it.each([ST_ROM_H745_V9_2, ST_ROM_H745_V9_1])('$id leaves before the GETSTATUS status stage by default', (profile) => {
    expect(profile.leave.statusStage).toBe('lost');
    const d = device(profile);
    d.command(DfuseCommand.SetAddressPointer, 0x0800_0000);
    d.status(); d.status();
    d.dnload(2, new Uint8Array());
    const step = d.send(inp(DfuRequest.GetStatus, 0, 6));
    expect(step.reply).toEqual({ type: 'disconnected' });
    expect(step.effects).toEqual([{ type: 'detach' }, { type: 'restore-peripherals', complete: true }, { type: 'jump', vectorTable: 0x0800_0000 }]);
    expect(d.model.alive).toBe(false);
  });

  it('answers dfuMANIFEST and leaves 2 ms later with statusStage "completes"', () => {
    const d = device({ ...ST_ROM_H745_V9_2, leave: { ...ST_ROM_H745_V9_2.leave, statusStage: 'completes' } });
    d.dnload(2, new Uint8Array());
    expect(d.status()).toEqual({ status: DfuStatus.Ok, poll: 0, state: DfuState.DfuManifest });
    expect(d.effects).toEqual([]);
    d.wait(2);
    expect(d.effects.map((e) => e.type)).toEqual(['detach', 'restore-peripherals', 'jump']);
  });
});

describe('DETACH in DFU mode', () => {
  // Source: AN3156 Table 2 ("The Detach request is not meaningful in the case of the bootloader");
  // ST's DFU class ACKs it and returns to dfuIDLE (DFU_Detach in usbd_dfu.c); on an H7 `dfu-util -R`
  // prints no "can't detach". What the ROM does next is the profile's `detach` (default 'ignore').
  it('is ACKed, and the device stays in DFU mode, back in dfuIDLE', () => {
    const d = device();
    expect(ST_ROM_H745_V9_2.detach).toBe('ignore');
    d.command(DfuseCommand.SetAddressPointer, 0x0800_0000);
    d.status(); d.status();
    expect(d.simple(DfuRequest.Detach).reply).toEqual({ type: 'ack' });
    d.wait(1000);
    expect(d.effects).toEqual([]);
    expect(d.status()).toEqual({ status: DfuStatus.Ok, poll: 0, state: DfuState.DfuIdle });
  });

  it('resets the chip after the ACK when the profile says system-reset', () => {
    const d = device({ ...ST_ROM_H745_V9_2, detach: 'system-reset' });
    expect(d.simple(DfuRequest.Detach).reply).toEqual({ type: 'ack' });
    d.wait(2);
    expect(d.effects).toEqual([{ type: 'system-reset', cause: 'software' }]);
  });
});

describe('command errors come with the second GETSTATUS', () => {
  // Source: AN3156 §4.1: a command runs on the first GETSTATUS, which reports dfuDNBUSY; the second
  // gives the result (errTARGET for an address outside every segment). ST's DFU class runs it in
  // EP0_TxReady after the dfuDNBUSY answer and sets dfuERROR for the next GETSTATUS (usbd_dfu.c).
  it('SET_ADDRESS outside memory: dfuDNBUSY, then errTARGET in dfuERROR', () => {
    const d = device();
    d.command(DfuseCommand.SetAddressPointer, 0x9000_0000);
    expect(d.status()).toEqual({ status: DfuStatus.Ok, poll: 0, state: DfuState.DfuDnbusy });
    expect(d.status()).toEqual({ status: DfuStatus.ErrTarget, poll: 0, state: DfuState.DfuError });
    expect(d.model.addressPointer).toBe(0x0800_0000);
  });

  it('ERASE outside memory: dfuDNBUSY with the erase poll timeout, then errTARGET', () => {
    const d = device();
    d.command(DfuseCommand.Erase, 0x0820_0000);
    expect(d.status()).toEqual({ status: DfuStatus.Ok, poll: 1000, state: DfuState.DfuDnbusy });
    expect(d.status()).toEqual({ status: DfuStatus.ErrTarget, poll: 0, state: DfuState.DfuError });
  });

  it('Read Unprotect refused at RDP level 2: dfuDNBUSY, then errVENDOR (AN3156 Table 4: errVENDOR under protection)', () => {
    const d = device(ST_ROM_H745_V9_2, { optionBytes: { initial: { optsr: 0x1bc6_ccf0 } } });
    d.command(DfuseCommand.ReadUnprotect);
    expect(d.status()).toEqual({ status: DfuStatus.Ok, poll: 1000, state: DfuState.DfuDnbusy });
    expect(d.status()).toEqual({ status: DfuStatus.ErrVendor, poll: 0, state: DfuState.DfuError });
    expect(d.effects).toEqual([]);
  });
});

describe('CLRSTATUS outside dfuERROR', () => {
  // Source: ST's DFU class answers CLRSTATUS in any state but dfuERROR with dfuERROR/errUNKNOWN
  // (DFU_ClearStatus in usbd_dfu.c); STM32CubeProgrammer and betaflight send CLRSTATUS twice to
  // recover the H7 bank-2 erase stuck in dfuDNBUSY (betaflight/betaflight-configurator PR #1861).
  it('is answered, moves to dfuERROR with errUNKNOWN, and a second CLRSTATUS reaches dfuIDLE', () => {
    const d = device();
    expect(d.simple(DfuRequest.ClrStatus).reply).toEqual({ type: 'ack' });
    expect(d.status()).toEqual({ status: DfuStatus.ErrUnknown, poll: 0, state: DfuState.DfuError });
    expect(d.simple(DfuRequest.ClrStatus).reply).toEqual({ type: 'ack' });
    expect(d.status()).toEqual({ status: DfuStatus.Ok, poll: 0, state: DfuState.DfuIdle });
  });

  it('gets the V9.1 bank-2 erase out of dfuDNBUSY the same way', () => {
    const d = device(ST_ROM_H745_V9_1);
    d.command(DfuseCommand.Erase, 0x0810_0000);
    d.status();
    d.wait(5000);
    expect(d.status().state).toBe(DfuState.DfuDnbusy);
    d.simple(DfuRequest.ClrStatus);
    expect(d.status()).toEqual({ status: DfuStatus.ErrUnknown, poll: 0, state: DfuState.DfuError });
    d.simple(DfuRequest.ClrStatus);
    expect(d.status().state).toBe(DfuState.DfuIdle);
  });
});

describe('option-byte window', () => {
  // Source: the alt-1 layout string is "@Option Bytes   /0x5200201C/01*128 e" (dfu-util -l of an
  // H750 in the apache/nuttx weact-stm32h750 doc); STM32CubeProgrammer uploads 308 bytes from
  // 0x5200201C on H743 (its log in community.st.com 0D53W00000HM7kF). Both are profile values.
  it('reads 308 bytes from 0x5200201C on alt 1, bank-2 registers included, while the layout says 128', () => {
    const d = device(ST_ROM_H745_V9_2, { optionBytes: { initial: { wpsn2: 0x7e } } });
    expect(ST_ROM_H745_V9_2.usb.altSettings[1]!.name).toBe('@Option Bytes   /0x5200201C/01*128 e');
    expect(ST_ROM_H745_V9_2.optionBytes.readSize).toBe(308);
    d.send({ bmRequestType: 0x01, bRequest: StandardRequest.SetInterface, wValue: 1, wIndex: 0, wLength: 0 });
    d.command(DfuseCommand.SetAddressPointer, 0x5200_201c);
    d.status(); d.status();
    d.simple(DfuRequest.Abort);
    const window = d.upload(2, 308);
    expect(window.length).toBe(308);
    const view = new DataView(window.buffer, window.byteOffset);
    expect(view.getUint32(OptionRegisterOffset.BOOT7_CUR, true)).toBe(0x1ff0_0800);
    expect(view.getUint32(OptionRegisterOffset.WPSN_CUR2, true)).toBe(0x7e);
    d.simple(DfuRequest.Abort);
    // A longer request ends at the window: a short frame.
    expect(d.upload(2, 512).length).toBe(308);
  });

  it('takes a write of the 128-byte block or the 308-byte window, and refuses other sizes on the second GETSTATUS', () => {
    expect(ST_ROM_H745_V9_2.optionBytes.writeSizes).toEqual([128, 308]);
    const d = device();
    d.send({ bmRequestType: 0x01, bRequest: StandardRequest.SetInterface, wValue: 1, wIndex: 0, wLength: 0 });
    d.command(DfuseCommand.SetAddressPointer, 0x5200_201c);
    d.status(); d.status();
    d.dnload(2, new Uint8Array(200));
    expect(d.status().state).toBe(DfuState.DfuDnbusy);
    expect(d.status()).toEqual({ status: DfuStatus.ErrTarget, poll: 0, state: DfuState.DfuError });
    d.simple(DfuRequest.ClrStatus);
    const window = d.optionBytes.readWindow();
    new DataView(window.buffer).setUint32(OptionRegisterOffset.WPSN_PRG2, 0xfe, true);
    d.dnload(2, window);
    expect(d.send(inp(DfuRequest.GetStatus, 0, 6)).reply).toEqual({ type: 'disconnected' });
    d.wait(200);
    expect(d.effects).toEqual([{ type: 'detach' }, { type: 'system-reset', cause: 'software' }]);
    expect(d.optionBytes.programmedValues().wpsn2).toBe(0xfe);
  });
});

describe('functional descriptor', () => {
  // Source: not found for the H7 ROM (unconfirmed); the defaults are what
  // `dfu-util -v` logs show for other ST ROMs at 0483:df11 and what ST's DFU class defines
  // (USBD_DFU_BM_ATTRIBUTES 0x0B, USBD_DFU_DETACH_TIMEOUT 0xFF in stm32-mw-usb-device usbd_dfu.h).
  it('reports bmAttributes 0x0B (CanDnload | CanUpload | WillDetach) and wDetachTimeOut 255 ms, with wTransferSize 1024', () => {
    const d = device();
    const step = d.send(getDescriptorSetup(DescriptorType.Configuration, 0, 255));
    const config = decodeConfigurationDescriptor((step.reply as { data: Uint8Array }).data);
    expect(config.dfuFunctional).toEqual({ bmAttributes: 0x0b, wDetachTimeOut: 255, wTransferSize: 1024, bcdDFUVersion: 0x011a });
  });

  it('takes other values from the profile', () => {
    const d = device({ ...ST_ROM_H745_V9_2, usb: { ...ST_ROM_H745_V9_2.usb, functional: { ...ST_ROM_H745_V9_2.usb.functional, bmAttributes: 0x03, wDetachTimeOut: 1000 } } });
    const step = d.send(getDescriptorSetup(DescriptorType.Configuration, 0, 255));
    expect(decodeConfigurationDescriptor((step.reply as { data: Uint8Array }).data).dfuFunctional).toMatchObject({ bmAttributes: 0x03, wDetachTimeOut: 1000 });
  });
});

describe('busy time and the session', () => {
  it('NAKs every request until the flash is done, then reports the outcome', () => {
    const d = device();
    d.command(DfuseCommand.Erase, 0x0802_0000);
    expect(d.status()).toEqual({ status: DfuStatus.Ok, poll: 1000, state: DfuState.DfuDnbusy });
    const started = d.now;
    expect(d.send(inp(DfuRequest.GetStatus, 0, 6)).reply).toEqual({ type: 'nak', until: started + 1100 });
    expect(d.status()).toEqual({ status: DfuStatus.Ok, poll: 0, state: DfuState.DfuDnloadIdle });
    expect(d.now).toBe(started + 1100);
  });

  it('hands over its session (state, status, pointer) and a new run resumes it', () => {
    const d = device();
    d.command(DfuseCommand.SetAddressPointer, 0x0810_0000);
    d.status(); d.status();
    d.command(DfuseCommand.SetAddressPointer, 0x9000_0000);
    d.status(); d.status();
    const saved = d.model.session();
    expect(saved).toMatchObject({ state: DfuState.DfuError, status: DfuStatus.ErrTarget, addressPointer: 0x0810_0000, jumpTarget: 0x0810_0000 });
    const again = device(ST_ROM_H745_V9_2, {}, saved);
    expect(again.status()).toEqual({ status: DfuStatus.ErrTarget, poll: 0, state: DfuState.DfuError });
    again.simple(DfuRequest.ClrStatus);
    again.upload(2, 16);
    expect(again.model.addressPointer).toBe(0x0810_0000);
  });
});
