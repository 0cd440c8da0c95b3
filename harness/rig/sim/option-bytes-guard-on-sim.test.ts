// The option-byte guard from every public entry point, against the simulated board: whatever
// the caller holds (a raw DfuClient, a DfuseClient, its `dfu` or `transport` member, a rig's
// session or its bus), RDP level 2 never reaches the device, and the rest of the option bytes
// only where the session's policy allows them.
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { DfuClient } from '../../dfu/dfu-client.js';
import { DfuseClient } from '../../dfu/dfuse-client.js';
import { OptionBytesRefusedError, RdpLevel2RefusedError } from '../../dfu/errors.js';
import { DfuGuardError } from '../../dfu/guarded-transport.js';
import { DfuRequest, DfuState, dfuSetup, encodeDfuseCommand } from '../../dfu/protocol.js';
import { SimulatedNucleoH745 } from '../../sim/board/nucleo-h745.js';
import { bootloaderProfiles } from '../../sim/bootloader/profiles.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import type { TraceEntry } from '../../usb/trace.js';
import { parseRigs } from '../config/load-rigs.js';
import { syntheticReferenceImages } from '../reference-images.js';
import { createSimRig } from './sim-rig.js';

const OB_BASE = 0x5200201c;

/** A board powered straight into its ROM bootloader (BOOT0 high), on its own bus and clock. */
async function boardInDfu() {
  const clock = new VirtualClock();
  const board = new SimulatedNucleoH745({ clock, profile: bootloaderProfiles['st-rom-v9.2']!, boot0: { kind: 'jumper', level: 1 }, portPath: '1-1', serialNumber: '200364500000' });
  const bus = new InProcessUsbBus({ clock });
  bus.addConnector(board.usb);
  board.powerOn();
  const info = await bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11 }, 5_000);
  return { clock, board, bus, info };
}

/** The option-byte block as the board holds it, with RDP (byte 1 of OPTSR_CUR and of OPTSR_PRG) set to `rdp`. */
function blockWithRdp(board: SimulatedNucleoH745, rdp: number): Uint8Array {
  const block = board.optionBytes.readBlock();
  block[1] = rdp;
  block[5] = rdp;
  return block;
}

/** DNLOADs in `entries` that reached the device (the guard records refused ones as such). */
const dnloadsSent = (entries: readonly TraceEntry[]): TraceEntry[] =>
  entries.filter((e) => e.setup?.bRequest === DfuRequest.Dnload && (e.setup.bmRequestType & 0x60) === 0x20 && !e.result.startsWith('refused'));

/** Set Address Pointer through a raw client, confirmed by GETSTATUS, as the ROM expects. */
async function setPointer(dfu: DfuClient, address: number): Promise<void> {
  await dfu.download(0, encodeDfuseCommand(0x21, address));
  await dfu.pollUntil({ request: 'SET_ADDRESS', address }, [DfuState.DfuDnloadIdle]);
}

describe('the option-byte guard on the simulated board', () => {
  it('refuses RDP level 2 from a raw DfuClient, even one allowed to write option bytes', async () => {
    const { clock, board, bus, info } = await boardInDfu();
    const before = board.optionBytes.programmedValues();
    const dfu = new DfuClient(await bus.open(info), 0, clock, { allowOptionBytes: true });
    await dfu.transport.selectAltSetting(0, 1);
    await setPointer(dfu, OB_BASE);
    const mark = bus.trace.mark();
    await expect(dfu.download(2, blockWithRdp(board, 0xcc))).rejects.toBeInstanceOf(RdpLevel2RefusedError);
    expect(dnloadsSent(bus.trace.since(mark))).toEqual([]);
    expect(bus.trace.since(mark).map((e) => e.result)).toEqual(['refused (dfu-rdp2-refused)']);
    expect(board.optionBytes.programmedValues()).toEqual(before);
    expect(board.optionBytes.systemMemoryBootDisabled).toBe(false);
    bus.dispose();
  });

  it('lets an allowed raw session write RDP level 1, and refuses it to a session that is not allowed', async () => {
    const { clock, board, bus, info } = await boardInDfu();
    const strict = new DfuClient(await bus.open(info), 0, clock);
    await strict.transport.selectAltSetting(0, 1);
    await setPointer(strict, OB_BASE);
    await expect(strict.download(2, blockWithRdp(board, 0x55))).rejects.toBeInstanceOf(OptionBytesRefusedError);
    expect(board.optionBytes.programmedRdpLevel()).toBe(0);

    const allowed = new DfuClient(await bus.open(info), 0, clock, { allowOptionBytes: true });
    await allowed.transport.selectAltSetting(0, 1);
    await setPointer(allowed, OB_BASE);
    await allowed.download(2, blockWithRdp(board, 0x55));
    // The write runs on the first GETSTATUS and ends in a system reset (AN3156 §5.1).
    await allowed.getStatus().catch(() => undefined);
    expect(board.optionBytes.programmedRdpLevel()).toBe(1);
    bus.dispose();
  });

  it('guards the DfuseClient\'s public dfu and transport members as well as its methods', async () => {
    const { clock, board, bus, info } = await boardInDfu();
    const before = board.optionBytes.programmedValues();
    const client = await DfuseClient.open(bus, info, { clock, altSetting: 'Option Bytes', allowOptionBytes: true });
    await client.setAddress(OB_BASE);
    const mark = bus.trace.mark();
    await expect(client.dfu.download(2, blockWithRdp(board, 0xcc))).rejects.toBeInstanceOf(RdpLevel2RefusedError);
    const block = blockWithRdp(board, 0xcc);
    await expect(client.transport.controlOut(dfuSetup(DfuRequest.Dnload, 'out', 0, 2, block.length), block, 1000)).rejects.toBeInstanceOf(RdpLevel2RefusedError);
    await expect(client.download([{ address: OB_BASE, data: blockWithRdp(board, 0xcc) }], { allowOptionBytes: true })).rejects.toBeInstanceOf(RdpLevel2RefusedError);
    expect(dnloadsSent(bus.trace.since(mark))).toEqual([]);
    expect(board.optionBytes.programmedValues()).toEqual(before);
    await client.close();
    bus.dispose();
  });

  it('refuses Read Unprotect and a mass erase of the option-byte memory to a session without the policy, whatever the call says', async () => {
    const { clock, board, bus, info } = await boardInDfu();
    board.loadImage(0x08000000, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const client = await DfuseClient.open(bus, info, { clock });
    const mark = bus.trace.mark();
    await expect(client.readUnprotect({ allowOptionBytes: true })).rejects.toBeInstanceOf(OptionBytesRefusedError);
    await expect(client.dfu.download(0, Uint8Array.of(0x92))).rejects.toThrow('refusing to send Read Unprotect');
    await client.selectAlt('Option Bytes');
    await expect(client.massErase()).rejects.toThrow('refusing to mass-erase the option-byte memory without allowOptionBytes');
    await expect(client.dfu.download(0, encodeDfuseCommand(0x41, OB_BASE))).rejects.toBeInstanceOf(OptionBytesRefusedError);
    expect(dnloadsSent(bus.trace.since(mark))).toEqual([]);
    expect(Array.from(board.flash.read(0x08000000, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    await client.close();
    bus.dispose();
  });

  it('refuses data whose address it cannot know: no pointer yet, an unconfirmed pointer, or no alt setting selected', async () => {
    const { clock, board, bus, info } = await boardInDfu();
    const dfu = new DfuClient(await bus.open(info), 0, clock, { allowOptionBytes: true });
    await expect(dfu.download(2, new Uint8Array(128))).rejects.toThrow('refusing to write data before an alternate setting was selected');
    await dfu.transport.selectAltSetting(0, 0);
    await expect(dfu.download(2, new Uint8Array(64))).rejects.toThrow('refusing to write data while the DfuSe address pointer is unknown');
    await setPointer(dfu, 0x08000000);
    // The next pointer command has not run yet (it runs on GETSTATUS): the device may hold either value.
    await dfu.download(0, encodeDfuseCommand(0x21, OB_BASE));
    await expect(dfu.download(2, blockWithRdp(board, 0xcc))).rejects.toBeInstanceOf(DfuGuardError);
    expect(board.optionBytes.systemMemoryBootDisabled).toBe(false);
    bus.dispose();
  });

  it('follows the alt setting across two sessions on one device', async () => {
    const { clock, board, bus, info } = await boardInDfu();
    const flash = await DfuseClient.open(bus, info, { clock, allowOptionBytes: true });
    const options = await DfuseClient.open(bus, info, { clock, allowOptionBytes: true, altSetting: 'Option Bytes' });
    await options.setAddress(OB_BASE);
    // The flash session still believes alt 0, but the device is on the option bytes now.
    await expect(flash.dfu.download(2, blockWithRdp(board, 0xcc))).rejects.toBeInstanceOf(RdpLevel2RefusedError);
    expect(board.optionBytes.systemMemoryBootDisabled).toBe(false);
    bus.dispose();
  });
});

const RIGS = (allow: boolean): string => `
rigs:
  strict:
    kind: sim
    allowOptionBytes: ${allow}
`;

describe('sessions a rig hands out carry its policy', () => {
  it('refuses option bytes on every path of a rig with allowOptionBytes: false', async () => {
    const config = parseRigs(RIGS(false), 'rigs.yaml').rigs.get('strict')!;
    const rig = await createSimRig(config, syntheticReferenceImages());
    try {
      await rig.enterDfu('console-jump');
      const before = rig.backends.board.optionBytes.programmedValues();
      const ob = await rig.openDfu({ altSetting: 'Option Bytes' });
      expect(ob.allowOptionBytes).toBe(false);
      const level1 = blockWithRdp(rig.backends.board, 0x55);
      await expect(ob.download([{ address: OB_BASE, data: level1 }], { allowOptionBytes: true })).rejects.toBeInstanceOf(OptionBytesRefusedError);
      await ob.setAddress(OB_BASE);
      await expect(ob.dfu.download(2, level1)).rejects.toBeInstanceOf(OptionBytesRefusedError);
      await ob.close();
      // A caller cannot raise the policy through the options either.
      const sneaky = await rig.openDfu({ allowOptionBytes: true } as never);
      await expect(sneaky.readUnprotect({ allowOptionBytes: true })).rejects.toBeInstanceOf(OptionBytesRefusedError);
      await sneaky.close();
      // Nor by opening the rig's bus directly.
      const raw = new DfuClient(await rig.bus.open((await rig.bus.list({ productId: 0xdf11 }))[0]!), 0, rig.clock, { allowOptionBytes: true });
      await expect(raw.download(0, Uint8Array.of(0x92))).rejects.toBeInstanceOf(OptionBytesRefusedError);
      await raw.transport.close();
      expect(rig.backends.board.optionBytes.programmedValues()).toEqual(before);
      await expect(rig.flash({ source: 'ob', segments: [{ address: OB_BASE, data: level1 }] })).rejects.toBeInstanceOf(OptionBytesRefusedError);
      expect(rig.backends.board.optionBytes.programmedValues()).toEqual(before);
    } finally {
      await rig.close();
    }
  });

  it('lets a rig with allowOptionBytes: true write RDP level 1 but never level 2', async () => {
    const config = parseRigs(RIGS(true), 'rigs.yaml').rigs.get('strict')!;
    const rig = await createSimRig(config, syntheticReferenceImages());
    try {
      await rig.enterDfu('console-jump');
      const ob = await rig.openDfu({ altSetting: 'Option Bytes' });
      await expect(ob.download([{ address: OB_BASE, data: blockWithRdp(rig.backends.board, 0xcc) }], { allowOptionBytes: true })).rejects.toBeInstanceOf(RdpLevel2RefusedError);
      const report = await ob.download([{ address: OB_BASE, data: blockWithRdp(rig.backends.board, 0x55) }], { allowOptionBytes: true });
      expect(report.outcome).toBe('will-reset');
      expect(rig.backends.board.optionBytes.programmedRdpLevel()).toBe(1);
    } finally {
      await rig.close();
    }
  });
});
