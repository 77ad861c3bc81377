// The synthetic interrupt controller of one VP (TLFS "Synthetic Interrupt Controller"; what Linux 6.1 relies on:
// /work/shared/reference/linux-hyperv-guest-contract.md §4). Sixteen SINTs, each a vector (with masked,
// auto-EOI and polling bits), a message slot in the SIM page and a 2048-bit event-flag field in the SIEF page.
// The pages are guest RAM the guest names in SIMP/SIEFP (as the hypercall page is): the hypervisor writes slots
// into it and reads a slot's message type to learn whether the guest has consumed it.
//
// Message protocol: a message goes into its SINT's slot only when the slot's type is HvMessageTypeNone;
// otherwise it waits in a per-SINT queue and the slot's MessagePending flag tells the guest to write EOM after
// freeing the slot. EOM (and any later post, or the SINT/SynIC becoming deliverable) retries the queue. A SINT
// that is masked, or a SynIC/SIM page that is disabled, receives nothing: messages queue for it instead.
// The synthetic timers (stimer.ts) belong to the SynIC: their message-mode expiries use the same slots.
import { HvStatus } from '../hypercall/codes.js';
import { pageFieldValid, pageNumber, ramPageHost, store32 } from '../enlightenments/overlay-page.js';
import type { Partition } from '../partition.js';
import { SyntheticTimers, type StimerHost, type TimerMessageSink } from './stimer.js';
import {
  EVENT_FLAGS_PER_SINT, HvMessageTypeNone, HvMessageTypeTimerExpired, MAX_QUEUED_PER_SINT, Scontrol, Sint, SINT_COUNT, SlotLayout, SynicMsr,
  SynicPageMsr, SYNIC_VERSION,
} from './layout.js';

/**
 * What the SynIC needs of its VP: the partition (to resolve page GPAs), guest memory, the local APIC and, for the
 * synthetic timers, virtual time.
 */
export interface SynicHost extends StimerHost {
  readonly partition: Partition;
}

/** A message waiting for its slot (copied: the poster's buffer is not ours to keep). */
interface Queued {
  type: number;
  senderLo: number;
  senderHi: number;
  payload: Uint8Array;
}

export class Synic implements TimerMessageSink {
  scontrol = 0;
  simpLo = 0;
  simpHi = 0;
  siefpLo = 0;
  siefpHi = 0;
  readonly sints = new Int32Array(SINT_COUNT).fill(Sint.RESET);
  private readonly queues: Queued[][] = [];
  /** Vectors whose SINT asks for auto-EOI (a 256-bit set, consulted at interrupt acknowledge). */
  private readonly autoEoi = new Int32Array(8);
  readonly stats = { delivered: 0, queued: 0, eoms: 0, interrupts: 0, eventsSignalled: 0, eventsDropped: 0 };
  /** STIMER0-3 (their MSRs are reached only with the synthetic-timer privilege; see the VP's MSR dispatch). */
  readonly timers: SyntheticTimers;

  constructor(private readonly host: SynicHost, private readonly u8: Uint8Array) {
    for (let i = 0; i < SINT_COUNT; i++) this.queues.push([]);
    this.timers = new SyntheticTimers(host, this);
  }

  // ------------------------------------------------------------ MSRs (false: #GP)

  rdmsr(msr: number, out: Int32Array): boolean {
    let lo = 0, hi = 0;
    switch (msr) {
      case SynicMsr.SCONTROL: lo = this.scontrol; break;
      case SynicMsr.SVERSION: lo = SYNIC_VERSION; break;
      case SynicMsr.SIEFP: lo = this.siefpLo; hi = this.siefpHi; break;
      case SynicMsr.SIMP: lo = this.simpLo; hi = this.simpHi; break;
      case SynicMsr.EOM: break; // write-only; reads as 0
      default:
        if (msr < SynicMsr.SINT0 || msr > SynicMsr.SINT15) return false; // 0x40000085..0x4000008F
        lo = this.sints[msr - SynicMsr.SINT0];
    }
    out[0] = lo;
    out[1] = hi;
    return true;
  }

  wrmsr(msr: number, lo: number, hi: number): boolean {
    switch (msr) {
      case SynicMsr.SCONTROL:
        if ((lo & Scontrol.RESERVED_LO) !== 0 || hi !== 0) return false;
        this.scontrol = lo;
        this.retryAll();
        return true;
      case SynicMsr.SVERSION: return false; // read-only
      case SynicMsr.SIEFP: return this.writePage(lo, hi, false);
      case SynicMsr.SIMP: return this.writePage(lo, hi, true);
      case SynicMsr.EOM:
        this.stats.eoms++;
        this.retryAll();
        return true;
      default:
        if (msr < SynicMsr.SINT0 || msr > SynicMsr.SINT15) return false;
        return this.writeSint(msr - SynicMsr.SINT0, lo, hi);
    }
  }

  private writeSint(n: number, lo: number, hi: number): boolean {
    if ((lo & Sint.RESERVED_LO) !== 0 || hi !== 0) return false;
    // Vectors 0-15 are exceptions; a masked SINT may keep one (its reset value is masked with vector 0, and a
    // guest masks a SINT by rewriting what it read).
    if ((lo & Sint.MASKED) === 0 && (lo & Sint.VECTOR_MASK) < Sint.MIN_VECTOR) return false;
    this.sints[n] = lo;
    this.autoEoi.fill(0);
    for (let i = 0; i < SINT_COUNT; i++) {
      const v = this.sints[i];
      if ((v & (Sint.AUTO_EOI | Sint.MASKED)) === Sint.AUTO_EOI) this.autoEoi[(v & 0xff) >>> 5] |= 1 << (v & 31);
    }
    if ((lo & Sint.MASKED) === 0) {
      this.retry(n);
      this.timers.retryWaiting();
    }
    return true;
  }

  /** SIMP/SIEFP: enabling names a RAM page the partition may read and write; it is cleared when it appears. */
  private writePage(lo: number, hi: number, simp: boolean): boolean {
    if ((lo & SynicPageMsr.RESERVED_LO) !== 0 || !pageFieldValid(hi)) return false;
    const wasOn = ((simp ? this.simpLo : this.siefpLo) & SynicPageMsr.ENABLE) !== 0;
    if ((lo & SynicPageMsr.ENABLE) !== 0) {
      const page = pageNumber(lo, hi);
      const base = ramPageHost(this.host.partition, page);
      if (base < 0) return false;
      const oldPage = pageNumber(simp ? this.simpLo : this.siefpLo, simp ? this.simpHi : this.siefpHi);
      // Hyper-V overlays a fresh page: no stale slot may block delivery, no stale flag may look signalled.
      if (!wasOn || oldPage !== page) {
        this.u8.fill(0, base, base + 4096);
        this.host.partition.invalidate(page, 1);
      }
    }
    if (simp) { this.simpLo = lo; this.simpHi = hi; } else { this.siefpLo = lo; this.siefpHi = hi; }
    if (simp) this.retryAll();
    return true;
  }

  // ------------------------------------------------------------ interrupts

  /** Is `vector` the vector of an unmasked auto-EOI SINT (its ISR bit must not stay set)? */
  isAutoEoi(vector: number): boolean {
    return ((this.autoEoi[vector >>> 5] >>> (vector & 31)) & 1) !== 0;
  }

  private enabled(): boolean {
    return (this.scontrol & Scontrol.ENABLE) !== 0;
  }

  /** Interrupt SINT n's vector unless it is masked or polled. */
  private raise(n: number): void {
    const v = this.sints[n];
    if ((v & (Sint.MASKED | Sint.POLLING)) !== 0) return;
    this.stats.interrupts++;
    this.host.raiseSynicInterrupt(v & Sint.VECTOR_MASK);
  }

  // ------------------------------------------------------------ messages

  /** Host offset of SINT n's message slot, or -1 while the SynIC, SIM page or SINT cannot receive. */
  private slot(n: number): number {
    if (!this.enabled() || (this.simpLo & SynicPageMsr.ENABLE) === 0 || (this.sints[n] & Sint.MASKED) !== 0) return -1;
    // Resolved each time: the root may have unmapped or narrowed the page since the guest enabled it.
    const base = ramPageHost(this.host.partition, pageNumber(this.simpLo, this.simpHi));
    return base < 0 ? -1 : base + n * SlotLayout.SIZE;
  }

  /**
   * Post a message to SINT `sint` (the root's side; the synthetic timers use postTimerMessage). Validated:
   * SINT 0-15, a non-zero type, at most 240 bytes. SUCCESS means delivered or queued.
   */
  post(sint: number, type: number, payload: Uint8Array, senderLo = 0, senderHi = 0): number {
    if (!Number.isInteger(sint) || sint < 0 || sint >= SINT_COUNT) return HvStatus.INVALID_PARAMETER;
    if (!Number.isInteger(type) || type === HvMessageTypeNone || type < 0 || type > 0xffffffff) return HvStatus.INVALID_PARAMETER;
    if (payload.length > SlotLayout.MAX_PAYLOAD) return HvStatus.INVALID_PARAMETER;
    const q = this.queues[sint];
    if (q.length >= MAX_QUEUED_PER_SINT) return HvStatus.INSUFFICIENT_BUFFERS;
    q.push({ type: type >>> 0, senderLo, senderHi, payload: payload.slice() });
    this.stats.queued++;
    this.retry(sint);
    return HvStatus.SUCCESS;
  }

  /** Messages waiting behind SINT n's slot. */
  queued(sint: number): number {
    return this.queues[sint].length;
  }

  /** A slot may have freed or become receivable: the root's queued messages first, then waiting timer expiries. */
  private retryAll(): void {
    for (let n = 0; n < SINT_COUNT; n++) if (this.queues[n].length !== 0) this.retry(n);
    this.timers.retryWaiting();
  }

  /** Move queued messages into SINT n's slot while it is free; flag the slot pending when some must wait. */
  private retry(n: number): void {
    const q = this.queues[n];
    if (q.length === 0) return;
    const at = this.slot(n);
    if (at < 0) return;
    const u8 = this.u8;
    if (load32(u8, at + SlotLayout.messageType) !== HvMessageTypeNone) {
      u8[at + SlotLayout.messageFlags] |= SlotLayout.FLAG_PENDING;
      return;
    }
    const m = q.shift()!;
    u8.fill(0, at, at + SlotLayout.SIZE);
    u8.set(m.payload, at + SlotLayout.payload);
    u8[at + SlotLayout.payloadSize] = m.payload.length;
    u8[at + SlotLayout.messageFlags] = q.length !== 0 ? SlotLayout.FLAG_PENDING : 0;
    store32(u8, at + SlotLayout.sender, m.senderLo);
    store32(u8, at + SlotLayout.sender + 4, m.senderHi);
    // The type last: it is what makes the slot full for the guest.
    store32(u8, at + SlotLayout.messageType, m.type);
    this.stats.delivered++;
    this.raise(n);
  }

  // ------------------------------------------------------------ timer messages (TimerMessageSink)

  /**
   * HvMessageTypeTimerExpired into SINT `sint`'s slot. A full slot is flagged MessagePending (the guest then
   * writes EOM, which retries); false while it must wait.
   */
  postTimerMessage(sint: number, payload: Uint8Array): boolean {
    const at = this.slot(sint);
    if (at < 0) return false;
    const u8 = this.u8;
    if (load32(u8, at + SlotLayout.messageType) !== HvMessageTypeNone) {
      u8[at + SlotLayout.messageFlags] |= SlotLayout.FLAG_PENDING;
      return false;
    }
    u8.fill(0, at, at + SlotLayout.SIZE);
    u8.set(payload, at + SlotLayout.payload);
    u8[at + SlotLayout.payloadSize] = payload.length;
    if (this.queues[sint].length !== 0) u8[at + SlotLayout.messageFlags] = SlotLayout.FLAG_PENDING;
    store32(u8, at + SlotLayout.messageType, HvMessageTypeTimerExpired);
    this.stats.delivered++;
    this.raise(sint);
    return true;
  }

  /** SINT n's vector when a message posted now would land in a free slot and interrupt, else -1. */
  sintWakeVector(sint: number): number {
    const v = this.sints[sint];
    if ((v & Sint.POLLING) !== 0) return -1;
    const at = this.slot(sint);
    if (at < 0 || load32(this.u8, at + SlotLayout.messageType) !== HvMessageTypeNone) return -1;
    return v & Sint.VECTOR_MASK;
  }

  // ------------------------------------------------------------ event flags

  /**
   * Set flag `flag` of SINT `sint` in the SIEF page and interrupt when it was clear (a flag already set has an
   * interrupt on its way). With the SynIC or the SIEF page disabled the signal is lost (counted).
   */
  signal(sint: number, flag: number): number {
    if (!Number.isInteger(sint) || sint < 0 || sint >= SINT_COUNT) return HvStatus.INVALID_PARAMETER;
    if (!Number.isInteger(flag) || flag < 0 || flag >= EVENT_FLAGS_PER_SINT) return HvStatus.INVALID_PARAMETER;
    const p = this.host.partition;
    const page = pageNumber(this.siefpLo, this.siefpHi);
    const base = this.enabled() && (this.siefpLo & SynicPageMsr.ENABLE) !== 0 ? ramPageHost(p, page) : -1;
    if (base < 0) { this.stats.eventsDropped++; return HvStatus.SUCCESS; }
    const at = base + sint * SlotLayout.SIZE + (flag >>> 3), bit = 1 << (flag & 7);
    const was = this.u8[at] & bit;
    this.u8[at] |= bit;
    this.stats.eventsSignalled++;
    if (was === 0) this.raise(sint);
    return HvStatus.SUCCESS;
  }

  inspect(): Record<string, unknown> {
    return {
      scontrol: this.scontrol,
      simp: '0x' + pageNumber(this.simpLo, this.simpHi).toString(16) + ((this.simpLo & 1) !== 0 ? ' enabled' : ''),
      siefp: '0x' + pageNumber(this.siefpLo, this.siefpHi).toString(16) + ((this.siefpLo & 1) !== 0 ? ' enabled' : ''),
      sints: Array.from(this.sints, (v) => '0x' + (v >>> 0).toString(16)),
      queued: this.queues.map((q) => q.length),
      stats: { ...this.stats },
      timers: this.timers.inspect(),
      timerStats: this.timers.inspectStats(),
    };
  }
}

function load32(u8: Uint8Array, off: number): number {
  return (u8[off] | (u8[off + 1] << 8) | (u8[off + 2] << 16) | (u8[off + 3] << 24)) >>> 0;
}
