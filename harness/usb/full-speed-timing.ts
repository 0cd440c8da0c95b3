import type { SetupPacket } from './spec.js';

// Time a control transfer occupies a full-speed (12 Mbit/s) bus, from the packet formats of
// USB 2.0 §8.3–8.5: a token packet is SYNC 8 + PID 8 + ADDR/ENDP/CRC5 16 + EOP 3 = 35 bit
// times; a data packet 35 + 8 bits per byte (CRC16 replaces ADDR/ENDP/CRC5); a handshake
// 19. Between packets the bus idles for an inter-packet delay, 2 to 7.5 bit times (§7.1.18.1);
// 5 is used. Bit stuffing (up to one bit in seven, data-dependent) and start-of-frame packets
// (35 bits per 1 ms frame) are left out: together they change a transfer by well under 1 %
// for typical DFU payloads.

const FULL_SPEED_BITS_PER_MS = 12_000;
const TOKEN_BITS = 35;
const DATA_PACKET_OVERHEAD_BITS = 35;
const HANDSHAKE_BITS = 19;
const INTER_PACKET_BITS = 5;
const SETUP_DATA_BYTES = 8;

/** Bit times of one transaction (token, data packet of `bytes`, handshake, with their gaps). */
function transactionBits(bytes: number): number {
  return TOKEN_BITS + DATA_PACKET_OVERHEAD_BITS + 8 * bytes + HANDSHAKE_BITS + 3 * INTER_PACKET_BITS;
}

/**
 * Milliseconds a control transfer with `dataBytes` in its data stage spends on a full-speed
 * bus: the SETUP transaction, one transaction per `maxPacketSize0` bytes of data, and the
 * zero-length status transaction. A 1024-byte DNLOAD costs 0.844 ms, a GETSTATUS 0.035 ms.
 */
export function fullSpeedControlTransferMs(dataBytes: number, maxPacketSize0 = 64): number {
  let bits = transactionBits(SETUP_DATA_BYTES) + transactionBits(0);
  for (let left = Math.max(0, dataBytes); left > 0; left -= maxPacketSize0) bits += transactionBits(Math.min(left, maxPacketSize0));
  return bits / FULL_SPEED_BITS_PER_MS;
}

/** {@link fullSpeedControlTransferMs} in the shape the in-process bus takes as its wire-time model. */
export function fullSpeedTransferTime(_setup: SetupPacket, dataBytes: number): number {
  return fullSpeedControlTransferMs(dataBytes);
}
