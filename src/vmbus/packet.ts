// VMBus packets (include/linux/hyperv.h struct vmpacket_descriptor and friends; linux-hyperv-guest-contract.md §7.3):
// a 16-byte descriptor {u16 type, u16 offset8, u16 len8, u16 flags, u64 trans_id}, type-specific fields, then the
// payload at offset8 * 8, zero-padded to a multiple of 8 (len8 * 8 bytes in all). Parsers take a packet already
// copied out of the ring (so its length is known and bounded) and return typed errors, never throw.

export const PACKET_TYPE_DATA_INBAND = 6;
export const PACKET_TYPE_DATA_USING_XFER_PAGES = 7;
export const PACKET_TYPE_DATA_USING_GPADL = 8;
export const PACKET_TYPE_DATA_USING_GPA_DIRECT = 9;
export const PACKET_TYPE_COMP = 11;
export const PACKET_FLAG_COMPLETION_REQUESTED = 1;

export const DESC_TYPE = 0;
export const DESC_OFFSET8 = 2;
export const DESC_LEN8 = 4;
export const DESC_FLAGS = 6;
export const DESC_TRANS_ID = 8;
export const DESC_SIZE = 16;

// GPA-direct (type 9): u32 reserved @16, u32 range_count @20, then ranges {u32 byte_count, u32 byte_offset, u64 pfn[]}.
export const GPA_DIRECT_RANGE_COUNT = 20;
export const GPA_DIRECT_RANGES = 24;
// Transfer pages (type 7): u16 xfer_pageset_id @16, u8 sender_owns_set @18, u32 range_cnt @20, {u32 count, u32 offset}[] @24.
export const XFER_PAGESET_ID = 16;
export const XFER_SENDER_OWNS_SET = 18;
export const XFER_RANGE_COUNT = 20;
export const XFER_RANGES = 24;

const PAGE_SIZE = 4096;

export enum PacketError {
  TooShort = 'too-short',
  BadLength = 'bad-length',
  BadOffset = 'bad-offset',
  BadRangeCount = 'bad-range-count',
  BadRange = 'bad-range',
}

function u16(b: Uint8Array, at: number): number { return b[at] | (b[at + 1] << 8); }
function u32(b: Uint8Array, at: number): number { return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0; }
function put16(b: Uint8Array, at: number, v: number): void { b[at] = v & 0xff; b[at + 1] = (v >>> 8) & 0xff; }
function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff; b[at + 1] = (v >>> 8) & 0xff; b[at + 2] = (v >>> 16) & 0xff; b[at + 3] = (v >>> 24) & 0xff;
}

export function packetType(p: Uint8Array): number { return u16(p, DESC_TYPE); }
export function packetOffset8(p: Uint8Array): number { return u16(p, DESC_OFFSET8); }
export function packetLen8(p: Uint8Array): number { return u16(p, DESC_LEN8); }
export function packetFlags(p: Uint8Array): number { return u16(p, DESC_FLAGS); }
/** trans_id as two u32 halves: storvsc uses ids near 2^64, past a double's exact range. */
export function packetTransIdLo(p: Uint8Array): number { return u32(p, DESC_TRANS_ID); }
export function packetTransIdHi(p: Uint8Array): number { return u32(p, DESC_TRANS_ID + 4); }

/** Checks a packet's descriptor against the `length` bytes held: null when sound, else what is wrong. */
export function checkDescriptor(p: Uint8Array, length: number): PacketError | null {
  if (length < DESC_SIZE || p.length < length) return PacketError.TooShort;
  const len = packetLen8(p) * 8;
  if (len < DESC_SIZE || len !== length) return PacketError.BadLength;
  const off = packetOffset8(p) * 8;
  if (off < DESC_SIZE || off > len) return PacketError.BadOffset;
  return null;
}

/** Writes a descriptor. `totalLen` must be a multiple of 8 (the caller pads). */
export function writeDescriptor(p: Uint8Array, type: number, offset: number, totalLen: number, flags: number, transIdLo: number, transIdHi: number): void {
  put16(p, DESC_TYPE, type);
  put16(p, DESC_OFFSET8, offset >>> 3);
  put16(p, DESC_LEN8, totalLen >>> 3);
  put16(p, DESC_FLAGS, flags);
  put32(p, DESC_TRANS_ID, transIdLo);
  put32(p, DESC_TRANS_ID + 4, transIdHi);
}

export interface PageRange { byteCount: number; byteOffset: number; pfns: number[] }

/** The page ranges of a GPA-direct packet (checked by checkDescriptor first). They must end at or before the payload. */
export function parseGpaDirect(p: Uint8Array, length: number): PageRange[] | PacketError {
  const d = checkDescriptor(p, length);
  if (d) return d;
  const payload = packetOffset8(p) * 8;
  if (payload < GPA_DIRECT_RANGES) return PacketError.BadOffset;
  const count = u32(p, GPA_DIRECT_RANGE_COUNT);
  // Each range is at least 16 bytes: this bounds the loop before anything is allocated.
  if (count === 0 || count > (payload - GPA_DIRECT_RANGES) / 16) return PacketError.BadRangeCount;
  const out: PageRange[] = [];
  let at = GPA_DIRECT_RANGES;
  for (let r = 0; r < count; r++) {
    if (at + 8 > payload) return PacketError.BadRange;
    const byteCount = u32(p, at), byteOffset = u32(p, at + 4);
    if (byteCount === 0 || byteOffset >= PAGE_SIZE) return PacketError.BadRange;
    const n = Math.ceil((byteOffset + byteCount) / PAGE_SIZE);
    at += 8;
    if (at + n * 8 > payload) return PacketError.BadRange;
    const pfns: number[] = [];
    for (let k = 0; k < n; k++, at += 8) pfns.push(u32(p, at + 4) * 2 ** 32 + u32(p, at));
    out.push({ byteCount, byteOffset, pfns });
  }
  return out;
}

export interface XferPages { pagesetId: number; senderOwnsSet: boolean; ranges: { byteCount: number; byteOffset: number }[] }

/** The transfer-page ranges of a type 7 packet; offset8 must cover them. */
export function parseXferPages(p: Uint8Array, length: number): XferPages | PacketError {
  const d = checkDescriptor(p, length);
  if (d) return d;
  const payload = packetOffset8(p) * 8;
  if (payload < XFER_RANGES) return PacketError.BadOffset;
  const count = u32(p, XFER_RANGE_COUNT);
  if (count > (payload - XFER_RANGES) / 8) return PacketError.BadRangeCount;
  const ranges: { byteCount: number; byteOffset: number }[] = [];
  for (let r = 0; r < count; r++) ranges.push({ byteCount: u32(p, XFER_RANGES + r * 8), byteOffset: u32(p, XFER_RANGES + r * 8 + 4) });
  return { pagesetId: u16(p, XFER_PAGESET_ID), senderOwnsSet: p[XFER_SENDER_OWNS_SET] !== 0, ranges };
}

/** Builds a transfer-page packet (host -> guest, netvsc receive) into `out`; returns its length. */
export function buildXferPages(out: Uint8Array, pagesetId: number, ranges: readonly { byteCount: number; byteOffset: number }[], payload: Uint8Array, flags: number, transIdLo: number, transIdHi: number): number {
  const off = XFER_RANGES + ranges.length * 8;
  const len = (off + payload.length + 7) & ~7;
  out.fill(0, 0, len);
  writeDescriptor(out, PACKET_TYPE_DATA_USING_XFER_PAGES, off, len, flags, transIdLo, transIdHi);
  put16(out, XFER_PAGESET_ID, pagesetId);
  out[XFER_SENDER_OWNS_SET] = 0;
  put32(out, XFER_RANGE_COUNT, ranges.length);
  ranges.forEach((r, i) => { put32(out, XFER_RANGES + i * 8, r.byteCount); put32(out, XFER_RANGES + i * 8 + 4, r.byteOffset); });
  out.set(payload, off);
  return len;
}

/** Builds a GPA-direct packet (guest -> host, storvsc/netvsc style) into `out`; returns its length. */
export function buildGpaDirect(out: Uint8Array, ranges: readonly PageRange[], payload: Uint8Array, flags: number, transIdLo: number, transIdHi: number): number {
  let off = GPA_DIRECT_RANGES;
  for (const r of ranges) off += 8 + r.pfns.length * 8;
  const len = (off + payload.length + 7) & ~7;
  out.fill(0, 0, len);
  writeDescriptor(out, PACKET_TYPE_DATA_USING_GPA_DIRECT, off, len, flags, transIdLo, transIdHi);
  put32(out, GPA_DIRECT_RANGE_COUNT, ranges.length);
  let at = GPA_DIRECT_RANGES;
  for (const r of ranges) {
    put32(out, at, r.byteCount); put32(out, at + 4, r.byteOffset); at += 8;
    for (const pfn of r.pfns) { put32(out, at, pfn % 2 ** 32); put32(out, at + 4, Math.floor(pfn / 2 ** 32)); at += 8; }
  }
  out.set(payload, off);
  return len;
}
