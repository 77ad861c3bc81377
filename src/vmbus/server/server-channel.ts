// One open channel as its VSP sees it (VspChannel): the host ends of its rings, the packet pump that drains the
// guest -> host ring when the guest signals, and sends that signal the guest by the ring rules
// (linux-hyperv-guest-contract.md §6.7, §7.4-7.5). A new object per open; dead after close.
import type { Gpadl } from '../gpadl.js';
import type { GuestPages } from '../guest-pages.js';
import type { ChannelRingMemory, HostChannelRings } from '../channel-rings.js';
import {
  checkDescriptor, DESC_SIZE, PACKET_TYPE_COMP, PACKET_TYPE_DATA_INBAND, PACKET_TYPE_DATA_USING_GPA_DIRECT,
  packetFlags, packetOffset8, packetTransIdHi, packetTransIdLo, packetType, parseGpaDirect, type PageRange,
} from '../packet.js';
import { RingStatus, type RingMemory } from '../ring-buffer.js';
import { RING_INTERRUPT_MASK, RING_PENDING_SEND_SZ, RING_READ_INDEX, RING_WRITE_INDEX } from '../ring-layout.js';
import type { SynicPort } from '../synic-port.js';
import type { ChannelOffer, IncomingPacket, Vsp, VspChannel } from '../vsp.js';
import { VMBUS_MESSAGE_SINT } from '../messages/header.js';
import type { ServerCounters } from './counters.js';
import { copyGuest, rangesInRam } from './guest-memory.js';

/** Largest guest -> host packet accepted (descriptor included); larger ones break the ring. storvsc's biggest
 *  (a 1 MiB GPA-direct transfer: 256 PFNs) is about 2.2 KiB. */
export const MAX_INCOMING_PACKET = 64 * 1024;

/** What a channel needs from its server. */
export interface ChannelHost {
  readonly synic: SynicPort;
  readonly pages: GuestPages;
  readonly counters: ServerCounters;
  /** `problem`: something a well-behaved guest never causes. */
  log(line: string, problem: boolean): void;
  gpadlOf(relid: number, id: number): Gpadl | null;
  rescindVsp(vsp: Vsp): void;
  /** The channel died on the host side (VSP threw, ring corrupt): the server marks it failed. */
  channelFailed(channel: ServerChannel): void;
}

class Incoming implements IncomingPacket {
  type = 0;
  flags = 0;
  transIdLo = 0;
  transIdHi = 0;
  payload: Uint8Array = new Uint8Array(0);
  ranges: readonly PageRange[] | null = null;
}

export class ServerChannel implements VspChannel {
  readonly offer: ChannelOffer;
  /** Set while OPENCHANNEL is being answered: signals wait until OPENCHANNEL_RESULT is posted. */
  private holdSignals = true;
  private signalHeld = false;
  private alive = true;
  private wantWritable = false;
  private pumping = false;
  private readonly buf: Uint8Array;
  private readonly pkt = new Incoming();
  private viewOff = -1;
  private viewLen = -1;

  constructor(
    private readonly host: ChannelHost,
    readonly vsp: Vsp,
    readonly relid: number,
    readonly ringGpadl: number,
    public targetVp: number,
    private readonly rings: HostChannelRings,
    private readonly mem: ChannelRingMemory,
  ) {
    this.offer = vsp.offer;
    this.buf = new Uint8Array(Math.min(MAX_INCOMING_PACKET, mem.guestToHost.dataSize));
  }

  /** The rings' control fields as the guest and the host left them, for inspect(). */
  inspect(): Record<string, unknown> {
    const ring = (m: RingMemory): Record<string, number> => ({
      dataSize: m.dataSize, writeIndex: m.load(RING_WRITE_INDEX), readIndex: m.load(RING_READ_INDEX),
      interruptMask: m.load(RING_INTERRUPT_MASK), pendingSendSz: m.load(RING_PENDING_SEND_SZ),
    });
    return {
      targetVp: this.targetVp, ringGpadl: this.ringGpadl, alive: this.alive, waitingForRoom: this.wantWritable,
      guestToHost: ring(this.mem.guestToHost), hostToGuest: ring(this.mem.hostToGuest),
    };
  }

  get isAlive(): boolean { return this.alive; }

  /** OPENCHANNEL_RESULT is out: deliver a signal the VSP's first sends asked for. */
  releaseSignals(): void {
    this.holdSignals = false;
    if (this.signalHeld) { this.signalHeld = false; this.signal(); }
  }

  /** Marks the channel dead (closed, failed or reset); later calls do nothing. */
  kill(): void { this.alive = false; }

  send(type: number, flags: number, transIdLo: number, transIdHi: number, payload: Uint8Array): RingStatus {
    if (!this.alive || (type !== PACKET_TYPE_DATA_INBAND && type !== PACKET_TYPE_COMP)) return RingStatus.BadPacket;
    const w = this.rings.outgoing;
    let st = w.writePacket(type, flags, transIdLo, transIdHi, payload, 0, payload.length);
    if (st === RingStatus.Full) {
      // Ask the guest to signal when it frees the space (pending_send_sz); it may have freed it already.
      if (w.waitForSpace(DESC_SIZE + payload.length)) st = w.writePacket(type, flags, transIdLo, transIdHi, payload, 0, payload.length);
      if (st === RingStatus.Full) { this.wantWritable = true; this.host.counters.sendsFull++; return st; }
    }
    if (st === RingStatus.OkSignal) { this.host.counters.packetsSent++; this.signal(); return RingStatus.Ok; }
    if (st === RingStatus.Ok) { this.host.counters.packetsSent++; return st; }
    if (st < 0) this.host.log(`vmbus: relid ${this.relid} (${this.offer.name}): host -> guest ring refused a send: ${RingStatus[st]}`, true);
    return st;
  }

  readGuest(ranges: readonly PageRange[], offset: number, dest: Uint8Array): boolean {
    return this.alive && copyGuest(this.host.pages, ranges, offset, dest, false);
  }

  writeGuest(ranges: readonly PageRange[], offset: number, src: Uint8Array): boolean {
    return this.alive && copyGuest(this.host.pages, ranges, offset, src, true);
  }

  gpadl(id: number): Gpadl | null { return this.alive ? this.host.gpadlOf(this.relid, id) : null; }

  rescind(): void { this.host.rescindVsp(this.vsp); }

  /** The guest signalled the channel: drain its ring to empty (Linux signals only on empty -> non-empty), then
   *  tell a VSP waiting for room that the guest read. */
  pump(): void {
    if (this.pumping) return; // a VSP's send cannot re-enter, but a loopback guest reacting synchronously could
    this.pumping = true;
    try {
      this.drain();
      if (this.alive && this.wantWritable) {
        this.wantWritable = false;
        try { this.vsp.writable?.(this); } catch (e) { this.fail(`VSP writable() threw: ${errorText(e)}`); }
      }
    } finally {
      this.pumping = false;
    }
  }

  private drain(): void {
    const r = this.rings.incoming;
    // The guest cannot write while the host drains (the VPs run on this thread), so one drain never sees more
    // packets than the ring holds (24 bytes at least each). More means the ring refills itself — pages of the ring
    // aliased with pages the host writes — and the drain would never end.
    let budget = 2 * Math.ceil(this.mem.guestToHost.dataSize / 24) + 2;
    for (;;) {
      r.beginDrain();
      let n = 0;
      while (this.alive && (n = r.readPacket(this.buf)) > 0) {
        if (--budget < 0) { this.fail('the guest -> host ring refills while it is drained (aliased ring pages?)'); return; }
        this.deliver(n);
      }
      if (!this.alive) return;
      if (n < 0) { this.fail(`guest -> host ring broken: ${RingStatus[n]}`); return; }
      if (r.commit()) this.signal(); // the guest waits for room in its send ring (pending_send_sz)
      if (r.endDrain() === 0) return;
    }
  }

  private deliver(n: number): void {
    const b = this.buf, host = this.host;
    const bad = checkDescriptor(b, n);
    if (bad) { this.refusePacket(`bad descriptor (${bad})`); return; }
    const type = packetType(b);
    let ranges: PageRange[] | null = null;
    if (type === PACKET_TYPE_DATA_USING_GPA_DIRECT) {
      const r = parseGpaDirect(b, n);
      if (typeof r === 'string') { this.refusePacket(`GPA-direct packet: ${r}`); return; }
      if (!rangesInRam(host.pages, r)) { this.refusePacket('GPA-direct packet names a page outside RAM'); return; }
      ranges = r;
    } else if (type !== PACKET_TYPE_DATA_INBAND && type !== PACKET_TYPE_COMP) {
      this.refusePacket(`packet type ${type}`);
      return;
    }
    const p = this.pkt;
    p.type = type;
    p.flags = packetFlags(b);
    p.transIdLo = packetTransIdLo(b);
    p.transIdHi = packetTransIdHi(b);
    const off = packetOffset8(b) * 8;
    if (off !== this.viewOff || n !== this.viewLen) { this.viewOff = off; this.viewLen = n; p.payload = b.subarray(off, n); }
    p.ranges = ranges;
    host.counters.packets++;
    try {
      this.vsp.packet(this, p);
    } catch (e) {
      this.fail(`VSP packet() threw: ${errorText(e)}`);
    }
  }

  private refusePacket(why: string): void {
    this.host.counters.refusedPackets++;
    this.host.log(`vmbus: relid ${this.relid} (${this.offer.name}): dropped a guest packet: ${why}`, true);
  }

  private signal(): void {
    if (!this.alive) return;
    if (this.holdSignals) { this.signalHeld = true; return; }
    this.host.counters.signalsOut++;
    // VMBus >= 2.4: Linux scans SINT 2's event flags by relid (vmbus_chan_sched).
    const st = this.host.synic.signalEvent(this.targetVp, VMBUS_MESSAGE_SINT, this.relid);
    if (st !== 0) this.host.log(`vmbus: relid ${this.relid}: signalling VP ${this.targetVp} failed: status ${st}`, true);
  }

  private fail(reason: string): void {
    if (!this.alive) return;
    this.host.log(`vmbus: relid ${this.relid} (${this.offer.name}): channel failed, closing it: ${reason}`, true);
    this.host.channelFailed(this);
  }
}

export function errorText(e: unknown): string { return e instanceof Error ? e.message : String(e); }
