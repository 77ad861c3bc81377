// The guest side of the VMBus channel protocol in TypeScript, speaking to the server over a LoopbackSynic the way
// Linux 6.1's hv_vmbus does (connection.c vmbus_negotiate_version, channel_mgmt.c offers, channel.c GPADLs and
// open/close, ring_buffer.c signalling): for tests of the server, the VSPs and the integration services without a
// booted guest. Guest RAM is a RamGuestPages over one buffer with a page allocator. Everything here is synchronous
// except the wait* helpers, which poll for VSPs that answer later (disk I/O).
import { buildGpadlMessages } from './gpadl.js';
import { PAGE_SIZE, RamGuestPages } from './guest-pages.js';
import { GuestRingClient } from './guest-client.js';
import type { LoopbackSynic } from './loopback-synic.js';
import {
  CHANNELMSG_ALLOFFERS_DELIVERED, CHANNELMSG_CLOSECHANNEL, CHANNELMSG_GPADL_CREATED, CHANNELMSG_GPADL_TORNDOWN,
  CHANNELMSG_MODIFYCHANNEL_RESPONSE, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OPENCHANNEL_RESULT,
  CHANNELMSG_RELID_RELEASED, CHANNELMSG_REQUESTOFFERS, CHANNELMSG_RESCIND_CHANNELOFFER, CHANNELMSG_UNLOAD_RESPONSE,
  CHANNELMSG_VERSION_RESPONSE, encodeHeaderOnly, encodeRelidMessage, HVMSG_CHANNEL, messageName, readU32,
  VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_CONNECTION_ID_4, VMBUS_MESSAGE_SINT,
} from './messages/header.js';
import { decodeGpadlCreated, decodeGpadlTorndown, encodeGpadlTeardown } from './messages/gpadl.js';
import { decodeModifyChannelResponse, encodeModifyChannel } from './messages/modify.js';
import { decodeOffer, type DecodedOffer } from './messages/offer.js';
import { decodeOpenResult, encodeOpenChannel } from './messages/open.js';
import { encodeUnload } from './messages/unload.js';
import { decodeVersionResponse, encodeInitiateContact, SUPPORTED_VERSIONS, VERSION_WIN10_V5 } from './messages/version.js';
import {
  buildGpaDirect, PACKET_TYPE_DATA_INBAND, packetFlags, packetOffset8, packetTransIdHi, packetTransIdLo,
  packetType, type PageRange,
} from './packet.js';
import { RingMemory, RingStatus } from './ring-buffer.js';

/** Linux's first GPADL handle (channel.c next_gpadl_handle starts at 0xE1E10). */
export const FIRST_GPADL_HANDLE = 0xe1e10;

/** Guest RAM for the loopback: one buffer at page frame `firstPfn`, handed out page by page. */
export class GuestRam {
  readonly bytes: Uint8Array;
  readonly pages: RamGuestPages;
  private next: number;
  private readonly freed = new Map<number, number[][]>();

  constructor(readonly firstPfn: number, pageCount: number, shared = false) {
    this.bytes = new Uint8Array(shared ? new SharedArrayBuffer(pageCount * PAGE_SIZE) : new ArrayBuffer(pageCount * PAGE_SIZE));
    this.pages = new RamGuestPages([{ firstPfn, bytes: this.bytes }]);
    this.next = firstPfn;
  }

  /** `count` consecutive zeroed page frames. Throws when RAM runs out (a test sizing error). */
  alloc(count: number): number[] {
    const again = this.freed.get(count)?.pop();
    if (again) {
      for (const p of again) this.page(p).fill(0);
      return again;
    }
    if (this.next + count > this.firstPfn + this.bytes.length / PAGE_SIZE) throw new Error(`GuestRam: out of pages (${count} wanted)`);
    const pfns = Array.from({ length: count }, (_, i) => this.next + i);
    this.next += count;
    return pfns;
  }

  /** Gives back a run from alloc() for a later alloc of the same size (closed channels' rings). */
  free(pfns: number[]): void {
    const list = this.freed.get(pfns.length) ?? [];
    list.push(pfns);
    this.freed.set(pfns.length, list);
  }

  /** The bytes of page frame `pfn` (a view). */
  page(pfn: number): Uint8Array {
    const p = this.pages.page(pfn);
    if (!p) throw new Error(`GuestRam: pfn 0x${pfn.toString(16)} is not RAM`);
    return p;
  }
}

export interface ReceivedPacket {
  type: number;
  flags: number;
  transIdLo: number;
  transIdHi: number;
  /** A copy of the payload (offset8 * 8 to the end of the packet, padding included). */
  payload: Uint8Array;
}

export interface OpenOptions {
  /** Pages of each ring, control page included (Linux hv_utils: 4 each; storvsc 32). Default 4 and 4. */
  sendPages?: number;
  recvPages?: number;
  targetVp?: number;
  userData?: Uint8Array;
}

/** An open channel from the guest's side: the rings Linux would set up and its signalling rules. */
export class GuestChannel {
  readonly rings: GuestRingClient;
  private readonly buf = new Uint8Array(64 * 1024);
  private readonly scratch = new Uint8Array(64 * 1024);

  constructor(
    private readonly bus: GuestBusClient,
    readonly relid: number,
    readonly connectionId: number,
    readonly ringGpadl: number,
    readonly targetVp: number,
    readonly ringPfns: number[],
    sendPages: number,
  ) {
    const ram = bus.ram;
    const views = ringPfns.map((p) => ram.page(p));
    const g2h = RingMemory.fromPages(views.slice(0, sendPages));
    const h2g = RingMemory.fromPages(views.slice(sendPages));
    if (!g2h || !h2g) throw new Error('GuestChannel: bad ring pages');
    this.rings = new GuestRingClient({ guestToHost: g2h, hostToGuest: h2g });
  }

  /** Writes an in-band (or completion) packet and signals the host as Linux does (hv_signal_on_write). */
  send(payload: Uint8Array, opts: { type?: number; flags?: number; transIdLo?: number; transIdHi?: number } = {}): RingStatus {
    const st = this.rings.outgoing.writePacket(opts.type ?? PACKET_TYPE_DATA_INBAND, opts.flags ?? 0, opts.transIdLo ?? 0, opts.transIdHi ?? 0, payload, 0, payload.length);
    if (st === RingStatus.OkSignal) this.signal();
    return st;
  }

  /** Writes a GPA-direct packet (storvsc/netvsc shape) and signals by the same rule. */
  sendGpaDirect(ranges: readonly PageRange[], payload: Uint8Array, opts: { flags?: number; transIdLo?: number; transIdHi?: number } = {}): RingStatus {
    const len = buildGpaDirect(this.scratch, ranges, payload, opts.flags ?? 0, opts.transIdLo ?? 0, opts.transIdHi ?? 0);
    return this.sendRaw(this.scratch, len);
  }

  /** Writes packet bytes exactly as given (descriptor included): for hostile tests. */
  sendRaw(packet: Uint8Array, len: number): RingStatus {
    const st = this.rings.outgoing.writeRaw(packet, len);
    if (st === RingStatus.OkSignal) this.signal();
    return st;
  }

  /** HvSignalEvent on the channel's connection id. */
  signal(): number { return this.bus.synic.guestSignalEvent(this.connectionId, 0); }

  /** Whether the host signalled this channel (test-and-clear of SIEF flag relid on the target VP). */
  takeSignal(): boolean { return this.bus.synic.takeEvent(this.targetVp, VMBUS_MESSAGE_SINT, this.relid); }

  /** The next packet from the host, or null when the ring is empty. Throws if the host broke the ring. After
   *  reading, signals the host when it waits for room (hv_pkt_iter_close and pending_send_sz). */
  receive(): ReceivedPacket | null {
    const n = this.rings.incoming.readPacket(this.buf);
    if (n === RingStatus.Empty) return null;
    if (n < 0) throw new Error(`GuestChannel relid ${this.relid}: host -> guest ring: ${RingStatus[n]}`);
    const b = this.buf;
    const p: ReceivedPacket = {
      type: packetType(b), flags: packetFlags(b), transIdLo: packetTransIdLo(b), transIdHi: packetTransIdHi(b),
      payload: b.slice(packetOffset8(b) * 8, n),
    };
    if (this.rings.incoming.commit()) this.signal();
    return p;
  }

  /** Every packet waiting. */
  receiveAll(): ReceivedPacket[] {
    const out: ReceivedPacket[] = [];
    for (let p = this.receive(); p; p = this.receive()) out.push(p);
    return out;
  }

  /** Polls for a packet (for VSPs that answer asynchronously). */
  waitPacket(timeoutMs = 5000): Promise<ReceivedPacket> { return poll(() => this.receive(), timeoutMs, `a packet on relid ${this.relid}`); }

  /** CLOSECHANNEL then GPADL_TEARDOWN of the ring, as vmbus_close does; the ring pages go back to the RAM. */
  close(): void {
    this.bus.post(encodeRelidMessage(CHANNELMSG_CLOSECHANNEL, this.relid));
    this.bus.teardownGpadl(this.relid, this.ringGpadl);
    this.bus.ram.free(this.ringPfns);
  }
}

export class GuestBusClient {
  /** Connection id for messages after negotiation (msg_conn_id from 5.0, else 1). */
  msgConnId = VMBUS_MESSAGE_CONNECTION_ID_4;
  version = 0;
  /** Offers received (by relid), rescinds received. */
  readonly offers = new Map<number, DecodedOffer>();
  readonly rescinded: number[] = [];
  /** Host messages not yet consumed by an expect(). */
  readonly inbox: Uint8Array[] = [];
  private nextGpadl = FIRST_GPADL_HANDLE;

  constructor(readonly synic: LoopbackSynic, readonly ram: GuestRam, readonly vp = 0) {}

  /** HvPostMessage of a channel message on `connectionId` (default: the negotiated one). Returns the HvStatus. */
  post(msg: Uint8Array, connectionId = this.msgConnId): number {
    return this.synic.guestPostMessage(connectionId, HVMSG_CHANNEL, msg);
  }

  /** Moves delivered host messages into the inbox, noting offers and rescinds. Throws on a message Linux would
   *  refuse (wrong SynIC type, SINT or VP, over 240 bytes), so tests see server bugs. */
  collect(): void {
    const q = this.synic.messages;
    while (q.length) {
      const m = q.shift()!;
      if (m.type !== HVMSG_CHANNEL || m.sint !== VMBUS_MESSAGE_SINT) throw new Error(`host posted SynIC type ${m.type} on SINT ${m.sint}`);
      if (m.vp !== this.vp) throw new Error(`host posted ${messageName(readU32(m.payload, 0))} to VP ${m.vp}, contact named VP ${this.vp}`);
      const t = readU32(m.payload, 0);
      if (t === CHANNELMSG_OFFERCHANNEL) {
        const o = decodeOffer(m.payload);
        if (!o) throw new Error(`short OFFERCHANNEL (${m.payload.length} bytes)`);
        this.offers.set(o.childRelid, o);
      } else if (t === CHANNELMSG_RESCIND_CHANNELOFFER) {
        this.rescinded.push(readU32(m.payload, 8));
      }
      this.inbox.push(m.payload);
    }
  }

  /** Takes the first host message of `type` (matching `match`) from the inbox, or null. */
  take(type: number, match: (m: Uint8Array) => boolean = () => true): Uint8Array | null {
    this.collect();
    const i = this.inbox.findIndex((m) => readU32(m, 0) === type && match(m));
    return i < 0 ? null : this.inbox.splice(i, 1)[0];
  }

  /** As take(), but a missing answer is an error (the server answers synchronously). */
  expect(type: number, match?: (m: Uint8Array) => boolean): Uint8Array {
    const m = this.take(type, match);
    if (!m) throw new Error(`no ${messageName(type)} from the host (inbox: ${this.inbox.map((x) => messageName(readU32(x, 0))).join(', ') || 'empty'})`);
    return m;
  }

  /** Version negotiation as vmbus_connect: newest first, INITIATE_CONTACT on connection 4 for 5.x, else 1.
   *  Returns the version agreed; throws when the host accepts none. */
  connect(versions: readonly number[] = SUPPORTED_VERSIONS): number {
    for (const v of versions) {
      const conn = v >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4 : VMBUS_MESSAGE_CONNECTION_ID;
      const st = this.post(encodeInitiateContact({ version: v, targetVcpu: this.vp }), conn);
      if (st !== 0) throw new Error(`INITIATE_CONTACT: HvPostMessage status ${st}`);
      const r = decodeVersionResponse(this.expect(CHANNELMSG_VERSION_RESPONSE))!;
      if (!r.supported) continue;
      this.version = v;
      this.msgConnId = v >= VERSION_WIN10_V5 ? r.msgConnId : VMBUS_MESSAGE_CONNECTION_ID;
      return v;
    }
    throw new Error('the host accepted no VMBus version');
  }

  /** REQUESTOFFERS; returns the offers up to ALLOFFERS_DELIVERED, in relid order. */
  requestOffers(): DecodedOffer[] {
    this.post(encodeHeaderOnly(CHANNELMSG_REQUESTOFFERS));
    this.expect(CHANNELMSG_ALLOFFERS_DELIVERED);
    while (this.take(CHANNELMSG_OFFERCHANNEL)) { /* recorded in offers */ }
    return [...this.offers.values()].sort((a, b) => a.childRelid - b.childRelid);
  }

  /** The offer with class GUID `classId` (first by relid), or throws. */
  offerOf(classId: string): DecodedOffer {
    this.collect();
    for (const o of [...this.offers.values()].sort((a, b) => a.childRelid - b.childRelid)) {
      if (o.classId === classId.toLowerCase() && !this.rescinded.includes(o.childRelid)) return o;
    }
    throw new Error(`no offer of class ${classId}`);
  }

  /** Builds a GPADL over `pfns` (one range, whole pages) the way Linux sends it; returns its id and the host's
   *  creation status. */
  createGpadl(relid: number, pfns: readonly number[]): { id: number; status: number } {
    const id = this.nextGpadl++;
    for (const m of buildGpadlMessages(id, relid, pfns)) this.post(m);
    const r = decodeGpadlCreated(this.expect(CHANNELMSG_GPADL_CREATED, (m) => readU32(m, 8) === relid && readU32(m, 12) === id))!;
    return { id, status: r.status };
  }

  teardownGpadl(relid: number, id: number): void {
    this.post(encodeGpadlTeardown(relid, id));
    const r = decodeGpadlTorndown(this.expect(CHANNELMSG_GPADL_TORNDOWN, (m) => readU32(m, 8) === id));
    if (!r) throw new Error('short GPADL_TORNDOWN');
  }

  /** Opens a channel as __vmbus_open: ring pages, GPADL, ring headers, OPENCHANNEL; throws unless status 0. */
  openChannel(relid: number, opts: OpenOptions = {}): GuestChannel {
    const r = this.tryOpenChannel(relid, opts);
    if (typeof r === 'number') throw new Error(`OPENCHANNEL relid ${relid}: status 0x${r.toString(16)}`);
    return r;
  }

  /** As openChannel, but a refusal is returned as the OPENCHANNEL_RESULT status. */
  tryOpenChannel(relid: number, opts: OpenOptions = {}): GuestChannel | number {
    const offer = this.offers.get(relid);
    if (!offer) throw new Error(`openChannel: no offer for relid ${relid}`);
    const send = opts.sendPages ?? 4, recv = opts.recvPages ?? 4;
    const pfns = this.ram.alloc(send + recv);
    const g = this.createGpadl(relid, pfns);
    if (g.status !== 0) throw new Error(`ring GPADL for relid ${relid}: status 0x${g.status.toString(16)}`);
    const targetVp = opts.targetVp ?? this.vp;
    const ch = new GuestChannel(this, relid, offer.connectionId, g.id, targetVp, pfns, send);
    this.post(encodeOpenChannel({ childRelid: relid, openId: relid, ringGpadl: g.id, targetVp, downstreamPageOffset: send, userData: opts.userData }));
    const res = decodeOpenResult(this.expect(CHANNELMSG_OPENCHANNEL_RESULT, (m) => readU32(m, 8) === relid && readU32(m, 12) === relid))!;
    return res.status === 0 ? ch : res.status;
  }

  /** MODIFYCHANNEL; from 5.3 returns the response's status, else null (no response in the protocol). */
  modifyChannel(relid: number, targetVp: number): number | null {
    this.post(encodeModifyChannel(relid, targetVp));
    if (this.version < 0x00050003) return null;
    return decodeModifyChannelResponse(this.expect(CHANNELMSG_MODIFYCHANNEL_RESPONSE, (m) => readU32(m, 8) === relid))!.status;
  }

  releaseRelid(relid: number): void { this.post(encodeRelidMessage(CHANNELMSG_RELID_RELEASED, relid)); }

  unload(): void {
    this.post(encodeUnload());
    this.expect(CHANNELMSG_UNLOAD_RESPONSE);
    this.offers.clear();
    this.rescinded.length = 0;
    this.msgConnId = VMBUS_MESSAGE_CONNECTION_ID_4;
    this.version = 0;
  }
}

function poll<T>(f: () => T | null, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      let v: T | null;
      try { v = f(); } catch (e) { reject(e); return; }
      if (v !== null) resolve(v);
      else if (Date.now() > end) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 1);
    };
    tick();
  });
}

export { poll as pollUntil };
