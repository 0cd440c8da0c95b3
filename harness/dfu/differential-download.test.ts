// Differential flashing against the simulated bootloader: sectors that already hold what a
// download would leave are neither erased nor written, found by reading them back or from the
// board's flash cache, which distrusts itself when anything else may have written the flash.
import { describe, expect, it } from 'vitest';
import { DfuseClient, type DfuProgress } from './dfuse-client.js';
import { FlashContentCache, transferTraceWitness } from './flash-content-cache.js';
import { describeDfuTransfers } from './protocol.js';
import { plugSimulatedDfuseDevice } from './testing/simulated-dfuse.js';

const SECTOR = 128 * 1024;
const BANK1 = 0x08000000;

function pattern(length: number, seed = 0): Uint8Array {
  return new Uint8Array(length).map((_, i) => (i * 7 + seed + (i >> 10)) & 0xff);
}

async function session() {
  const setup = await plugSimulatedDfuseDevice();
  const client = await DfuseClient.open(setup.bus, setup.info, { clock: setup.clock });
  let mark = client.transport.trace.mark();
  const transfers = (): string[] => describeDfuTransfers(client.transport.trace.since(mark));
  const resetTrace = (): void => { mark = client.transport.trace.mark(); };
  /** Erases and data blocks since the last reset of the trace (what changed the flash). */
  const writes = (): string[] => transfers().filter((t) => /^(ERASE|MASS_ERASE|DNLOAD#)/.test(t));
  return { ...setup, client, transfers, resetTrace, writes, flash: setup.chip.flash };
}

/** Three sectors of bank 1, the last one partly. */
const threeSectors = (): { address: number; data: Uint8Array }[] => [{ address: BANK1, data: pattern(2 * SECTOR + 5000) }];

describe('differential download by read-back', () => {
  it('erases and writes only the sector that changed, and the bytes verify', async () => {
    const { client, flash, resetTrace, writes, transfers } = await session();
    await client.download(threeSectors());
    const changed = threeSectors();
    changed[0]!.data[SECTOR + 77]! ^= 0xff;
    resetTrace();
    const report = await client.download(changed, { skipUnchanged: true, verify: true });
    expect(report).toMatchObject({
      erasedSectors: [BANK1 + SECTOR], skippedSectors: [BANK1, BANK1 + 2 * SECTOR], bytesWritten: SECTOR, verified: true,
      differential: { fromCache: [], readBack: [BANK1, BANK1 + SECTOR, BANK1 + 2 * SECTOR] },
    });
    expect(writes()[0]).toBe('ERASE 0x08020000 ok');
    expect(writes().filter((w) => w.startsWith('ERASE'))).toHaveLength(1);
    expect(writes().filter((w) => w.startsWith('DNLOAD#'))).toHaveLength(SECTOR / 1024);
    // The changed sector was read back only until its first differing block.
    expect(transfers().filter((t) => t.startsWith('UPLOAD')).length).toBeLessThan((2 * SECTOR + 5000) / 1024 + 2 + SECTOR / 1024);
    expect(Buffer.from(flash.read(BANK1, changed[0]!.data.length)).equals(Buffer.from(changed[0]!.data))).toBe(true);
  });

  it('an unchanged image: nothing erased, nothing written, verified by the read-back', async () => {
    const { client, resetTrace, writes } = await session();
    await client.download(threeSectors());
    resetTrace();
    const events: DfuProgress[] = [];
    const report = await client.download(threeSectors(), { skipUnchanged: true, verify: true, onProgress: (p) => events.push(p) });
    expect(report).toMatchObject({ erasedSectors: [], bytesWritten: 0, skippedSectors: [BANK1, BANK1 + SECTOR, BANK1 + 2 * SECTOR], verified: true });
    expect(writes()).toEqual([]);
    expect(events.at(-1)).toEqual({ phase: 'compare', bytesDone: 3 * SECTOR, bytesTotal: 3 * SECTOR });
  });

  it('rewrites a sector whose image bytes match but which holds other bytes beyond them, as a cold download would erase them', async () => {
    const { client, flash } = await session();
    const image = [{ address: BANK1, data: pattern(4096) }];
    await client.download(image);
    flash.program(BANK1 + 0x10000, pattern(32, 9));
    const report = await client.download(image, { skipUnchanged: true });
    expect(report.erasedSectors).toEqual([BANK1]);
    expect(flash.read(BANK1 + 0x10000, 32).every((b) => b === 0xff)).toBe(true);
  });

  it('with mass or no erase, downloads cold', async () => {
    const { client } = await session();
    const report = await client.download([{ address: BANK1, data: pattern(64) }], { skipUnchanged: true, erase: 'mass' });
    expect(report.differential).toBeUndefined();
    expect(report.skippedSectors).toEqual([]);
  });
});

describe('differential download with the board\'s flash cache', () => {
  async function cached() {
    const s = await session();
    const cache = new FlashContentCache();
    cache.watch(transferTraceWitness(s.bus.trace));
    return { ...s, cache };
  }

  it('skips what it wrote and read back last time without reading it again', async () => {
    const { client, cache, resetTrace, transfers } = await cached();
    const first = await client.download(threeSectors(), { skipUnchanged: true, verify: true, cache });
    expect(first.erasedSectors).toHaveLength(3);
    expect(cache.sectors).toEqual([BANK1, BANK1 + SECTOR, BANK1 + 2 * SECTOR]);
    const changed = threeSectors();
    changed[0]!.data[2 * SECTOR + 10]! ^= 1;
    resetTrace();
    const report = await client.download(changed, { skipUnchanged: true, verify: true, cache });
    expect(report).toMatchObject({
      erasedSectors: [BANK1 + 2 * SECTOR], skippedSectors: [BANK1, BANK1 + SECTOR],
      differential: { fromCache: [BANK1, BANK1 + SECTOR, BANK1 + 2 * SECTOR], readBack: [] },
    });
    expect(report.differential?.cacheDistrusted).toBeUndefined();
    // Nothing read but the written sector's verify: 5000 bytes, 5 blocks.
    expect(transfers().filter((t) => t.startsWith('UPLOAD'))).toHaveLength(5);
  });

  it('distrusts itself after another session erased a sector, reads everything back, and the result is still right', async () => {
    const { client, cache, bus, info, clock, flash } = await cached();
    await client.download(threeSectors(), { skipUnchanged: true, verify: true, cache });
    await client.close();
    // Another program on the same bus, behind the cache's back.
    const other = await DfuseClient.open(bus, info, { clock });
    await other.eraseSector(BANK1 + SECTOR);
    await other.close();
    const again = await DfuseClient.open(bus, info, { clock });
    const report = await again.download(threeSectors(), { skipUnchanged: true, verify: true, cache });
    expect(report.differential?.cacheDistrusted).toMatch(/^ERASE 0x08020000 reached .* from outside the last download$/);
    expect(report.differential?.readBack).toEqual([BANK1, BANK1 + SECTOR, BANK1 + 2 * SECTOR]);
    expect(report.erasedSectors).toEqual([BANK1 + SECTOR]);
    expect(Buffer.from(flash.read(BANK1, 2 * SECTOR + 5000)).equals(Buffer.from(threeSectors()[0]!.data))).toBe(true);
  });

  it('ignores what cannot change the flash: reads, Set Address Pointer, a write the guard refused', async () => {
    const { client, cache } = await cached();
    await client.download(threeSectors(), { skipUnchanged: true, verify: true, cache });
    await client.upload(BANK1, 2048);
    await client.setAddress(BANK1 + 0x400);
    await expect(client.dfu.download(0, Uint8Array.of(0x92))).rejects.toThrow(/Read Unprotect/);
    const report = await client.download(threeSectors(), { skipUnchanged: true, cache });
    expect(report.differential).toEqual({ fromCache: [BANK1, BANK1 + SECTOR, BANK1 + 2 * SECTOR], readBack: [] });
  });

  it('a cold download with the cache still takes in what happened before it, so a foreign write is never recorded over', async () => {
    const { client, cache, bus, info, clock } = await cached();
    await client.download(threeSectors(), { skipUnchanged: true, verify: true, cache });
    const other = await DfuseClient.open(bus, info, { clock });
    await other.eraseSector(BANK1 + 2 * SECTOR);
    await other.close();
    // Cold, verified, touching only the first sector: that one is recorded again, the others forgotten.
    await client.download([{ address: BANK1, data: pattern(4096, 5) }], { verify: true, cache });
    expect(cache.sectors).toEqual([BANK1]);
  });

  it('forgets sectors written without a read-back, and everything after a failed download', async () => {
    const { client, cache, faults } = await cached();
    await client.download(threeSectors(), { skipUnchanged: true, cache });
    expect(cache.sectors).toEqual([]);
    await client.download(threeSectors(), { skipUnchanged: true, verify: true, cache });
    expect(cache.sectors).toHaveLength(3);
    faults.stallAt({ request: 1, nth: 2 }, { times: 10 });
    const changed = threeSectors();
    changed[0]!.data[0]! ^= 1;
    await expect(client.download(changed, { skipUnchanged: true, verify: true, cache })).rejects.toThrow();
    expect(cache.sectors).toEqual([]);
    expect(cache.consult().distrusted).toBe('a download failed part-way');
  });
});
