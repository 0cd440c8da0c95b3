import { describe, expect, it } from 'vitest';
import { UsbError } from '../usb/errors.js';
import type { UsbTransport } from '../usb/transport.js';
import { DfuClient, type DfuClientOptions } from './dfu-client.js';
import { DfuError, DfuStateError, DfuTimeoutError } from './errors.js';
import { ST_ROM_H745_V9_1 } from '../sim/bootloader/profiles.js';
import { describeDfuTransfers, DfuRequest, DfuState, DfuStatus, encodeDfuseCommand } from './protocol.js';
import { plugSimulatedDfuseDevice, type SimulatedDfuseOptions } from './testing/simulated-dfuse.js';

async function session(device: SimulatedDfuseOptions = {}, options: DfuClientOptions = {}) {
  const setup = await plugSimulatedDfuseDevice(device);
  const transport: UsbTransport = await setup.bus.open(setup.info);
  const client = new DfuClient(transport, 0, setup.clock, options);
  // As every DfuSe host does: which memory a DNLOAD addresses depends on the alt setting.
  await client.transport.selectAltSetting(0, 0);
  const mark = transport.trace.mark();
  const transfers = (): string[] => describeDfuTransfers(transport.trace.since(mark));
  return { ...setup, transport, client, transfers };
}

/** A device an earlier program left in `state` with `status` (the board keeps its DFU session). */
const stale = (state: DfuState, status = DfuStatus.Ok): SimulatedDfuseOptions => ({
  resume: { state, status, addressPointer: 0x0800_0000, jumpTarget: 0x0800_0000, altSetting: 0, writesPoisoned: false },
});

describe('DfuClient requests', () => {
  it('reads the status and the state of an idle device', async () => {
    const { client, transfers } = await session();
    expect(await client.getStatus()).toEqual({ status: DfuStatus.Ok, pollTimeoutMs: 0, state: DfuState.DfuIdle, iString: 0 });
    expect(await client.getState()).toBe(DfuState.DfuIdle);
    expect(transfers()).toEqual(['GETSTATUS OK/dfuIDLE ok', 'GETSTATE ok']);
  });

  it('walks a DNLOAD through dfuDNLOAD-SYNC, dfuDNBUSY and dfuDNLOAD-IDLE, then ABORTs to dfuIDLE', async () => {
    const { client, bootloader } = await session();
    await client.download(0, encodeDfuseCommand(0x21, 0x08040000));
    expect(bootloader.state).toBe(DfuState.DfuDnloadSync);
    expect(await client.getState()).toBe(DfuState.DfuDnloadSync);
    expect((await client.getStatus()).state).toBe(DfuState.DfuDnbusy);
    expect((await client.getStatus()).state).toBe(DfuState.DfuDnloadIdle);
    expect(bootloader.addressPointer).toBe(0x08040000);
    await client.abort();
    expect(await client.getState()).toBe(DfuState.DfuIdle);
  });

  it('uploads with the block number in wValue and the interface in wIndex', async () => {
    const { client, chip, transport } = await session();
    chip.flash.program(0x08000000, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const mark = transport.trace.mark();
    expect(Array.from(await client.upload(2, 8))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(transport.trace.since(mark)[0]!.setup).toEqual({ bmRequestType: 0xa1, bRequest: 2, wValue: 2, wIndex: 0, wLength: 8 });
    expect(await client.getState()).toBe(DfuState.DfuUploadIdle);
  });

  it('clears dfuERROR with CLRSTATUS', async () => {
    const { client } = await session(stale(DfuState.DfuError, DfuStatus.ErrTarget));
    expect(await client.getStatus()).toMatchObject({ status: DfuStatus.ErrTarget, state: DfuState.DfuError });
    await client.clearStatus();
    expect(await client.getStatus()).toMatchObject({ status: DfuStatus.Ok, state: DfuState.DfuIdle });
  });

  it('sends DETACH with the timeout in wValue', async () => {
    const { client, transport } = await session();
    const mark = transport.trace.mark();
    await client.detach(255);
    expect(transport.trace.since(mark)[0]!.setup).toEqual({ bmRequestType: 0x21, bRequest: 0, wValue: 255, wIndex: 0, wLength: 0 });
  });
});

describe('DfuClient GETSTATUS stall retries', () => {
  it('retries a stalled early GETSTATUS and gets the answer', async () => {
    const { client, transfers, faults } = await session();
    faults.stallFirstGetStatusAfterCommand({ stalls: 2 });
    await client.download(0, encodeDfuseCommand(0x41, 0x08000000));
    expect((await client.getStatus()).state).toBe(DfuState.DfuDnbusy);
    expect(transfers()).toEqual(['ERASE 0x08000000 ok', 'GETSTATUS stall', 'GETSTATUS stall', 'GETSTATUS OK/dfuDNBUSY ok']);
  });

  it('gives up after the configured number of retries with the stall', async () => {
    const { client, transfers, faults } = await session({}, { statusStallRetries: 3 });
    faults.stallFirstGetStatusAfterCommand({ stalls: 5 });
    await client.download(0, encodeDfuseCommand(0x41, 0x08000000));
    const error = await client.getStatus().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UsbError);
    expect((error as UsbError).failure).toBe('stall');
    expect(transfers().filter((t) => t === 'GETSTATUS stall')).toHaveLength(4);
  });
});

describe('DfuClient.pollUntil', () => {
  it('waits bwPollTimeout between polls on the injected clock', async () => {
    const { client, clock, transport, faults } = await session();
    // The device reports 400 ms and is done after 100: the host still waits the 400 it was told.
    faults.lyingPollTimeout({ reportMs: 400, busyMs: 100, on: 'sector-erase' });
    await client.download(0, encodeDfuseCommand(0x41, 0x08000000));
    const start = clock.now();
    const mark = transport.trace.mark();
    const report = await client.pollUntil({ request: 'ERASE', address: 0x08000000 }, [DfuState.DfuDnloadIdle]);
    expect(report.state).toBe(DfuState.DfuDnloadIdle);
    // Polls at +0 and +400: a GETSTATUS spends 35 µs on a full-speed bus, carried until a whole ms adds up.
    const times = transport.trace.since(mark).map((e) => Math.round(e.t - start));
    expect(times).toEqual([0, 400]);
  });

  it('a poll that comes while the device is still busy waits for its answer (the device NAKs)', async () => {
    const { client, clock, transport, faults } = await session();
    faults.lyingPollTimeout({ reportMs: 400, busyMs: 1000, on: 'sector-erase' });
    await client.download(0, encodeDfuseCommand(0x41, 0x08000000));
    const start = clock.now();
    const mark = transport.trace.mark();
    await client.pollUntil({ request: 'ERASE', address: 0x08000000 }, [DfuState.DfuDnloadIdle]);
    expect(transport.trace.since(mark).map((e) => Math.round(e.t - start))).toEqual([0, 1000]);
  });

  it('polls again at once after a bwPollTimeout of 0, with no floor', async () => {
    const { client, clock, transport, faults } = await session();
    // The device says 0 ms and is busy for 300: the second GETSTATUS goes out at once and is NAKed until done.
    faults.lyingPollTimeout({ reportMs: 0, busyMs: 300, on: 'sector-erase' });
    await client.download(0, encodeDfuseCommand(0x41, 0x08000000));
    const start = clock.now();
    const mark = transport.trace.mark();
    await client.pollUntil({ request: 'ERASE' }, [DfuState.DfuDnloadIdle]);
    expect(transport.trace.since(mark).map((e) => Math.round(e.t - start))).toEqual([0, 300]);
  });

  it('waits the repeat floor once a device says busy with bwPollTimeout 0 again, so it is never polled in a tight loop', async () => {
    // The V9.1 bank-2 erase stays dfuDNBUSY; this ROM variant reports 0 ms each time.
    const zeroPoll = { ...ST_ROM_H745_V9_1, pollTimeoutMs: { ...ST_ROM_H745_V9_1.pollTimeoutMs, sectorErase: 0 } };
    const { client, clock, transport } = await session({ profile: zeroPoll }, { repeatPollFloorMs: 10 });
    await client.download(0, encodeDfuseCommand(0x41, 0x08100000));
    const first = await client.getStatus();
    expect(first).toMatchObject({ state: DfuState.DfuDnbusy, pollTimeoutMs: 0 });
    const mark = transport.trace.mark();
    const start = clock.now();
    const error = await client.pollUntil({ request: 'ERASE' }, [DfuState.DfuDnloadIdle], { first, deadlineMs: 2000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuTimeoutError);
    const times = transport.trace.since(mark).map((e) => e.t - start);
    // The poll after the first 0 goes at once; from the second 0 on, they are 10 ms apart (plus the
    // GETSTATUS wire time, a whole ms every 28 polls or so) until the deadline cuts the last wait short.
    expect(Math.round(times[0]!)).toBe(0);
    const gaps = times.slice(1).map((t, i) => Math.round(t - times[i]!));
    expect(new Set(gaps.slice(0, -1))).toEqual(new Set([10, 11]));
    expect(gaps.at(-1)).toBeLessThanOrEqual(10);
    expect(times.length).toBeGreaterThan(190);
    expect(times.length).toBeLessThanOrEqual(201);
    expect(clock.now() - start).toBe(2000);
  });

  it('raises a zero bwPollTimeout to the floor', async () => {
    const { client, clock, faults } = await session({}, { pollFloorMs: 20 });
    faults.lyingPollTimeout({ reportMs: 0, busyMs: 0, on: 'sector-erase' });
    await client.download(0, encodeDfuseCommand(0x41, 0x08000000));
    const start = clock.now();
    await client.pollUntil({ request: 'ERASE' }, [DfuState.DfuDnloadIdle]);
    // The 20 ms floor instead of 0; the two GETSTATUS transfers' 70 µs of wire time stay in the carry.
    expect(clock.now() - start).toBe(20);
  });

  it('caps an absurd bwPollTimeout (0xFFFFFF, 4.6 hours) at the ceiling', async () => {
    const { client, clock, faults } = await session({}, { pollCeilingMs: 1000 });
    faults.lyingPollTimeout({ reportMs: 0xffffff, busyMs: 500, on: 'sector-erase' });
    await client.download(0, encodeDfuseCommand(0x41, 0x08000000));
    const start = clock.now();
    await client.pollUntil({ request: 'ERASE' }, [DfuState.DfuDnloadIdle]);
    expect(clock.now() - start).toBe(1000);
  });

  it('throws DfuTimeoutError naming the operation and the state once the deadline passes', async () => {
    // The V9.1 ROM's bank-2 erase stays dfuDNBUSY, reporting 1000 ms each time (AN2606 Table 136).
    const { client, clock } = await session({ profile: ST_ROM_H745_V9_1 }, { operationDeadlineMs: 3500 });
    await client.download(0, encodeDfuseCommand(0x41, 0x08100000));
    const start = clock.now();
    const error = await client.pollUntil({ request: 'ERASE', address: 0x08100000 }, [DfuState.DfuDnloadIdle]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuTimeoutError);
    expect((error as DfuTimeoutError).message).toBe('ERASE 0x08100000 did not complete within 3500 ms and 5 GETSTATUS polls, still dfuDNBUSY');
    expect((error as DfuTimeoutError).lastReport?.state).toBe(DfuState.DfuDnbusy);
    expect((error as DfuTimeoutError).hint).toMatch(/operationDeadlineMs/);
    expect(clock.now() - start).toBe(3500);
  });

  it('stops after maxPolls busy answers', async () => {
    const { client } = await session({ profile: ST_ROM_H745_V9_1 });
    await client.download(0, encodeDfuseCommand(0x41, 0x08100000));
    await expect(client.pollUntil({ request: 'ERASE' }, [DfuState.DfuDnloadIdle], { maxPolls: 3 })).rejects.toThrow(/3 GETSTATUS polls/);
  });

  it('throws DfuError with status, state, request and address on an error status', async () => {
    const { client } = await session();
    await client.download(0, encodeDfuseCommand(0x41, 0x09000000));
    const error = await client.pollUntil({ request: 'ERASE', address: 0x09000000 }, [DfuState.DfuDnloadIdle]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DfuError);
    expect((error as DfuError).message).toBe('errTARGET in dfuERROR after ERASE 0x09000000');
    expect((error as DfuError).code).toBe('dfu-status');
    expect((error as DfuError).hint).toMatch(/alternate setting/);
  });

  it('throws DfuStateError on a stable state that is not a target', async () => {
    const { client } = await session();
    await expect(client.pollUntil({ request: 'LEAVE' }, [DfuState.DfuManifest])).rejects.toThrow(
      new DfuStateError({ request: 'LEAVE' }, 'dfuMANIFEST', { status: 0, pollTimeoutMs: 0, state: DfuState.DfuIdle, iString: 0 }).message);
  });
});

describe('DfuClient.toIdle', () => {
  it('ABORTs a stale dfuDNLOAD-IDLE left by an aborted run', async () => {
    const { client, transfers } = await session(stale(DfuState.DfuDnloadIdle));
    expect((await client.toIdle()).state).toBe(DfuState.DfuIdle);
    expect(transfers()).toEqual(['GETSTATUS OK/dfuDNLOAD-IDLE ok', 'ABORT ok', 'GETSTATUS OK/dfuIDLE ok']);
  });

  it('ABORTs dfuUPLOAD-IDLE', async () => {
    const { client, transfers } = await session(stale(DfuState.DfuUploadIdle));
    await client.toIdle();
    expect(transfers()).toEqual(['GETSTATUS OK/dfuUPLOAD-IDLE ok', 'ABORT ok', 'GETSTATUS OK/dfuIDLE ok']);
  });

  it('CLRSTATUSes a stale dfuERROR', async () => {
    const { client, transfers } = await session(stale(DfuState.DfuError, DfuStatus.ErrWrite));
    await client.toIdle();
    expect(transfers()).toEqual(['GETSTATUS errWRITE/dfuERROR ok', 'CLRSTATUS ok', 'GETSTATUS OK/dfuIDLE ok']);
  });

  it('does nothing to an idle device', async () => {
    const { client, transfers } = await session();
    await client.toIdle();
    expect(transfers()).toEqual(['GETSTATUS OK/dfuIDLE ok']);
  });

  it('refuses run-time and manifestation states with a hint', async () => {
    const app = await session(stale(DfuState.AppIdle));
    await expect(app.client.toIdle()).rejects.toMatchObject({ name: 'DfuStateError', hint: expect.stringMatching(/enterDfuMode/) });
    const manifest = await session(stale(DfuState.DfuManifestWaitReset));
    await expect(manifest.client.toIdle()).rejects.toMatchObject({ name: 'DfuStateError', hint: expect.stringMatching(/Reset the board/) });
  });

  it('gives up after a bounded number of steps on a device that will not settle', async () => {
    const { client, faults } = await session(stale(DfuState.DfuError, DfuStatus.ErrTarget));
    // CLRSTATUS is acknowledged but the device stays in dfuERROR.
    faults.ignoreAt({ request: DfuRequest.ClrStatus }, { times: 10 });
    await expect(client.toIdle(3)).rejects.toThrow('expected dfuIDLE within 3 steps after RECOVER TO IDLE, the device reported dfuERROR (errTARGET)');
  });
});
