// One direction of a VMBus channel: the ring in guest memory (ring-layout.ts) and its two endpoints. RingWriter and
// RingReader follow the rules Linux applies as the other side (drivers/hv/ring_buffer.c hv_ringbuffer_write,
// hv_signal_on_write, hv_pkt_iter_first/close), so the host and the TypeScript guest client use the same code.
// The other side's index, the packet descriptors and pending_send_sz are guest-controlled: each is checked before
// use and a bad one yields a negative RingStatus; nothing is read or written outside the ring. Each endpoint keeps
// its own index privately and only publishes it, so a guest rewriting our index cannot steer our copies.
// The data area is a list of 4 KiB pages, not a double mapping: copies wrap and cross pages explicitly, byte by
// byte with no allocation.
import { PAGE_SHIFT, PAGE_SIZE } from './guest-pages.js';
import { DESC_LEN8, DESC_OFFSET8, DESC_SIZE, writeDescriptor } from './packet.js';
import {
  FEAT_PENDING_SEND_SZ, RING_FEATURE_BITS, RING_INTERRUPT_MASK, RING_PENDING_SEND_SZ, RING_READ_INDEX,
  RING_TRAILER_SIZE, RING_WRITE_INDEX,
} from './ring-layout.js';

/** Outcomes of ring operations. Non-negative values are successes; negative ones mean the ring is corrupt (or, for a writer, the packet bad). */
export enum RingStatus {
  /** Reader: nothing to read. Zero, so `readPacket(out) > 0` means "a packet". */
  Empty = 0,
  Ok = 1,
  /** Written; the reader must be signalled (it was empty and the reader's interrupt_mask is clear). */
  OkSignal = 2,
  /** No room for the packet (the ring is never filled completely). */
  Full = 3,
  BadWriteIndex = -1,
  BadReadIndex = -2,
  /** Fewer bytes available than a descriptor and trailer, or than the descriptor's len8 claims. */
  Truncated = -3,
  /** len8 * 8 smaller than the descriptor. */
  BadLength = -4,
  /** offset8 * 8 smaller than the descriptor or past len8 * 8. */
  BadOffset = -5,
  /** The packet does not fit the caller's buffer (its maximum packet size). */
  TooLarge = -6,
  /** Writer: a packet that could never fit this ring or is not a multiple of 8 bytes. */
  BadPacket = -7,
}

/** Ring memory: the control page and the data pages (from a GPADL's pages [first, first + count)). */
export class RingMemory {
  readonly header: Uint32Array;
  readonly dataSize: number;
  private readonly pages: Uint8Array[];

  private constructor(header: Uint32Array, pages: Uint8Array[]) {
    this.header = header;
    this.pages = pages;
    this.dataSize = pages.length * PAGE_SIZE;
  }

  /** `pages[0]` is the control page, the rest the data area. Null when there is no data page or a page is not an
   *  8-aligned 4 KiB view. */
  static fromPages(pages: readonly Uint8Array[]): RingMemory | null {
    if (pages.length < 2 || pages.length - 1 > 2 ** 19) return null; // indices are u32
    for (const p of pages) if (p.length !== PAGE_SIZE || p.byteOffset % 8 !== 0) return null;
    const h = pages[0];
    return new RingMemory(new Uint32Array(h.buffer, h.byteOffset, PAGE_SIZE / 4), pages.slice(1));
  }

  // Header fields go through Atomics: the other side runs concurrently (a vCPU, or a worker in tests).
  load(field: number): number { return Atomics.load(this.header, field >>> 2); }
  store(field: number, v: number): void { Atomics.store(this.header, field >>> 2, v >>> 0); }

  /** Copies `len` bytes starting at data offset `pos` (wrapping) into dst[dstOff..]. pos < dataSize, len <= dataSize. */
  copyOut(pos: number, dst: Uint8Array, dstOff: number, len: number): void {
    const size = this.dataSize;
    while (len > 0) {
      const page = this.pages[pos >>> PAGE_SHIFT];
      let o = pos & (PAGE_SIZE - 1);
      const n = Math.min(len, PAGE_SIZE - o);
      for (let i = 0; i < n; i++) dst[dstOff++] = page[o++];
      len -= n;
      pos += n;
      if (pos >= size) pos -= size;
    }
  }

  /** Copies src[srcOff..srcOff+len) to data offset `pos` (wrapping). */
  copyIn(pos: number, src: Uint8Array, srcOff: number, len: number): void {
    const size = this.dataSize;
    while (len > 0) {
      const page = this.pages[pos >>> PAGE_SHIFT];
      let o = pos & (PAGE_SIZE - 1);
      const n = Math.min(len, PAGE_SIZE - o);
      for (let i = 0; i < n; i++) page[o++] = src[srcOff++];
      len -= n;
      pos += n;
      if (pos >= size) pos -= size;
    }
  }

  /** Reads the little-endian u16 at data offset `pos` (even, so never split by the wrap). */
  u16(pos: number): number {
    const page = this.pages[pos >>> PAGE_SHIFT];
    const o = pos & (PAGE_SIZE - 1);
    return page[o] | (page[o + 1] << 8);
  }

  /** Writes a u32 at data offset `pos` (a multiple of 4). */
  put32(pos: number, v: number): void {
    const page = this.pages[pos >>> PAGE_SHIFT];
    const o = pos & (PAGE_SIZE - 1);
    page[o] = v & 0xff; page[o + 1] = (v >>> 8) & 0xff; page[o + 2] = (v >>> 16) & 0xff; page[o + 3] = (v >>> 24) & 0xff;
  }

  /** Bytes free for the writer: the ring holds at most dataSize - 8 so that write == read only ever means empty. */
  static free(write: number, read: number, size: number): number { return write >= read ? size - (write - read) : read - write; }
  static used(write: number, read: number, size: number): number { return write >= read ? write - read : size - (read - write); }
}

function validIndex(i: number, size: number): boolean { return i < size && (i & 7) === 0; }

const ZERO8 = new Uint8Array(8);

/** The producer end of a ring. */
export class RingWriter {
  private write: number;
  readonly status: RingStatus;
  private scratch = new Uint8Array(DESC_SIZE);

  constructor(private readonly mem: RingMemory) {
    const w = mem.load(RING_WRITE_INDEX);
    this.status = validIndex(w, mem.dataSize) ? RingStatus.Ok : RingStatus.BadWriteIndex;
    this.write = this.status === RingStatus.Ok ? w : 0;
  }

  /** The largest packet (trailer excluded) an empty ring takes. */
  get maxPacket(): number { return this.mem.dataSize - RING_TRAILER_SIZE - 8; }

  /** Writes a packet whose descriptor the caller built: bytes [0, len) of `packet`, len a multiple of 8, then the
   *  trailer. Returns OkSignal when the reader must be signalled (Linux hv_signal_on_write), Ok, Full, or a
   *  negative status when the reader's index is corrupt or the packet is malformed. */
  writeRaw(packet: Uint8Array, len: number): RingStatus {
    if ((len & 7) !== 0 || len < DESC_SIZE || len > packet.length || len > this.maxPacket) return RingStatus.BadPacket;
    return this.put(packet, 0, len, null, 0, 0);
  }

  /** Writes an in-band style packet (descriptor + payload[off, off+payloadLen) + zero padding + trailer). */
  writePacket(type: number, flags: number, transIdLo: number, transIdHi: number, payload: Uint8Array, off: number, payloadLen: number): RingStatus {
    const total = (DESC_SIZE + payloadLen + 7) & ~7;
    if (payloadLen < 0 || off < 0 || off + payloadLen > payload.length || total > this.maxPacket) return RingStatus.BadPacket;
    writeDescriptor(this.scratch, type, DESC_SIZE, total, flags, transIdLo, transIdHi);
    return this.put(this.scratch, 0, DESC_SIZE, payload, off, payloadLen);
  }

  private put(a: Uint8Array, aOff: number, aLen: number, b: Uint8Array | null, bOff: number, bLen: number): RingStatus {
    const mem = this.mem, size = mem.dataSize;
    const read = mem.load(RING_READ_INDEX);
    if (!validIndex(read, size)) return RingStatus.BadReadIndex;
    const total = (aLen + bLen + 7) & ~7;
    if (RingMemory.free(this.write, read, size) <= total + RING_TRAILER_SIZE) return RingStatus.Full;
    const old = this.write;
    let pos = old;
    mem.copyIn(pos, a, aOff, aLen);
    pos = (pos + aLen) % size;
    if (b) { mem.copyIn(pos, b, bOff, bLen); pos = (pos + bLen) % size; }
    const pad = total - aLen - bLen;
    if (pad) { mem.copyIn(pos, ZERO8, 0, pad); pos = (pos + pad) % size; }
    // Trailer: the previous write index in the upper half (Linux ignores it on read but skips 8 bytes).
    mem.put32(pos, 0);
    mem.put32(pos + 4, old);
    pos = (pos + RING_TRAILER_SIZE) % size;
    this.write = pos;
    mem.store(RING_WRITE_INDEX, pos); // publish only after the bytes are in place
    if (mem.load(RING_PENDING_SEND_SZ) !== 0) mem.store(RING_PENDING_SEND_SZ, 0);
    if (mem.load(RING_INTERRUPT_MASK) !== 0) return RingStatus.Ok;
    return old === mem.load(RING_READ_INDEX) ? RingStatus.OkSignal : RingStatus.Ok;
  }

  /** After Full: announce the bytes wanted (packet length + trailer) in pending_send_sz, so the reader signals
   *  when it frees them. Returns true if the space is there already (the reader raced us): retry at once. */
  waitForSpace(packetLen: number): boolean {
    const mem = this.mem;
    const need = ((packetLen + 7) & ~7) + RING_TRAILER_SIZE;
    mem.store(RING_PENDING_SEND_SZ, need);
    const read = mem.load(RING_READ_INDEX);
    return validIndex(read, mem.dataSize) && RingMemory.free(this.write, read, mem.dataSize) > need;
  }
}

/** The consumer end of a ring. read() copies packets out one by one; commit() publishes the read index. */
export class RingReader {
  private read: number;
  private published: number;
  readonly status: RingStatus;

  constructor(private readonly mem: RingMemory) {
    const r = mem.load(RING_READ_INDEX);
    this.status = validIndex(r, mem.dataSize) ? RingStatus.Ok : RingStatus.BadReadIndex;
    this.read = this.published = this.status === RingStatus.Ok ? r : 0;
  }

  /** Copies the next packet (descriptor to padding, trailer skipped) into `out` and returns its length, or
   *  RingStatus.Empty (0), or a negative RingStatus. `out.length` is the
   *  largest packet accepted (the channel's max packet size). */
  readPacket(out: Uint8Array): number {
    const mem = this.mem, size = mem.dataSize;
    const write = mem.load(RING_WRITE_INDEX);
    if (!validIndex(write, size)) return RingStatus.BadWriteIndex;
    const avail = RingMemory.used(write, this.read, size);
    if (avail === 0) return RingStatus.Empty;
    if (avail < DESC_SIZE + RING_TRAILER_SIZE) return RingStatus.Truncated;
    const len = mem.u16((this.read + DESC_LEN8) % size) * 8;
    const off = mem.u16((this.read + DESC_OFFSET8) % size) * 8;
    if (len < DESC_SIZE) return RingStatus.BadLength;
    if (len + RING_TRAILER_SIZE > avail) return RingStatus.Truncated;
    if (off < DESC_SIZE || off > len) return RingStatus.BadOffset;
    if (len > out.length) return RingStatus.TooLarge;
    mem.copyOut(this.read, out, 0, len);
    this.read = (this.read + len + RING_TRAILER_SIZE) % size;
    return len;
  }

  /** Bytes the writer has published and we have not consumed (0 if its index is corrupt: read reports that). */
  available(): number {
    const write = this.mem.load(RING_WRITE_INDEX);
    return validIndex(write, this.mem.dataSize) ? RingMemory.used(write, this.read, this.mem.dataSize) : 0;
  }

  /** Publishes the read index (Linux hv_pkt_iter_close). Returns true when the writer must be signalled: it
   *  waits for pending_send_sz bytes and this commit took the free space from "not enough" to "enough". */
  commit(): boolean {
    const mem = this.mem, size = mem.dataSize;
    const start = this.published;
    this.published = this.read;
    mem.store(RING_READ_INDEX, this.read);
    if ((mem.load(RING_FEATURE_BITS) & FEAT_PENDING_SEND_SZ) === 0) return false;
    const pending = mem.load(RING_PENDING_SEND_SZ);
    if (pending === 0) return false;
    const write = mem.load(RING_WRITE_INDEX);
    if (!validIndex(write, size)) return false;
    const free = RingMemory.free(write, this.read, size);
    const bytesRead = (this.read - start + size) % size;
    if (free - bytesRead > pending) return false; // there was enough before: the writer was signalled already
    return free > pending;
  }

  /** interrupt_mask = 1 while draining: the writer then does not signal (Linux hv_begin_read). */
  beginDrain(): void { this.mem.store(RING_INTERRUPT_MASK, 1); }

  /** Clears interrupt_mask and returns the bytes that arrived meanwhile: non-zero means drain again, as no signal
   *  will come for them (Linux hv_end_read). */
  endDrain(): number {
    this.mem.store(RING_INTERRUPT_MASK, 0);
    return this.available();
  }
}

/** Zeroes a ring's control page and sets the pending_send_sz feature, as Linux does before OPENCHANNEL. */
export function initRingHeader(mem: RingMemory): void {
  mem.header.fill(0);
  mem.store(RING_FEATURE_BITS, FEAT_PENDING_SEND_SZ);
}
