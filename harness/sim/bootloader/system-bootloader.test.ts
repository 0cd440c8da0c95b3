import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { MemoryLayout } from '../../dfu/layout.js';
import { UsbError } from '../../usb/errors.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import { DescriptorType, StandardRequest } from '../../usb/spec.js';
import { getDescriptorSetup } from '../../usb/descriptors.js';
import type { UsbTransport } from '../../usb/transport.js';
import { DfuRequest as R, DfuState, DfuStatus as St } from '../../dfu-wire/dfu.js';
import { StandaloneBootloaderHost, type StandaloneHostOptions } from './standalone-host.js';
import { BootloaderFaults } from './faults.js';
import { ST_ROM_H745_V9_1, ST_ROM_H745_V9_2, bootloaderProfiles, type BootloaderProfile } from './profiles.js';
import { SystemBootloader } from './system-bootloader.js';

/** The chip around the bootloader, as little as the tests need: real flash and option bytes, a USB socket, a log. */
class TestHost extends StandaloneBootloaderHost {
  declare readonly clock: VirtualClock;

  constructor(options: StandaloneHostOptions = {}) {
    super(new VirtualClock(), options);
  }

  get bootloader(): SystemBootloader | undefined {
    return this.code as SystemBootloader | undefined;
  }
}

const S = {
  Idle: DfuState.DfuIdle, DnloadSync: DfuState.DfuDnloadSync, Dnbusy: DfuState.DfuDnbusy, DnloadIdle: DfuState.DfuDnloadIdle,
  ManifestSync: DfuState.DfuManifestSync, Manifest: DfuState.DfuManifest, UploadIdle: DfuState.DfuUploadIdle, Error: DfuState.DfuError,
} as const;
const DFU_OUT = 0x21;
const DFU_IN = 0xa1;

interface Rig {
  host: TestHost;
  clock: VirtualClock;
  bus: InProcessUsbBus;
  bootloader: SystemBootloader;
  faults: BootloaderFaults;
  t: UsbTransport;
}

async function boot(profile: BootloaderProfile = ST_ROM_H745_V9_2, host = new TestHost()): Promise<Rig> {
  const faults = new BootloaderFaults();
  const bootloader = new SystemBootloader(profile, host, { faults, serialNumber: '3A0F12345678' });
  host.code = bootloader;
  const bus = new InProcessUsbBus({ clock: host.clock });
  bus.addConnector(host.socket);
  bootloader.start();
  const device = await bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 1000);
  const t = await bus.open(device);
  return { host, clock: host.clock, bus, bootloader, faults, t };
}

async function reopen(rig: Rig): Promise<void> {
  const device = await rig.bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 5000);
  rig.t = await rig.bus.open(device);
}

const dnload = (t: UsbTransport, wValue: number, data: Uint8Array, timeoutMs = 5000): Promise<void> =>
  t.controlOut({ bmRequestType: DFU_OUT, bRequest: R.Dnload, wValue, wIndex: 0, wLength: data.length }, data, timeoutMs);
const command = (t: UsbTransport, code: number, address?: number): Promise<void> => {
  const data = new Uint8Array(address === undefined ? 1 : 5);
  data[0] = code;
  if (address !== undefined) new DataView(data.buffer).setUint32(1, address, true);
  return dnload(t, 0, data);
};
const upload = (t: UsbTransport, wValue: number, length: number): Promise<Uint8Array> =>
  t.controlIn({ bmRequestType: DFU_IN, bRequest: R.Upload, wValue, wIndex: 0, wLength: length }, 5000);
const simple = (t: UsbTransport, bRequest: number): Promise<void> =>
  t.controlOut({ bmRequestType: DFU_OUT, bRequest, wValue: 0, wIndex: 0, wLength: 0 }, new Uint8Array(), 5000);
async function getStatus(t: UsbTransport, timeoutMs = 5000): Promise<{ status: number; poll: number; state: number }> {
  const b = await t.controlIn({ bmRequestType: DFU_IN, bRequest: R.GetStatus, wValue: 0, wIndex: 0, wLength: 6 }, timeoutMs);
  return { status: b[0]!, poll: b[1]! | (b[2]! << 8) | (b[3]! << 16), state: b[4]! };
}
const getState = async (t: UsbTransport): Promise<number> =>
  (await t.controlIn({ bmRequestType: DFU_IN, bRequest: R.GetState, wValue: 0, wIndex: 0, wLength: 1 }, 5000))[0]!;

const pattern = (length: number, seed = 3): Uint8Array => Uint8Array.from({ length }, (_, i) => (i * 13 + seed) & 0xff);

async function failure(work: Promise<unknown>): Promise<string> {
  const error = await work.then(() => undefined, (e: unknown) => e);
  expect(error).toBeInstanceOf(UsbError);
  return (error as UsbError).failure;
}

describe('SystemBootloader: enumeration', () => {
  it('claims PA11/PA12 at once and attaches after the 53.9764 ms USB start-up (54 virtual ms)', async () => {
    const { host } = await boot();
    expect(host.events.slice(0, 2)).toEqual([[0, 'claim-pins'], [54, 'attach']]);
  });

  it('presents the ROM descriptors, strings, layouts and DFU functional descriptor', async () => {
    const { t } = await boot();
    const d = await t.describe();
    expect(d.device).toMatchObject({ idVendor: 0x0483, idProduct: 0xdf11, bcdUSB: 0x0200, bMaxPacketSize0: 64, bcdDevice: 0x0200,
      iManufacturer: 1, iProduct: 2, iSerialNumber: 3, bNumConfigurations: 1 });
    expect([d.manufacturer, d.product, d.serialNumber]).toEqual(['STMicroelectronics', 'DFU in FS Mode', '3A0F12345678']);
    expect(d.configuration).toMatchObject({ bConfigurationValue: 1, iConfiguration: 2, bmAttributes: 0xc0, bMaxPower: 0x32 });
    expect(d.configuration.interfaces.map((i) => [i.bAlternateSetting, i.bInterfaceClass, i.bInterfaceSubClass, i.bInterfaceProtocol, i.name])).toEqual([
      [0, 0xfe, 0x01, 0x02, '@Internal Flash   /0x08000000/16*128Kg'],
      [1, 0xfe, 0x01, 0x02, '@Option Bytes   /0x5200201C/01*128 e'],
    ]);
    // bmAttributes 0x0B and wDetachTimeOut 255: profile defaults from ST's DFU class (usbd_dfu.h), unconfirmed for this ROM.
    expect(d.configuration.dfuFunctional).toEqual({ bmAttributes: 0x0b, wDetachTimeOut: 255, wTransferSize: 1024, bcdDFUVersion: 0x011a });
    const flash = MemoryLayout.parse(d.configuration.interfaces[0]!.name!);
    expect([flash.start, flash.end]).toEqual([0x0800_0000, 0x0820_0000]);
    const config = await t.controlIn(getDescriptorSetup(DescriptorType.Configuration, 0, 255), 1000);
    expect(config.length).toBe(0x24);
    expect(Array.from(await t.controlIn(getDescriptorSetup(DescriptorType.String, 0, 255), 1000))).toEqual([4, 3, 0x09, 0x04]);
  });

  it('answers the standard requests and STALLs an alternate setting it does not have', async () => {
    const { t, bootloader } = await boot();
    await t.controlOut({ bmRequestType: 0, bRequest: StandardRequest.SetConfiguration, wValue: 1, wIndex: 0, wLength: 0 }, new Uint8Array(), 1000);
    expect(Array.from(await t.controlIn({ bmRequestType: 0x80, bRequest: StandardRequest.GetConfiguration, wValue: 0, wIndex: 0, wLength: 1 }, 1000))).toEqual([1]);
    expect(Array.from(await t.controlIn({ bmRequestType: 0x80, bRequest: StandardRequest.GetStatus, wValue: 0, wIndex: 0, wLength: 2 }, 1000))).toEqual([1, 0]);
    await t.selectAltSetting(0, 1);
    expect(bootloader.altSetting).toBe(1);
    expect(Array.from(await t.controlIn({ bmRequestType: 0x81, bRequest: StandardRequest.GetInterface, wValue: 0, wIndex: 0, wLength: 1 }, 1000))).toEqual([1]);
    expect(await failure(t.selectAltSetting(0, 2))).toBe('stall');
  });

  it('leaves the bus on stop() and comes back fresh on the next start()', async () => {
    const rig = await boot();
    await command(rig.t, 0x21, 0x0810_0000);
    await getStatus(rig.t);
    rig.bootloader.stop();
    expect(rig.host.events.at(-1)?.[1]).toBe('detach');
    expect([rig.bootloader.running, rig.bootloader.attachedToUsb]).toEqual([false, false]);
    rig.bootloader.start();
    await reopen(rig);
    expect(rig.bootloader.addressPointer).toBe(0x0800_0000);
    expect(await getStatus(rig.t)).toEqual({ status: St.Ok, poll: 0, state: S.Idle });
  });

  it('has both ROM profiles under their rig names', () => {
    expect(bootloaderProfiles['st-rom-v9.1']).toBe(ST_ROM_H745_V9_1);
    expect(bootloaderProfiles['st-rom-v9.2']).toBe(ST_ROM_H745_V9_2);
    expect(ST_ROM_H745_V9_1.quirks.bank2EraseStaysBusy).toBe(true);
    expect(ST_ROM_H745_V9_2.quirks.bank2EraseStaysBusy).toBe(false);
  });
});

describe('SystemBootloader: DfuSe commands', () => {
  it('lists its commands on UPLOAD wValue=0; a full frame stays in dfuUPLOAD-IDLE, a short one returns to dfuIDLE', async () => {
    const { t } = await boot();
    expect(Array.from(await upload(t, 0, 4))).toEqual([0x00, 0x21, 0x41, 0x92]);
    expect(await getState(t)).toBe(S.UploadIdle);
    await simple(t, R.Abort);
    expect(Array.from(await upload(t, 0, 64))).toEqual([0x00, 0x21, 0x41, 0x92]);
    expect(await getState(t)).toBe(S.Idle);
  });

  it('sets the address pointer on the first GETSTATUS, which reports dfuDNBUSY; the next one dfuDNLOAD-IDLE', async () => {
    const { t, bootloader } = await boot();
    await command(t, 0x21, 0x0810_0000);
    expect(await getState(t)).toBe(S.DnloadSync);
    expect(bootloader.addressPointer).toBe(0x0800_0000);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.Dnbusy });
    expect(bootloader.addressPointer).toBe(0x0810_0000);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.DnloadIdle });
  });

  it('writes blocks at (wBlockNum − 2) × wTransferSize + pointer and reads them back, a short block included', async () => {
    const { t, host, clock } = await boot();
    await command(t, 0x21, 0x0800_0000);
    await getStatus(t); await getStatus(t);
    const a = pattern(1024, 1);
    const b = pattern(1024, 2);
    await dnload(t, 2, a);
    const t0 = clock.now();
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 5, state: S.Dnbusy });
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.DnloadIdle });
    // 32 flash words at 130 µs = 4.16 ms: the second GETSTATUS completes 4 whole ms after the first
    // was answered, the 0.16 ms carried into the next program.
    expect(clock.now() - t0).toBe(4);
    await dnload(t, 3, b);
    await getStatus(t); await getStatus(t);
    expect(host.flash.read(0x0800_0000, 1024)).toEqual(a);
    expect(host.flash.read(0x0800_0400, 1024)).toEqual(b);
    await simple(t, R.Abort);
    expect(await upload(t, 3, 1024)).toEqual(b);
    expect(await upload(t, 2, 16)).toEqual(a.subarray(0, 16));
    // A short block 3 still starts 1024 bytes in: wTransferSize, not this request's wLength (usbd_dfu.c).
    expect(await upload(t, 3, 100)).toEqual(b.subarray(0, 100));
  });

  it('keeps the device NAKing for the whole 1100 ms sector erase', async () => {
    const { t, host, clock } = await boot();
    host.flash.program(0x0802_0000, pattern(64));
    await command(t, 0x41, 0x0802_0000);
    const first = clock.now();
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 1000, state: S.Dnbusy });
    expect(Array.from(host.flash.read(0x0802_0000, 2))).toEqual([0xff, 0xff]);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.DnloadIdle });
    expect(clock.now() - first).toBe(1100);
  });

  it('fails a GETSTATUS whose host timeout is shorter than the erase, and answers after it', async () => {
    const { t, clock } = await boot();
    await command(t, 0x41, 0x0804_0000);
    await getStatus(t);
    const first = clock.now();
    expect(await failure(getStatus(t, 500))).toBe('timeout');
    expect(clock.now() - first).toBe(500);
    await clock.sleep(700);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.DnloadIdle });
  });

  it('mass-erases with the mass-erase time', async () => {
    const { t, host, clock } = await boot();
    host.flash.program(0x0810_0000, pattern(32));
    await command(t, 0x41);
    const first = clock.now();
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 1000, state: S.Dnbusy });
    // The bwPollTimeout says 1000 ms; a host that trusts it with a 5 s control timeout fails.
    expect(await failure(getStatus(t, 5000))).toBe('timeout');
    expect(await getStatus(t, 5000)).toEqual({ status: St.Ok, poll: 0, state: S.DnloadIdle });
    expect(clock.now() - first).toBe(8800);
    expect(host.flash.read(0x0810_0000, 1)[0]).toBe(0xff);
  });

  it('reports errTARGET for addresses outside memory on the second GETSTATUS, and CLRSTATUS returns to dfuIDLE', async () => {
    const { t } = await boot();
    await command(t, 0x21, 0x0700_0000);
    // AN3156 §4.1: the command runs on the first GETSTATUS, which reports dfuDNBUSY; the second gives the result.
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.Dnbusy });
    expect(await getStatus(t)).toEqual({ status: St.ErrTarget, poll: 0, state: S.Error });
    await simple(t, R.ClrStatus);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.Idle });
    await command(t, 0x41, 0x0820_0000);
    expect(await getStatus(t)).toMatchObject({ status: St.Ok, state: S.Dnbusy });
    expect(await getStatus(t)).toMatchObject({ status: St.ErrTarget, state: S.Error });
    await simple(t, R.ClrStatus);
    await command(t, 0x21, 0x081f_fc00);
    await getStatus(t); await getStatus(t);
    await dnload(t, 3, pattern(1024));
    expect(await getStatus(t)).toMatchObject({ status: St.Ok, state: S.Dnbusy });
    expect(await getStatus(t)).toMatchObject({ status: St.ErrTarget, state: S.Error });
  });

  it('answers errVENDOR for read, write and erase under RDP level 1, while Get and Set Address still work', async () => {
    const host = new TestHost({ optionBytes: { initial: { optsr: 0x1bc6_55f0 } } });
    const { t, bootloader } = await boot(ST_ROM_H745_V9_2, host);
    expect(Array.from(await upload(t, 0, 16))).toEqual([0x00, 0x21, 0x41, 0x92]);
    await command(t, 0x21, 0x0800_0000);
    expect(await getStatus(t)).toMatchObject({ status: St.Ok, state: S.Dnbusy });
    await getStatus(t);
    await command(t, 0x41, 0x0800_0000);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 1000, state: S.Dnbusy });
    expect(await getStatus(t)).toEqual({ status: St.ErrVendor, poll: 0, state: S.Error });
    await simple(t, R.ClrStatus);
    await dnload(t, 2, pattern(32));
    await getStatus(t);
    expect(await getStatus(t)).toMatchObject({ status: St.ErrVendor, state: S.Error });
    await simple(t, R.ClrStatus);
    expect(await failure(upload(t, 2, 32))).toBe('stall');
    expect([bootloader.state, bootloader.status]).toEqual([S.Error, St.ErrVendor]);
  });

  it('writes nothing to a write-protected sector and reports no error', async () => {
    const host = new TestHost({ optionBytes: { initial: { wpsn1: 0xfe } } });
    const { t } = await boot(ST_ROM_H745_V9_2, host);
    await dnload(t, 2, pattern(1024));
    await getStatus(t);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.DnloadIdle });
    expect(Array.from(host.flash.read(0x0800_0000, 4))).toEqual([0xff, 0xff, 0xff, 0xff]);
  });

  it('fails a write off the 8-byte boundary, and every later write until the bootloader is entered again', async () => {
    const rig = await boot();
    const { t, host, bootloader } = rig;
    await command(t, 0x21, 0x0800_0004);
    await getStatus(t); await getStatus(t);
    await dnload(t, 2, pattern(8));
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 5, state: S.Dnbusy });
    expect(await getStatus(t)).toEqual({ status: St.ErrTarget, poll: 0, state: S.Error });
    await simple(t, R.ClrStatus);
    await command(t, 0x21, 0x0800_0100);
    await getStatus(t); await getStatus(t);
    await dnload(t, 2, pattern(32));
    await getStatus(t);
    expect(await getStatus(t)).toMatchObject({ status: St.ErrTarget, state: S.Error });
    expect(Array.from(host.flash.read(0x0800_0100, 2))).toEqual([0xff, 0xff]);
    bootloader.start();
    await reopen(rig);
    await command(rig.t, 0x21, 0x0800_0100);
    await getStatus(rig.t); await getStatus(rig.t);
    await dnload(rig.t, 2, pattern(32));
    await getStatus(rig.t);
    expect(await getStatus(rig.t)).toMatchObject({ status: St.Ok, state: S.DnloadIdle });
    expect(host.flash.read(0x0800_0100, 32)).toEqual(pattern(32));
  });

  it('programs a non-virgin flash word again and leaves a sticky ECC error', async () => {
    const { t, host } = await boot();
    await dnload(t, 2, pattern(64, 1));
    await getStatus(t); await getStatus(t);
    await dnload(t, 2, pattern(64, 2));
    await getStatus(t); await getStatus(t);
    expect(host.flash.eccErrorWords(0x0800_0000, 64)).toEqual([0x0800_0000, 0x0800_0020]);
  });

  it('STALLs requests the state does not allow, entering dfuERROR with errSTALLEDPKT', async () => {
    const { t, bootloader } = await boot();
    await command(t, 0x21, 0x0800_0000);
    expect(await failure(upload(t, 2, 16))).toBe('stall');
    expect(await getStatus(t)).toEqual({ status: St.ErrStalledPkt, poll: 0, state: S.Error });
    expect(await failure(dnload(t, 2, pattern(8)))).toBe('stall');
    expect(bootloader.status).toBe(St.ErrStalledPkt);
    await simple(t, R.ClrStatus);
    expect(await failure(dnload(t, 1, pattern(8)))).toBe('stall');
    await simple(t, R.ClrStatus);
    await command(t, 0x55);
    expect(await getStatus(t)).toMatchObject({ status: St.Ok, state: S.Dnbusy });
    expect(await getStatus(t)).toMatchObject({ status: St.ErrStalledPkt, state: S.Error });
  });

  it('goes back to dfuIDLE on a USB bus reset', async () => {
    const { t } = await boot();
    await command(t, 0x21, 0x0800_0000);
    await t.reset();
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.Idle });
  });
});

describe('SystemBootloader: leave, option bytes, Read Unprotect', () => {
  it('leaves as the H7 ROM does: gone before the GETSTATUS status stage, restores peripherals and jumps to the pointer', async () => {
    const { t, host, bus } = await boot();
    await command(t, 0x21, 0x0800_0000);
    await getStatus(t); await getStatus(t);
    await dnload(t, 2, new Uint8Array());
    expect(await getState(t)).toBe(S.ManifestSync);
    // Profile default statusStage 'lost': dfu-util's "Error during download get_status" on H743/H750 (apache/nuttx weact-stm32h750 doc).
    expect(await failure(getStatus(t))).toBe('no-device');
    expect(bus.isPresent(t.info)).toBe(false);
    expect(host.events.slice(-3).map((e) => e.slice(1))).toEqual([['detach'], ['restore', true], ['jump', 0x0800_0000]]);
  });

  it('with the clean-leave setting: dfuMANIFEST, then detaches, restores peripherals and jumps', async () => {
    const { t, host, clock, bus } = await boot({ ...ST_ROM_H745_V9_2, leave: { ...ST_ROM_H745_V9_2.leave, statusStage: 'completes' } });
    await command(t, 0x21, 0x0800_0000);
    await getStatus(t); await getStatus(t);
    await dnload(t, 2, new Uint8Array());
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.Manifest });
    const answered = clock.now();
    await bus.waitForDetach(t.info, 100);
    expect(host.events.slice(-3).map((e) => e.slice(1))).toEqual([['detach'], ['restore', true], ['jump', 0x0800_0000]]);
    // The device drops off the profile's disconnect delay after its answer (the answer's own wire time is under a ms).
    expect(host.eventsOf('jump')[0]![0]).toBe(answered + ST_ROM_H745_V9_2.timing.disconnectDelayMs);
  });

  it('jumps to the last write address when no Set Address followed it', async () => {
    const { t, host, bus } = await boot();
    await dnload(t, 3, pattern(1024));
    await getStatus(t); await getStatus(t);
    await dnload(t, 0, new Uint8Array());
    await getStatus(t).catch(() => undefined);
    await bus.waitForDetach(t.info, 100);
    expect(host.eventsOf('jump')).toEqual([[expect.any(Number), 'jump', 0x0800_0400]]);
  });

  it('writes the option-byte block on alt 1, then resets with no second GETSTATUS', async () => {
    const { t, host, clock } = await boot();
    await t.selectAltSetting(0, 1);
    await command(t, 0x21, 0x5200_201c);
    await getStatus(t); await getStatus(t);
    await simple(t, R.Abort);
    const block = await upload(t, 2, 128);
    expect(block.length).toBe(128);
    expect(new DataView(block.buffer).getUint32(0x28, true)).toBe(0x1ff0_0800);
    new DataView(block.buffer).setUint32(0x28, 0x1ff0_1ff0, true);
    await simple(t, R.Abort);
    await dnload(t, 2, block);
    const sent = clock.now();
    expect(await failure(getStatus(t))).toBe('no-device');
    await clock.sleep(200);
    expect(host.eventsOf('reset')).toEqual([[sent + 100, 'reset', 'software']]);
    expect(host.optionBytes.bootCm7Add0()).toBe(0x1ff0);
  });

  it('refuses an option-byte write of the wrong size or address with errTARGET', async () => {
    const { t, host } = await boot();
    await t.selectAltSetting(0, 1);
    await command(t, 0x21, 0x5200_201c);
    await getStatus(t); await getStatus(t);
    await dnload(t, 2, new Uint8Array(64));
    expect(await getStatus(t)).toMatchObject({ status: St.Ok, state: S.Dnbusy });
    expect(await getStatus(t)).toMatchObject({ status: St.ErrTarget, state: S.Error });
    expect(host.eventsOf('reset')).toEqual([]);
  });

  it('Read Unprotect at level 1: dfuDNBUSY, disconnect, flash and options regressed, system reset', async () => {
    const host = new TestHost({ optionBytes: { initial: { optsr: 0x1bc6_55f0 } } });
    host.flash.program(0x0800_0000, pattern(32));
    const { t, clock } = await boot(ST_ROM_H745_V9_2, host);
    await command(t, 0x92);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 1000, state: S.Dnbusy });
    const answered = clock.now();
    expect(await failure(getStatus(t))).toBe('no-device');
    await clock.sleep(10_000);
    const detachedAt = answered + ST_ROM_H745_V9_2.timing.disconnectDelayMs;
    expect(host.eventsOf('detach')[0]![0]).toBe(detachedAt);
    expect(host.eventsOf('reset')).toEqual([[detachedAt + 8900, 'reset', 'software']]);
    expect(host.flash.read(0x0800_0000, 1)[0]).toBe(0xff);
    expect(host.optionBytes.rdpLevel()).toBe(0);
  });
});

describe('SystemBootloader: bank-2 erase per ROM version', () => {
  it('V9.2 finishes a bank-2 sector erase like any other', async () => {
    const { t, clock } = await boot(ST_ROM_H745_V9_2);
    await command(t, 0x41, 0x0810_0000);
    const first = clock.now();
    await getStatus(t);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.DnloadIdle });
    expect(clock.now() - first).toBe(1100);
  });

  it('V9.1 stays dfuDNBUSY until CLRSTATUS → (errUNKNOWN, dfuERROR), CLRSTATUS → (OK, dfuIDLE); the erase still completes', async () => {
    const { t, host, clock } = await boot(ST_ROM_H745_V9_1);
    host.flash.program(0x0812_0000, pattern(32));
    await command(t, 0x41, 0x0812_0000);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 1000, state: S.Dnbusy });
    const first = clock.now();
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 1000, state: S.Dnbusy });
    // Answered at once (no NAK): only the transfer's 35 µs on the wire, not yet a whole ms.
    expect(clock.now() - first).toBe(0);
    await clock.sleep(2000);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 1000, state: S.Dnbusy });
    expect(host.flash.read(0x0812_0000, 1)[0]).toBe(0xff);
    await simple(t, R.ClrStatus);
    expect(await getStatus(t)).toEqual({ status: St.ErrUnknown, poll: 0, state: S.Error });
    await simple(t, R.ClrStatus);
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 0, state: S.Idle });
  });

  it('V9.1 hangs when a flash command comes while the abandoned bank-2 erase still runs', async () => {
    const { t, bootloader } = await boot(ST_ROM_H745_V9_1);
    await command(t, 0x41, 0x0810_0000);
    await getStatus(t);
    await simple(t, R.ClrStatus);
    await simple(t, R.ClrStatus);
    await command(t, 0x41, 0x0812_0000);
    expect(await failure(getStatus(t, 3000))).toBe('timeout');
    expect(bootloader.hung).toBe(true);
    expect(await failure(getStatus(t, 1000))).toBe('timeout');
  });
});

describe('SystemBootloader: faults', () => {
  it('STALLs the first GETSTATUS after a command without running it; the retry runs it', async () => {
    const { t, faults, bootloader } = await boot();
    const fault = faults.stallFirstGetStatusAfterCommand();
    await command(t, 0x21, 0x0810_0000);
    expect(await failure(getStatus(t))).toBe('stall');
    expect(bootloader.state).toBe(S.DnloadSync);
    expect(fault.fired).toBe(true);
    expect(await getStatus(t)).toMatchObject({ status: St.Ok, state: S.Dnbusy });
    expect(bootloader.addressPointer).toBe(0x0810_0000);
  });

  it('STALLs the nth request of a kind, once', async () => {
    const { t, faults } = await boot();
    const fault = faults.stallAt({ request: R.GetState, nth: 2 });
    await getState(t);
    expect(await failure(getState(t))).toBe('stall');
    expect(await getState(t)).toBe(S.Idle);
    expect(fault.firedCount).toBe(1);
  });

  it('disconnects at the chosen DNLOAD, and re-enumerates in dfuIDLE when asked to', async () => {
    const rig = await boot();
    const { faults, host, clock } = rig;
    const fault = faults.disconnectAt({ request: R.Dnload, nth: 2 }, { reattachAfterMs: 300 });
    await command(rig.t, 0x21, 0x0800_0000);
    await getStatus(rig.t); await getStatus(rig.t);
    const at = clock.now();
    expect(await failure(dnload(rig.t, 2, pattern(32)))).toBe('no-device');
    expect(fault.firedAt).toBe(at);
    await reopen(rig);
    expect(host.eventsOf('attach').map((e) => e[0])).toEqual([54, at + 300]);
    expect(await getStatus(rig.t)).toEqual({ status: St.Ok, poll: 0, state: S.Idle });
  });

  it('lies about bwPollTimeout: reports 10 ms while busy 3000 ms', async () => {
    const { t, faults, clock } = await boot();
    faults.lyingPollTimeout({ reportMs: 10, busyMs: 3000, on: 'sector-erase' });
    await command(t, 0x41, 0x0800_0000);
    const first = clock.now();
    expect(await getStatus(t)).toEqual({ status: St.Ok, poll: 10, state: S.Dnbusy });
    await getStatus(t);
    expect(clock.now() - first).toBe(3000);
  });

  it('cuts power after N programmed bytes: half-written flash, power off, no answer', async () => {
    const { t, faults, host } = await boot();
    const fault = faults.powerLossAfterBytes(1024 + 40);
    await dnload(t, 2, pattern(1024));
    await getStatus(t); await getStatus(t);
    expect(fault.fired).toBe(false);
    await dnload(t, 3, pattern(1024, 9));
    expect(await failure(getStatus(t))).toBe('no-device');
    expect(fault.fired).toBe(true);
    expect(host.eventsOf('power-off')).toHaveLength(1);
    expect(host.flash.read(0x0800_0400, 40)).toEqual(pattern(1024, 9).subarray(0, 40));
    expect(host.flash.read(0x0800_0428, 1)[0]).toBe(0xff);
    expect(host.flash.eccErrorWords()).toEqual([0x0800_0420]);
  });

  it('cuts power during the erase of a chosen sector, leaving it half erased', async () => {
    const { t, faults, host } = await boot();
    host.flash.program(0x0802_0000, pattern(32));
    host.flash.program(0x0803_ffe0, pattern(32));
    faults.powerLossDuringErase(1, 1);
    await command(t, 0x41, 0x0802_0000);
    expect(await failure(getStatus(t))).toBe('no-device');
    expect(host.flash.read(0x0802_0000, 1)[0]).toBe(0xff);
    expect(host.flash.read(0x0803_ffe0, 32)).toEqual(pattern(32));
    expect(host.eventsOf('power-off')).toHaveLength(1);
  });

  it('races the leave on a clean-leave profile: drops off after the zero-length DNLOAD before answering GETSTATUS, and still jumps', async () => {
    const { t, faults, host } = await boot({ ...ST_ROM_H745_V9_2, leave: { ...ST_ROM_H745_V9_2.leave, statusStage: 'completes' } });
    const fault = faults.leaveRace();
    await dnload(t, 0, new Uint8Array());
    expect(await failure(getStatus(t))).toBe('no-device');
    expect(fault.fired).toBe(true);
    expect(host.events.slice(-3).map((e) => e.slice(1))).toEqual([['detach'], ['restore', true], ['jump', 0x0800_0000]]);
  });
});
