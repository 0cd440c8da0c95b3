// The guard's reading of DfuSe addressing, against a device stub that accepts everything, so
// that only the guard stands between a request and the wire. (The same guard against the
// simulated ROM: harness/rig/sim/option-bytes-guard-on-sim.test.ts.)
import { describe, expect, it } from 'vitest';
import type { UsbDescription } from '../usb/descriptors.js';
import type { SetupPacket } from '../usb/spec.js';
import { TransferTrace } from '../usb/trace.js';
import type { UsbDeviceInfo, UsbTransport } from '../usb/transport.js';
import { OptionBytesFormatError, OptionBytesRefusedError, RdpLevel2RefusedError } from './errors.js';
import { DfuGuardError, guardTransport, OptionBytesGuardTransport } from './guarded-transport.js';
import { DfuRequest, DfuState, dfuSetup, encodeDfuseCommand } from './protocol.js';

const INFO: UsbDeviceInfo = { vendorId: 0x0483, productId: 0xdf11, serialNumber: 'X', portPath: '9-9', busNumber: 9, deviceAddress: 1 };

/** A device that answers every GETSTATUS with OK/dfuDNLOAD-IDLE and records what reached it. */
class AcceptingDevice implements UsbTransport {
  readonly info = INFO;
  readonly trace = new TransferTrace();
  readonly received: Array<{ setup: SetupPacket; data: Uint8Array }> = [];

  constructor(private readonly names: readonly string[], private readonly bcdDFUVersion = 0x011a) {}

  async describe(): Promise<UsbDescription> {
    return {
      device: {} as UsbDescription['device'],
      configuration: {
        bConfigurationValue: 1, iConfiguration: 0, bmAttributes: 0xc0, bMaxPower: 0x32,
        interfaces: this.names.map((name, alt) => ({
          bInterfaceNumber: 0, bAlternateSetting: alt, bInterfaceClass: 0xfe, bInterfaceSubClass: 1, bInterfaceProtocol: 2, iInterface: 0, name,
        })),
        dfuFunctional: { bmAttributes: 0x0b, wDetachTimeOut: 255, wTransferSize: 1024, bcdDFUVersion: this.bcdDFUVersion },
      },
    } as unknown as UsbDescription;
  }

  async controlIn(): Promise<Uint8Array> {
    return Uint8Array.of(0, 0, 0, 0, DfuState.DfuDnloadIdle, 0);
  }

  async controlOut(setup: SetupPacket, data: Uint8Array): Promise<void> {
    this.received.push({ setup, data });
  }

  async claimInterface(): Promise<void> {}
  async selectAltSetting(): Promise<void> {}
  async reset(): Promise<void> {}
  async close(): Promise<void> {}
}

const FLASH = '@Internal Flash   /0x08000000/16*128Kg';
const OPTIONS = '@Option Bytes   /0x5200201C/01*128 e';
const dnload = (wValue: number, length: number): SetupPacket => dfuSetup(DfuRequest.Dnload, 'out', 0, wValue, length);
const getStatus = dfuSetup(DfuRequest.GetStatus, 'in', 0, 0, 6);

async function pointerAt(guard: UsbTransport, address: number): Promise<void> {
  const command = encodeDfuseCommand(0x21, address);
  await guard.controlOut(dnload(0, command.length), command, 100);
  await guard.controlIn(getStatus, 100);
}

describe('the option-byte guard transport', () => {
  it('leads nowhere unguarded: no property of a guarded transport is the transport beneath it', () => {
    const device = new AcceptingDevice([FLASH, OPTIONS]);
    const guard = guardTransport(device);
    const reachable = [...Object.values(guard), ...Object.getOwnPropertyNames(guard).map((name) => (guard as unknown as Record<string, unknown>)[name])];
    expect(reachable).not.toContain(device);
    // Re-guarding with a looser policy keeps the stricter guard underneath.
    expect(guardTransport(guard, { allowOptionBytes: true })).not.toBe(device);
  });

  it('finds the option bytes behind a flash alt\'s pointer from the block number and the transfer size', async () => {
    const device = new AcceptingDevice([FLASH, OPTIONS]);
    const guard = guardTransport(device, { allowOptionBytes: true });
    await guard.selectAltSetting(0, 0);
    await pointerAt(guard, 0x52001c00);
    const block = new Uint8Array(1024);
    block[0x1d] = 0xcc;
    // Block 3 lands at 0x52001C00 + 1 × 1024 = 0x52002000: byte 0x1D is OPTSR_CUR's RDP.
    await expect(guard.controlOut(dnload(3, 1024), block, 100)).rejects.toBeInstanceOf(RdpLevel2RefusedError);
    block[0x1d] = 0x55;
    // Not RDP level 2, but still the option bytes, through the flash alt.
    await expect(guard.controlOut(dnload(3, 1024), block, 100)).rejects.toThrow('they reach the FLASH registers (0x52002000..), where the option bytes live, through "Internal Flash"');
    // Block 2 stays below the registers.
    await guard.controlOut(dnload(2, 1024), block, 100);
    expect(device.received.filter((r) => r.setup.wValue >= 2)).toHaveLength(1);
    // Through the option-byte alt, only the whole block at its start.
    await guard.selectAltSetting(0, 1);
    await pointerAt(guard, 0x52002020);
    await expect(guard.controlOut(dnload(2, 8), new Uint8Array(8), 100)).rejects.toBeInstanceOf(OptionBytesFormatError);
    await pointerAt(guard, 0x5200201c);
    await guard.controlOut(dnload(2, 128), new Uint8Array(128), 100);
    expect(device.received.filter((r) => r.setup.wValue >= 2)).toHaveLength(2);
  });

  it('places a short last block both where wTransferSize and where its own length put it', async () => {
    const device = new AcceptingDevice([FLASH, OPTIONS]);
    const guard = guardTransport(device, { allowOptionBytes: true });
    await guard.selectAltSetting(0, 0);
    // By wTransferSize (1024) block 4 is at 0x5200241C, clear of RDP; by its length (0x200) at 0x5200201C.
    await pointerAt(guard, 0x52001c1c);
    const block = new Uint8Array(0x200);
    block[1] = 0xcc;
    await expect(guard.controlOut(dnload(4, 0x200), block, 100)).rejects.toBeInstanceOf(RdpLevel2RefusedError);
  });

  it('refuses option-byte writes, Read Unprotect and their erase without the policy; allows flash work', async () => {
    const device = new AcceptingDevice([FLASH, OPTIONS]);
    const guard = guardTransport(device);
    await guard.selectAltSetting(0, 0);
    await pointerAt(guard, 0x08000000);
    await guard.controlOut(dnload(2, 8), new Uint8Array(8), 100);
    await guard.controlOut(dnload(0, 1), Uint8Array.of(0x41), 100);
    await expect(guard.controlOut(dnload(0, 1), Uint8Array.of(0x92), 100)).rejects.toBeInstanceOf(OptionBytesRefusedError);
    await guard.selectAltSetting(0, 1);
    await expect(guard.controlOut(dnload(0, 1), Uint8Array.of(0x41), 100)).rejects.toBeInstanceOf(OptionBytesRefusedError);
    await pointerAt(guard, 0x5200201c);
    await expect(guard.controlOut(dnload(2, 128), new Uint8Array(128), 100)).rejects.toBeInstanceOf(OptionBytesRefusedError);
    expect(device.received.map((r) => Array.from(r.data.subarray(0, 1)))).toEqual([[0x21], [0], [0x41], [0x21]]);
    // Refusals are in the transfer trace, marked as such.
    expect(device.trace.list().map((e) => e.result)).toEqual(['refused (dfu-option-bytes-refused)', 'refused (dfu-option-bytes-refused)', 'refused (dfu-option-bytes-refused)']);
  });

  it('forgets the pointer with a new alt setting, and refuses commands it does not know', async () => {
    const device = new AcceptingDevice([FLASH, OPTIONS]);
    const guard = guardTransport(device, { allowOptionBytes: true });
    await guard.selectAltSetting(0, 1);
    await pointerAt(guard, 0x5200201c);
    // A raw SET_INTERFACE, even to the same alt: the ROM's pointer is no longer the guard's to assume.
    await guard.controlOut({ bmRequestType: 0x01, bRequest: 0x0b, wValue: 1, wIndex: 0, wLength: 0 }, new Uint8Array(), 100);
    await expect(guard.controlOut(dnload(2, 128), new Uint8Array(128), 100)).rejects.toBeInstanceOf(DfuGuardError);
    await expect(guard.controlOut(dnload(0, 1), Uint8Array.of(0x77), 100)).rejects.toThrow('refusing to send the DfuSe command 77');
    await expect(guard.controlOut(dnload(1, 4), new Uint8Array(4), 100)).rejects.toThrow('reserved block number 1');
  });

  it('leaves plain DFU 1.1 devices alone: they have no address pointer and no option bytes', async () => {
    const device = new AcceptingDevice(['application'], 0x0110);
    const guard = guardTransport(device);
    await guard.controlOut(dnload(0, 4), Uint8Array.of(0x92, 0xcc, 0xcc, 0xcc), 100);
    expect(device.received).toHaveLength(1);
  });

  it('only ever narrows: a stricter guard wraps an allowing one, an allowing one keeps a strict one', () => {
    const device = new AcceptingDevice([FLASH]);
    const allowing = guardTransport(device, { allowOptionBytes: true });
    const strict = guardTransport(allowing, { allowOptionBytes: false });
    expect(strict).not.toBe(allowing);
    expect(strict.policy.allowOptionBytes).toBe(false);
    expect(guardTransport(strict, { allowOptionBytes: true })).toBe(strict);
    expect(new OptionBytesGuardTransport(device, { allowOptionBytes: false }).info).toBe(INFO);
  });
});
