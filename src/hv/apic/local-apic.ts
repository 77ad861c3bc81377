// The local APIC of one VP, virtualized by the hypervisor as Hyper-V does (SDM vol. 3A, "Advanced Programmable
// Interrupt Controller"): the xAPIC page (MMIO at IA32_APIC_BASE) and the x2APIC MSRs 0x800-0x8FF, interrupt
// acceptance with IRR/ISR/TMR and the TPR/PPR priority classes, EOI (with the EOI broadcast of level-triggered
// vectors to whoever asserted them), the LVT, IPIs through the ICR, and the timer (apic-timer.ts).
// Everything a guest writes is masked to the architectural fields; nothing here throws on guest input.
import { ApicTimer } from './apic-timer.js';
import type { ApicIdentity } from './destination.js';
import {
  APIC_VERSION, ApicBaseBits, ApicReg, DeliveryMode, Esr, Icr, LVT_COUNT, LVT_ERROR, LVT_LEVEL, LVT_MASKED,
  LVT_TIMER, LVT_WRITABLE, Shorthand, SVR_ENABLE, SVR_RESET, SVR_WRITABLE, TIMER_MODE_SHIFT,
  X2APIC_MSR_FIRST,
} from './registers.js';

/** What the APIC needs from the VP that owns it and from the partition around it. */
export interface ApicHost {
  /** Platform virtual time of this VP in TSC ticks (the guest's TSC before its IA32_TSC offset). */
  now(): number;
  /** The guest's TSC offset (moved by IA32_TSC writes), in ticks. */
  tscOffset(): number;
  /** IA32_APIC_BASE, low half (EN and EXTD select the mode). */
  apicBaseLo(): number;
  /** CR8 is the processor's alias of TPR[7:4]. */
  readCr8(): number;
  writeCr8(value: number): void;
  /** A fixed interrupt became deliverable: the processor must look before its next instruction. */
  kick(): void;
  /** Raise NMI on this VP. */
  nmi(): void;
  /** The timer's next expiry changed: a running dispatch must shorten its budget. */
  timerChanged(): void;
  /** EOI of a level-triggered vector: tell whoever asserted it (the root's IOAPIC clears remote IRR). */
  eoiBroadcast(vector: number): void;
  /** An IPI that may address other VPs (shorthand ALL/OTHERS or a destination). */
  sendIpi(source: LocalApic, mode: number, vector: number, dest: number, logical: boolean, shorthand: number): void;
}

/** Result of an MSR access: false means #GP. */
const GP = false;

export class LocalApic implements ApicIdentity {
  readonly irr = new Int32Array(8);
  readonly isr = new Int32Array(8);
  readonly tmr = new Int32Array(8);
  readonly lvt = new Int32Array(LVT_COUNT);
  readonly timer = new ApicTimer();
  private xapicId = 0;
  private tprReg = 0;
  private ldr = 0;
  private dfr = -1;
  svr = SVR_RESET;
  private esr = 0;
  private esrPending = 0;
  private inError = false;
  icrLo = 0;
  icrHi = 0;
  /** Counters for inspection. */
  readonly stats = { accepted: 0, delivered: 0, eois: 0, ipis: 0, timerFires: 0, dropped: 0 };

  constructor(readonly index: number, private readonly host: ApicHost) {
    this.reset();
  }

  /** Power-up / INIT state (SDM "Local APIC State After Power-Up or Reset"). */
  reset(): void {
    this.irr.fill(0); this.isr.fill(0); this.tmr.fill(0);
    this.lvt.fill(LVT_MASKED);
    this.timer.reset();
    this.xapicId = this.index & 0xff;
    this.setTpr(0);
    this.ldr = 0;
    this.dfr = -1;
    this.svr = SVR_RESET;
    this.esr = 0; this.esrPending = 0;
    this.icrLo = 0; this.icrHi = 0;
  }

  // ------------------------------------------------------------ mode and identity

  get enabled(): boolean {
    return (this.host.apicBaseLo() & ApicBaseBits.EN) !== 0;
  }

  get x2apic(): boolean {
    return (this.host.apicBaseLo() & (ApicBaseBits.EN | ApicBaseBits.EXTD)) === (ApicBaseBits.EN | ApicBaseBits.EXTD);
  }

  get softwareEnabled(): boolean {
    return (this.svr & SVR_ENABLE) !== 0;
  }

  get apicId(): number {
    return this.x2apic ? this.index : this.xapicId;
  }

  /** x2APIC: cluster (ID[19:4]) in bits 31:16, 1 << ID[3:0] in 15:0; xAPIC: the LDR as written. */
  get logicalId(): number {
    return this.x2apic ? (((this.index >>> 4) << 16) | (1 << (this.index & 0xf))) : this.ldr;
  }

  get destinationModel(): number {
    return this.dfr >>> 28;
  }

  /**
   * IA32_APIC_BASE changed from `oldLo` to `newLo` (the caller validated the transition). Disabling the APIC
   * resets it; entering x2APIC mode gives it the x2APIC ID (the VP index) and the derived logical ID.
   */
  baseChanged(oldLo: number, newLo: number): void {
    if ((oldLo & ApicBaseBits.EN) !== 0 && (newLo & ApicBaseBits.EN) === 0) {
      this.reset();
      this.host.timerChanged();
    }
  }

  // ------------------------------------------------------------ priorities

  /** TPR; MOV to CR8 writes TPR[7:4] (and zeroes TPR[3:0]) behind the APIC's back, so CR8 wins when they differ. */
  tpr(): number {
    const cr8 = this.host.readCr8() & 0xf;
    if ((this.tprReg >>> 4) !== cr8) this.tprReg = cr8 << 4;
    return this.tprReg;
  }

  setTpr(v: number): void {
    this.tprReg = v & 0xff;
    this.host.writeCr8(this.tprReg >>> 4);
  }

  /** Processor priority: TPR, or the in-service vector's class when that is higher. */
  ppr(): number {
    const t = this.tpr();
    const isrv = highest(this.isr);
    return isrv < 0 || (t >>> 4) >= (isrv >>> 4) ? t : isrv & 0xf0;
  }

  /** Arbitration priority (xAPIC only). */
  private apr(): number {
    const t = this.tpr();
    const isrv = Math.max(highest(this.isr), 0), irrv = Math.max(highest(this.irr), 0);
    if ((t >>> 4) >= (irrv >>> 4) && (t >>> 4) > (isrv >>> 4)) return t;
    return Math.max(t & 0xf0, isrv & 0xf0, irrv & 0xf0);
  }

  /** The vector the processor would take now (its class above PPR), or -1. */
  highestDeliverable(): number {
    if (!this.enabled) return -1;
    const v = highest(this.irr);
    if (v < 0 || (v >>> 4) <= (this.ppr() >>> 4)) return -1;
    return v;
  }

  /** INTA: move the highest deliverable vector from IRR to ISR and return it (-1: nothing to take). */
  acknowledge(): number {
    const v = this.highestDeliverable();
    if (v < 0) return -1;
    this.irr[v >>> 5] &= ~(1 << (v & 31));
    this.isr[v >>> 5] |= 1 << (v & 31);
    this.stats.delivered++;
    return v;
  }

  // ------------------------------------------------------------ interrupt arrival

  /** A fixed interrupt arrives (edge or level). Vectors 0-15 are illegal; a software-disabled APIC drops it. */
  accept(vector: number, level: boolean): void {
    if (!this.enabled) return;
    vector &= 0xff;
    if (vector < 16) { this.error(Esr.RECEIVE_ILLEGAL_VECTOR); return; }
    if (!this.softwareEnabled) { this.stats.dropped++; return; }
    const w = vector >>> 5, bit = 1 << (vector & 31);
    this.irr[w] |= bit;
    if (level) this.tmr[w] |= bit; else this.tmr[w] &= ~bit;
    this.stats.accepted++;
    if (this.highestDeliverable() >= 0) this.host.kick();
  }

  /** An interrupt message for this APIC (IPI, or one the root asserted), by delivery mode. */
  deliver(mode: number, vector: number, level: boolean): void {
    if (!this.enabled) return;
    switch (mode) {
      case DeliveryMode.FIXED:
      case DeliveryMode.LOWEST:
        this.accept(vector, level);
        return;
      case DeliveryMode.NMI:
        this.host.nmi();
        return;
      default:
        this.stats.dropped++; // SMI, INIT, SIPI, ExtINT: not modelled (one VP per partition today)
    }
  }

  eoi(): void {
    const v = highest(this.isr);
    this.stats.eois++;
    if (v < 0) return;
    const w = v >>> 5, bit = 1 << (v & 31);
    this.isr[w] &= ~bit;
    if ((this.tmr[w] & bit) !== 0) this.host.eoiBroadcast(v);
    if (this.highestDeliverable() >= 0) this.host.kick();
  }

  /** Record an APIC error and raise the error LVT (once: an illegal error vector cannot recurse). */
  private error(bits: number): void {
    this.esrPending |= bits;
    if (this.inError) return;
    this.inError = true;
    this.raiseLvt(LVT_ERROR);
    this.inError = false;
  }

  /** An LVT source fires: fixed (or NMI for the LINT/thermal/PMC entries) unless masked. */
  private raiseLvt(k: number): void {
    const e = this.lvt[k];
    if ((e & LVT_MASKED) !== 0) return;
    const mode = k === LVT_TIMER || k === LVT_ERROR ? DeliveryMode.FIXED : (e >>> 8) & 7;
    if (mode === DeliveryMode.NMI) this.host.nmi();
    else if (mode === DeliveryMode.FIXED) this.accept(e & 0xff, (e & LVT_LEVEL) !== 0 && k !== LVT_TIMER && k !== LVT_ERROR);
  }

  // ------------------------------------------------------------ timer

  /** Apply timer expiries up to now (raising the timer LVT). */
  pollTimer(now: number): void {
    if (this.timer.expire(now)) {
      this.stats.timerFires++;
      this.raiseLvt(LVT_TIMER);
    }
  }

  /** When the run must stop for the timer (platform ticks), Infinity if its expiry would raise nothing. */
  timerDeadline(): number {
    return (this.lvt[LVT_TIMER] & LVT_MASKED) !== 0 ? Infinity : this.timer.next;
  }

  /** Would the timer's expiry wake a halted VP (an interrupt that becomes deliverable)? */
  timerCanWake(): boolean {
    const e = this.lvt[LVT_TIMER];
    return (e & LVT_MASKED) === 0 && this.canWake(e & 0xff);
  }

  /** Would a fixed interrupt at `v` arriving now become deliverable (it is not pending already, beats PPR)? */
  canWake(v: number): boolean {
    if (!this.enabled) return false;
    return v >= 16 && (this.irr[v >>> 5] & (1 << (v & 31))) === 0 && (v >>> 4) > (this.ppr() >>> 4);
  }

  // ------------------------------------------------------------ IPIs

  private sendIcr(): void {
    const lo = this.icrLo;
    const vector = lo & Icr.VECTOR;
    const mode = (lo >>> Icr.DELIVERY_SHIFT) & Icr.DELIVERY_MASK;
    const shorthand = (lo >>> Icr.SHORTHAND_SHIFT) & 3;
    const logical = (lo & Icr.LOGICAL) !== 0;
    const dest = this.x2apic ? this.icrHi : this.icrHi >>> 24;
    this.stats.ipis++;
    if (mode === DeliveryMode.INIT && (lo & Icr.ASSERT) === 0) return; // INIT level de-assert: no effect
    if ((mode === DeliveryMode.FIXED || mode === DeliveryMode.LOWEST) && vector < 16) {
      this.error(Esr.SEND_ILLEGAL_VECTOR);
      return;
    }
    if (shorthand === Shorthand.SELF) {
      if (mode === DeliveryMode.FIXED) this.accept(vector, false);
      else this.stats.dropped++;
      return;
    }
    this.host.sendIpi(this, mode, vector, dest, logical, shorthand);
  }

  // ------------------------------------------------------------ register file

  /** Read a register by xAPIC offset; null when the offset names no register in this mode. */
  private readReg(off: number, x2: boolean): number | null {
    switch (off) {
      case ApicReg.ID: return x2 ? this.index : this.xapicId << 24;
      case ApicReg.VERSION: return APIC_VERSION;
      case ApicReg.TPR: return this.tpr();
      case ApicReg.APR: return x2 ? null : this.apr();
      case ApicReg.PPR: return this.ppr();
      case ApicReg.EOI: return x2 ? null : 0;
      case ApicReg.RRD: return x2 ? null : 0;
      case ApicReg.LDR: return this.logicalId;
      case ApicReg.DFR: return x2 ? null : this.dfr;
      case ApicReg.SVR: return this.svr;
      case ApicReg.ESR: return this.esr;
      case ApicReg.ICR_LO: return this.icrLo & ~Icr.PENDING; // delivery is instant: always idle
      case ApicReg.ICR_HI: return x2 ? null : this.icrHi;
      case ApicReg.TIMER_INITIAL: return this.timer.initial | 0;
      case ApicReg.TIMER_CURRENT: return this.timer.current(this.host.now()) | 0;
      case ApicReg.TIMER_DIVIDE: return this.timer.divide;
    }
    if (off >= ApicReg.LVT_TIMER && off <= ApicReg.LVT_ERROR) return this.lvt[(off - ApicReg.LVT_TIMER) >>> 4];
    if (off >= ApicReg.ISR0 && off < ApicReg.ISR0 + 0x80) return this.isr[(off - ApicReg.ISR0) >>> 4];
    if (off >= ApicReg.TMR0 && off < ApicReg.TMR0 + 0x80) return this.tmr[(off - ApicReg.TMR0) >>> 4];
    if (off >= ApicReg.IRR0 && off < ApicReg.IRR0 + 0x80) return this.irr[(off - ApicReg.IRR0) >>> 4];
    return null;
  }

  private writeLvt(k: number, v: number): void {
    if (!this.softwareEnabled) v |= LVT_MASKED; // a software-disabled APIC keeps every LVT masked
    if (k === LVT_TIMER) {
      const now = this.host.now();
      this.pollTimer(now); // expiries up to now happen under the old settings
      this.timer.setMode((v >>> TIMER_MODE_SHIFT) & 3);
    }
    const w = LVT_WRITABLE[k];
    this.lvt[k] = (this.lvt[k] & ~w) | (v & w);
    if (k === LVT_TIMER) this.host.timerChanged();
  }

  private writeSvr(v: number): void {
    this.svr = v & SVR_WRITABLE;
    if (!this.softwareEnabled) {
      for (let k = 0; k < LVT_COUNT; k++) this.lvt[k] |= LVT_MASKED;
      this.host.timerChanged();
    } else if (this.highestDeliverable() >= 0) {
      this.host.kick();
    }
  }

  private writeTimerInitial(v: number): void {
    this.timer.loadInitial(v, this.host.now());
    this.host.timerChanged();
  }

  private writeTimerDivide(v: number): void {
    const now = this.host.now();
    this.pollTimer(now);
    this.timer.setDivide(v, now);
    this.host.timerChanged();
  }

  /** ESR writes latch the errors seen since the previous write (SDM: write before reading). */
  private latchEsr(): void {
    this.esr = this.esrPending;
    this.esrPending = 0;
  }

  private writeTpr(v: number): void {
    const before = this.highestDeliverable();
    this.setTpr(v);
    if (before < 0 && this.highestDeliverable() >= 0) this.host.kick();
  }

  // ------------------------------------------------------------ xAPIC MMIO

  /** Is `gpa` inside the xAPIC page (enabled, not in x2APIC mode)? */
  claimsMmio(gpa: number): boolean {
    const lo = this.host.apicBaseLo();
    if ((lo & (ApicBaseBits.EN | ApicBaseBits.EXTD)) !== ApicBaseBits.EN) return false;
    const base = (lo & ApicBaseBits.BASE_LO) >>> 0;
    return gpa >= base && gpa < base + 4096;
  }

  /** An MMIO read of `size` bytes at `offset` in the xAPIC page. Registers are 32 bits at 16-byte strides. */
  mmioRead(offset: number, size: number): number {
    const sub = offset & 0xf;
    if (sub >= 4) return 0;
    const v = this.readReg(offset & 0xff0, false);
    if (v === null) { this.error(Esr.ILLEGAL_REGISTER); return 0; }
    const shifted = v >>> (sub * 8);
    return size >= 4 ? shifted | 0 : shifted & ((1 << (size * 8)) - 1);
  }

  /** An MMIO write: only aligned 32-bit stores reach a register (SDM: other forms are undefined). */
  mmioWrite(offset: number, size: number, value: number): void {
    if (size !== 4 || (offset & 0xf) !== 0) return;
    const off = offset & 0xff0;
    switch (off) {
      case ApicReg.ID: this.xapicId = value >>> 24; return;
      case ApicReg.TPR: this.writeTpr(value); return;
      case ApicReg.EOI: this.eoi(); return;
      case ApicReg.LDR: this.ldr = value & 0xff000000; return;
      case ApicReg.DFR: this.dfr = value | 0x0fffffff; return;
      case ApicReg.SVR: this.writeSvr(value); return;
      case ApicReg.ESR: this.latchEsr(); return;
      case ApicReg.ICR_LO: this.icrLo = value & Icr.XAPIC_WRITABLE; this.sendIcr(); return;
      case ApicReg.ICR_HI: this.icrHi = value & 0xff000000; return;
      case ApicReg.TIMER_INITIAL: this.writeTimerInitial(value); return;
      case ApicReg.TIMER_DIVIDE: this.writeTimerDivide(value); return;
    }
    if (off >= ApicReg.LVT_TIMER && off <= ApicReg.LVT_ERROR) { this.writeLvt((off - ApicReg.LVT_TIMER) >>> 4, value); return; }
    // Read-only registers ignore writes; offsets with no register are an illegal register address.
    if (this.readReg(off, false) === null) this.error(Esr.ILLEGAL_REGISTER);
  }

  // ------------------------------------------------------------ x2APIC MSRs

  /** RDMSR 0x800-0x8FF: false is #GP (not in x2APIC mode, no such register, write-only register). */
  rdmsr(msr: number, out: Int32Array): boolean {
    if (!this.x2apic) return GP;
    const off = (msr - X2APIC_MSR_FIRST) << 4;
    if (off === ApicReg.ICR_LO) { out[0] = this.icrLo; out[1] = this.icrHi; return true; }
    const v = this.readReg(off, true);
    if (v === null) return GP;
    out[0] = v;
    out[1] = 0;
    return true;
  }

  /** WRMSR 0x800-0x8FF: false is #GP (not in x2APIC mode, read-only or missing register, reserved bits). */
  wrmsr(msr: number, lo: number, hi: number): boolean {
    if (!this.x2apic) return GP;
    const off = (msr - X2APIC_MSR_FIRST) << 4;
    if (off === ApicReg.ICR_LO) {
      if ((lo & Icr.X2APIC_RESERVED) !== 0) return GP;
      this.icrLo = lo;
      this.icrHi = hi;
      this.sendIcr();
      return true;
    }
    if (hi !== 0) return GP; // bits 63:32 are reserved in every register but the ICR
    switch (off) {
      case ApicReg.TPR: if ((lo & ~0xff) !== 0) return GP; this.writeTpr(lo); return true;
      case ApicReg.EOI: if (lo !== 0) return GP; this.eoi(); return true;
      case ApicReg.SVR: this.writeSvr(lo); return true;
      case ApicReg.ESR: if (lo !== 0) return GP; this.latchEsr(); return true;
      case ApicReg.TIMER_INITIAL: this.writeTimerInitial(lo); return true;
      case ApicReg.TIMER_DIVIDE: this.writeTimerDivide(lo); return true;
      case ApicReg.SELF_IPI:
        if ((lo & ~0xff) !== 0) return GP;
        this.sendSelf(lo & 0xff);
        return true;
    }
    if (off >= ApicReg.LVT_TIMER && off <= ApicReg.LVT_ERROR) { this.writeLvt((off - ApicReg.LVT_TIMER) >>> 4, lo); return true; }
    return GP;
  }

  /** SELF IPI register: a fixed, edge-triggered interrupt to this APIC. */
  private sendSelf(vector: number): void {
    this.stats.ipis++;
    if (vector < 16) { this.error(Esr.SEND_ILLEGAL_VECTOR); return; }
    this.accept(vector, false);
  }

  // ------------------------------------------------------------ TSC deadline

  readDeadline(out: Int32Array): void {
    out[0] = this.timer.deadlineLo;
    out[1] = this.timer.deadlineHi;
  }

  writeDeadline(lo: number, hi: number): void {
    const now = this.host.now();
    this.pollTimer(now);
    this.timer.writeDeadline(lo, hi, now, this.host.tscOffset());
    this.host.timerChanged();
  }

  inspect(): Record<string, unknown> {
    const hex = (a: Int32Array): string => [...a].reverse().map((w) => (w >>> 0).toString(16).padStart(8, '0')).join('');
    return {
      mode: !this.enabled ? 'disabled' : this.x2apic ? 'x2apic' : 'xapic', id: this.apicId, tpr: this.tpr(),
      ppr: this.ppr(), svr: this.svr, irr: hex(this.irr), isr: hex(this.isr), tmr: hex(this.tmr),
      lvt: [...this.lvt].map((v) => '0x' + (v >>> 0).toString(16)), timer: this.timer.inspect(this.host.now()),
      stats: { ...this.stats },
    };
  }
}

/** Highest set bit of a 256-bit register as a vector number, or -1. */
export function highest(r: Int32Array): number {
  for (let w = 7; w >= 0; w--) {
    const v = r[w];
    if (v !== 0) return (w << 5) + 31 - Math.clz32(v);
  }
  return -1;
}
