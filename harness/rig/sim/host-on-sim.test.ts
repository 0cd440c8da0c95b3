// Acceptance: the host library flashes 2 MiB across both banks of the simulated board and reads
// it back identical, in virtual time that respects the flash's erase timings; and two simulated
// boards in one process share nothing.
import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../clock/virtual-clock.js';
import { DfuseClient } from '../../dfu/dfuse-client.js';
import { DfuDisconnectedError } from '../../dfu/errors.js';
import { DfuRequest } from '../../dfu/protocol.js';
import { SimulatedNucleoH745 } from '../../sim/board/nucleo-h745.js';
import { bootloaderProfiles } from '../../sim/bootloader/profiles.js';
import { InProcessUsbBus } from '../../usb/in-process-bus.js';
import { patternBytes } from '../../image/testing/pattern-bytes.js';

const MiB = 1024 * 1024;
const BANK1 = 0x0800_0000;
const BANK2 = 0x0810_0000;

/** A board powered straight into its ROM bootloader (BOOT0 high), on its own bus and clock. */
async function boardInDfu(portPath: string, serialNumber: string) {
  const clock = new VirtualClock();
  const board = new SimulatedNucleoH745({ clock, profile: bootloaderProfiles['st-rom-v9.2']!, boot0: { kind: 'jumper', level: 1 }, portPath, serialNumber });
  const bus = new InProcessUsbBus({ clock });
  bus.addConnector(board.usb);
  board.powerOn();
  const info = await bus.waitForDevice({ vendorId: 0x0483, productId: 0xdf11, serialNumber }, 5_000);
  return { clock, board, bus, info };
}

describe('the host library on the simulated board', () => {
  it('flashes 2 MiB across both banks and reads it back byte-identical, in at least 16 sector erases of virtual time', async () => {
    const { clock, board, bus, info } = await boardInDfu('1-1', '200364500000');
    const bank1 = patternBytes(MiB, 0x1234_5678);
    const bank2 = patternBytes(MiB, 0x8765_4321);
    const client = await DfuseClient.open(bus, info, { clock });
    const started = clock.now();
    const report = await client.download([{ address: BANK1, data: bank1 }, { address: BANK2, data: bank2 }], { erase: 'touched' });
    const elapsed = clock.now() - started;
    const back = await client.upload(BANK1, 2 * MiB);
    await client.close();

    expect(report.erasedSectors).toHaveLength(16);
    expect(report.erasedSectors[8]).toBe(BANK2);
    expect(report.bytesWritten).toBe(2 * MiB);
    expect(Buffer.from(back.subarray(0, MiB)).equals(Buffer.from(bank1))).toBe(true);
    expect(Buffer.from(back.subarray(MiB)).equals(Buffer.from(bank2))).toBe(true);
    // The flash itself agrees, and every word was programmed once as a whole (no ECC errors).
    expect(Buffer.from(board.flash.read(BANK2, MiB)).equals(Buffer.from(bank2))).toBe(true);
    expect(board.flash.eccErrorWords()).toEqual([]);
    expect(elapsed).toBeGreaterThanOrEqual(16 * board.flash.timing.sectorEraseMs);
    bus.dispose();
  });

  it('reports a board gone during leave\'s SET_ADDRESS as a disconnect, not as a leave', async () => {
    const { clock, board, bus, info } = await boardInDfu('1-1', '200364500000');
    const client = await DfuseClient.open(bus, info, { clock });
    board.faults.bootloader.disconnectAt({ request: DfuRequest.Dnload, nth: 1 });
    const error = await client.leave(BANK1).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuDisconnectedError);
    expect((error as DfuDisconnectedError).code).toBe('dfu-disconnected');
    expect((error as Error).message).toBe('the device left the bus during SET_ADDRESS 0x08000000 of leave, before the leave request was sent');
    expect((error as Error).cause).toMatchObject({ code: 'usb-no-device' });
    // It never jumped: the application did not start.
    expect(board.runningCode).toBe('bootloader');
    bus.dispose();
  });

  it('keeps two boards in one process apart: flashing one leaves the other erased', async () => {
    const a = await boardInDfu('1-1', '3A0043001851');
    const b = await boardInDfu('1-2', '3A0043001852');
    const client = await DfuseClient.open(a.bus, a.info, { clock: a.clock });
    await client.download([{ address: BANK2, data: patternBytes(64 * 1024, 7) }]);
    await client.close();

    expect(Buffer.from(a.board.flash.read(BANK2, 64 * 1024)).equals(Buffer.from(patternBytes(64 * 1024, 7)))).toBe(true);
    expect(b.board.flash.read(BANK1, 2 * MiB).every((byte) => byte === 0xff)).toBe(true);
    // Nor do they share a bus or a clock: b's bus never saw a's device, and b's time stood still.
    expect((await b.bus.list()).map((d) => d.serialNumber)).toEqual(['3A0043001852']);
    expect(b.clock.now()).toBeLessThan(a.clock.now());
    a.bus.dispose();
    b.bus.dispose();
  });
});
