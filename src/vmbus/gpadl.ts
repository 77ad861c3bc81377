// GPADLs (guest physical address descriptor lists): the guest describes a buffer by its page frames in one
// GPADL_HEADER channel message and as many GPADL_BODY messages as the list needs (Linux: up to 26 PFNs in the
// header, 28 per body, bodies right after the header; see linux-hyperv-guest-contract.md §6.5). This module
// accumulates those messages per GPADL id and validates the finished list against the partition's RAM; the channel
// message dispatch that calls it comes with the VMBus server. Everything here is guest-controlled input: every
// failure is a GpadlError value, never an exception.
import { PAGE_SIZE, type GuestPages } from './guest-pages.js';

// GPADL_HEADER (after the 8-byte channel message header {u32 msgtype, u32 padding}).
export const GPADL_HEADER_CHILD_RELID = 8;
export const GPADL_HEADER_GPADL = 12;
export const GPADL_HEADER_RANGE_BUFLEN = 16; // u16: bytes of range data in all messages (8 per range head + 8 per PFN)
export const GPADL_HEADER_RANGECOUNT = 18; // u16
export const GPADL_HEADER_RANGES = 20; // range data: per range {u32 byte_count, u32 byte_offset, u64 pfn[]}
// GPADL_BODY.
export const GPADL_BODY_MSGNUMBER = 8; // Linux leaves it 0: not relied on
export const GPADL_BODY_GPADL = 12;
export const GPADL_BODY_PFNS = 16;
/** A SynIC message carries at most 240 bytes of payload. */
export const MAX_CHANNEL_MESSAGE = 240;
/** The highest page frame a 52-bit guest physical address can have, plus one. */
const PFN_LIMIT = 2 ** 40;

export enum GpadlError {
  MessageTooShort = 'message-too-short',
  MessageTooLong = 'message-too-long',
  MisalignedMessage = 'misaligned-message',
  DuplicateId = 'duplicate-id',
  UnknownId = 'unknown-id',
  TooManyPending = 'too-many-pending',
  BadRangeBuflen = 'bad-range-buflen',
  BadRangeCount = 'bad-range-count',
  TooManyPfns = 'too-many-pfns',
  BadRange = 'bad-range',
  PfnOutsideRam = 'pfn-outside-ram',
}

export interface GpadlRange {
  byteCount: number;
  byteOffset: number;
  pfns: number[];
  /** The host bytes of each page, in order (mapped once, at creation). */
  pages: Uint8Array[];
}

export interface Gpadl {
  id: number;
  childRelid: number;
  ranges: GpadlRange[];
}

export type GpadlStep =
  | { kind: 'pending'; id: number }
  | { kind: 'complete'; gpadl: Gpadl }
  | { kind: 'error'; id: number | undefined; error: GpadlError };

interface Pending {
  childRelid: number;
  rangeCount: number;
  words: Uint32Array; // range data as (lo, hi) u32 pairs
  filled: number; // u64 words received
}

function err(id: number | undefined, error: GpadlError): GpadlStep { return { kind: 'error', id, error }; }

/** The GPADLs of one VMBus connection: those being assembled and those established, keyed by the guest-chosen id. */
export class GpadlTable {
  private readonly pending = new Map<number, Pending>();
  private readonly established = new Map<number, Gpadl>();

  constructor(private readonly pages: GuestPages, private readonly maxPending = 64) {}

  /** A GPADL_HEADER message (`msg` = the whole message payload, channel message header included). */
  header(msg: Uint8Array): GpadlStep {
    if (msg.length < GPADL_HEADER_RANGES + 8) return err(undefined, GpadlError.MessageTooShort);
    if (msg.length > MAX_CHANNEL_MESSAGE) return err(undefined, GpadlError.MessageTooLong);
    if ((msg.length - GPADL_HEADER_RANGES) % 8 !== 0) return err(undefined, GpadlError.MisalignedMessage);
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const childRelid = dv.getUint32(GPADL_HEADER_CHILD_RELID, true);
    const id = dv.getUint32(GPADL_HEADER_GPADL, true);
    const buflen = dv.getUint16(GPADL_HEADER_RANGE_BUFLEN, true);
    const rangeCount = dv.getUint16(GPADL_HEADER_RANGECOUNT, true);
    if (this.pending.has(id) || this.established.has(id)) return err(id, GpadlError.DuplicateId);
    if (this.pending.size >= this.maxPending) return err(id, GpadlError.TooManyPending);
    // Each range needs its 8-byte head and at least one PFN.
    if (buflen % 8 !== 0 || buflen < 16) return err(id, GpadlError.BadRangeBuflen);
    if (rangeCount === 0 || rangeCount * 16 > buflen) return err(id, GpadlError.BadRangeCount);
    const total = buflen / 8;
    const here = (msg.length - GPADL_HEADER_RANGES) / 8;
    if (here > total) return err(id, GpadlError.TooManyPfns);
    const p: Pending = { childRelid, rangeCount, words: new Uint32Array(total * 2), filled: 0 };
    this.take(p, dv, GPADL_HEADER_RANGES, here);
    return this.advance(id, p);
  }

  /** A GPADL_BODY message continuing the list of a GPADL whose header came earlier. */
  body(msg: Uint8Array): GpadlStep {
    if (msg.length < GPADL_BODY_PFNS + 8) return err(undefined, GpadlError.MessageTooShort);
    if (msg.length > MAX_CHANNEL_MESSAGE) return err(undefined, GpadlError.MessageTooLong);
    if ((msg.length - GPADL_BODY_PFNS) % 8 !== 0) return err(undefined, GpadlError.MisalignedMessage);
    const dv = new DataView(msg.buffer, msg.byteOffset, msg.length);
    const id = dv.getUint32(GPADL_BODY_GPADL, true);
    const p = this.pending.get(id);
    if (!p) return err(id, GpadlError.UnknownId);
    const here = (msg.length - GPADL_BODY_PFNS) / 8;
    if (p.filled + here > p.words.length / 2) {
      this.pending.delete(id); // the list is broken: forget it, the creation fails
      return err(id, GpadlError.TooManyPfns);
    }
    this.take(p, dv, GPADL_BODY_PFNS, here);
    return this.advance(id, p);
  }

  get(id: number): Gpadl | undefined { return this.established.get(id); }
  get size(): number { return this.established.size; }
  get pendingCount(): number { return this.pending.size; }

  /** GPADL_TEARDOWN: forget it (true if it existed, established or still being assembled). */
  teardown(id: number): boolean { return this.established.delete(id) || this.pending.delete(id); }

  /** Drop every GPADL of a channel (rescinded channels get no GPADL_TEARDOWN from Linux). */
  removeChannel(childRelid: number): void {
    for (const [id, g] of this.established) if (g.childRelid === childRelid) this.established.delete(id);
    for (const [id, p] of this.pending) if (p.childRelid === childRelid) this.pending.delete(id);
  }

  private take(p: Pending, dv: DataView, at: number, count: number): void {
    for (let i = 0; i < count; i++, p.filled++) {
      p.words[p.filled * 2] = dv.getUint32(at + i * 8, true);
      p.words[p.filled * 2 + 1] = dv.getUint32(at + i * 8 + 4, true);
    }
  }

  private advance(id: number, p: Pending): GpadlStep {
    if (p.filled < p.words.length / 2) {
      this.pending.set(id, p);
      return { kind: 'pending', id };
    }
    this.pending.delete(id);
    const r = decodeRanges(p, this.pages);
    if (typeof r === 'string') return err(id, r);
    const gpadl: Gpadl = { id, childRelid: p.childRelid, ranges: r };
    this.established.set(id, gpadl);
    return { kind: 'complete', gpadl };
  }
}

function decodeRanges(p: Pending, pages: GuestPages): GpadlRange[] | GpadlError {
  const w = p.words;
  const total = w.length / 2;
  const ranges: GpadlRange[] = [];
  let i = 0;
  for (let r = 0; r < p.rangeCount; r++) {
    if (i >= total) return GpadlError.BadRangeCount;
    const byteCount = w[i * 2];
    const byteOffset = w[i * 2 + 1];
    i++;
    if (byteCount === 0 || byteOffset >= PAGE_SIZE) return GpadlError.BadRange;
    const n = Math.ceil((byteOffset + byteCount) / PAGE_SIZE);
    if (i + n > total) return GpadlError.BadRange;
    const pfns: number[] = [];
    const views: Uint8Array[] = [];
    for (let k = 0; k < n; k++, i++) {
      const pfn = w[i * 2 + 1] * 2 ** 32 + w[i * 2];
      if (pfn >= PFN_LIMIT) return GpadlError.PfnOutsideRam;
      const view = pages.page(pfn);
      if (!view) return GpadlError.PfnOutsideRam;
      pfns.push(pfn);
      views.push(view);
    }
    ranges.push({ byteCount, byteOffset, pfns, pages: views });
  }
  // range_buflen must describe exactly the ranges given: leftover words mean header and list disagree.
  if (i !== total) return GpadlError.BadRangeBuflen;
  return ranges;
}

/** Builds the GPADL_HEADER and GPADL_BODY messages for one single-range GPADL the way Linux 6.1 sends them
 *  (channel.c create_gpadl_header): 26 PFNs in the header, 28 per body. Used by the guest-side test client. */
export function buildGpadlMessages(id: number, childRelid: number, pfns: readonly number[], byteCount = pfns.length * PAGE_SIZE, byteOffset = 0): Uint8Array[] {
  const HEADER_TYPE = 8, BODY_TYPE = 9;
  const out: Uint8Array[] = [];
  const inHeader = Math.min(26, pfns.length);
  const h = new Uint8Array(GPADL_HEADER_RANGES + 8 + inHeader * 8);
  const hv = new DataView(h.buffer);
  hv.setUint32(0, HEADER_TYPE, true);
  hv.setUint32(GPADL_HEADER_CHILD_RELID, childRelid, true);
  hv.setUint32(GPADL_HEADER_GPADL, id, true);
  hv.setUint16(GPADL_HEADER_RANGE_BUFLEN, 8 + 8 * pfns.length, true);
  hv.setUint16(GPADL_HEADER_RANGECOUNT, 1, true);
  hv.setUint32(GPADL_HEADER_RANGES, byteCount, true);
  hv.setUint32(GPADL_HEADER_RANGES + 4, byteOffset, true);
  for (let k = 0; k < inHeader; k++) setU64(hv, GPADL_HEADER_RANGES + 8 + k * 8, pfns[k]);
  out.push(h);
  for (let at = inHeader; at < pfns.length; at += 28) {
    const n = Math.min(28, pfns.length - at);
    const b = new Uint8Array(GPADL_BODY_PFNS + n * 8);
    const bv = new DataView(b.buffer);
    bv.setUint32(0, BODY_TYPE, true);
    bv.setUint32(GPADL_BODY_GPADL, id, true);
    for (let k = 0; k < n; k++) setU64(bv, GPADL_BODY_PFNS + k * 8, pfns[at + k]);
    out.push(b);
  }
  return out;
}

function setU64(dv: DataView, at: number, v: number): void {
  dv.setUint32(at, v % 2 ** 32, true);
  dv.setUint32(at + 4, Math.floor(v / 2 ** 32), true);
}
