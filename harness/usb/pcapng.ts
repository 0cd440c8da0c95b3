// A pcapng file writer: one section, one interface, enhanced packet blocks. Only what a capture
// of recorded traffic needs. Block layouts from the PCAP Next Generation Dump File Format
// (IETF draft-ietf-opsawg-pcapng): §4.1 Section Header Block, §4.2 Interface Description
// Block, §4.3 Enhanced Packet Block, §3.5 options. Written little-endian; readers follow the
// byte-order magic.

const BLOCK_SHB = 0x0a0d0d0a;
const BLOCK_IDB = 0x00000001;
const BLOCK_EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

const OPT_END = 0;
const OPT_COMMENT = 1;
const SHB_USERAPPL = 4;
const IF_NAME = 2;
const IF_TSRESOL = 9;

/** One captured packet. */
export interface PcapngPacket {
  /** Microseconds since the Unix epoch (the interface's resolution is 10^-6 s). */
  timestampUs: bigint;
  /** The bytes captured, in the interface's link-layer format. */
  data: Uint8Array;
  /** The packet's length on the wire, when more than was captured. */
  originalLength?: number;
  comment?: string;
}

/** What the file says about itself and its one interface. */
export interface PcapngCapture {
  /** LINKTYPE_* value of the interface (tcpdump.org link-layer header types). */
  linkType: number;
  interfaceName?: string;
  /** The writing application, stored as shb_userappl. */
  application?: string;
  comment?: string;
  packets: readonly PcapngPacket[];
}

const encoder = new TextEncoder();

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Options as pcapng stores them: code, length, value padded to 32 bits, then opt_endofopt. */
function encodeOptions(options: readonly [code: number, value: Uint8Array][]): Uint8Array {
  if (options.length === 0) return new Uint8Array(0);
  const size = options.reduce((n, [, v]) => n + 4 + pad4(v.length), 0) + 4;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [code, value] of options) {
    view.setUint16(at, code, true);
    view.setUint16(at + 2, value.length, true);
    out.set(value, at + 4);
    at += 4 + pad4(value.length);
  }
  view.setUint16(at, OPT_END, true);
  view.setUint16(at + 2, 0, true);
  return out;
}

function textOptions(entries: readonly [number, string | undefined][]): [number, Uint8Array][] {
  return entries.filter((e): e is [number, string] => e[1] !== undefined && e[1] !== '').map(([code, text]) => [code, encoder.encode(text)]);
}

/** A block: type, total length, body, total length again. */
function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  out.set(body, 8);
  view.setUint32(total - 4, total, true);
  return out;
}

function sectionHeader(capture: PcapngCapture): Uint8Array {
  const options = encodeOptions(textOptions([[OPT_COMMENT, capture.comment], [SHB_USERAPPL, capture.application]]));
  const body = new Uint8Array(16 + options.length);
  const view = new DataView(body.buffer);
  view.setUint32(0, BYTE_ORDER_MAGIC, true);
  view.setUint16(4, 1, true);
  view.setUint16(6, 0, true);
  // Section length unknown (-1): readers then walk the blocks.
  view.setBigInt64(8, -1n, true);
  body.set(options, 16);
  return block(BLOCK_SHB, body);
}

function interfaceDescription(capture: PcapngCapture): Uint8Array {
  const options = encodeOptions([
    ...textOptions([[IF_NAME, capture.interfaceName]]),
    [IF_TSRESOL, Uint8Array.of(6)],
  ]);
  const body = new Uint8Array(8 + options.length);
  const view = new DataView(body.buffer);
  view.setUint16(0, capture.linkType, true);
  view.setUint16(2, 0, true);
  view.setUint32(4, 0, true); // snaplen 0: no limit
  body.set(options, 8);
  return block(BLOCK_IDB, body);
}

function enhancedPacket(packet: PcapngPacket): Uint8Array {
  const options = encodeOptions(textOptions([[OPT_COMMENT, packet.comment]]));
  const dataLength = pad4(packet.data.length);
  const body = new Uint8Array(20 + dataLength + options.length);
  const view = new DataView(body.buffer);
  view.setUint32(0, 0, true); // interface 0
  view.setUint32(4, Number(packet.timestampUs >> 32n), true);
  view.setUint32(8, Number(packet.timestampUs & 0xffffffffn), true);
  view.setUint32(12, packet.data.length, true);
  view.setUint32(16, Math.max(packet.originalLength ?? 0, packet.data.length), true);
  body.set(packet.data, 20);
  body.set(options, 20 + dataLength);
  return block(BLOCK_EPB, body);
}

/** The whole capture as a pcapng file. */
export function writePcapng(capture: PcapngCapture): Uint8Array {
  const blocks = [sectionHeader(capture), interfaceDescription(capture), ...capture.packets.map(enhancedPacket)];
  const out = new Uint8Array(blocks.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of blocks) {
    out.set(b, at);
    at += b.length;
  }
  return out;
}
