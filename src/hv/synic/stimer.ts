// The four synthetic timers of one VP (TLFS "Synthetic Timers"; Linux 6.1 drivers/clocksource/hyperv_timer.c
// uses STIMER0 as its clockevent: CONFIG = enable | auto-enable | direct mode at vector 0xED (or SINT2 in
// message mode), then COUNT = reference time now + delta for every event, COUNT = 0 and CONFIG = 0 to stop).
//
// Times are partition reference time (100 ns units of the VP's virtual clock, src/hv/virtual-time.ts), so an
// expiry is an exact instruction boundary: the VP stops its run budget at `deadline()` and calls `poll`, and a
// halted VP fast-forwards to `wakeDeadline()`. No host timers.
//
// One-shot: COUNT is the absolute expiry; it fires once when reference time >= COUNT (at once when COUNT is
// already past) and then clears enable. Periodic: COUNT is the period, the first expiry one period after the
// timer is armed. COUNT = 0 disables; writing a non-zero COUNT with auto-enable sets enable. Direct mode raises
// the APIC vector as a fixed edge interrupt; message mode puts HvMessageTypeTimerExpired into the SINTx slot,
// and an expiry whose slot is full (or whose SINT/SynIC cannot receive) waits there until the slot frees (EOM,
// the SINT unmasked, the SynIC or SIM page enabled) and is then delivered with the delivery time of that moment.
import { TSC_TICKS_PER_100NS } from '../virtual-time.js';
import { StimerConfig, StimerMsr, STIMER_COUNT, TimerMessagePayload } from './layout.js';

/** What the timers need of their VP. */
export interface StimerHost {
  /** The VP's virtual time in platform TSC ticks. */
  now(): number;
  /** A deadline moved while the VP may be running: its run budget must be recomputed. */
  timerChanged(): void;
  /** Raise a fixed, edge-triggered interrupt in the VP's local APIC (direct mode). */
  raiseSynicInterrupt(vector: number): void;
  /** Would an interrupt at `vector` wake the halted VP now (deliverable, not already pending)? */
  canWake(vector: number): boolean;
}

/** The SynIC side: message slots. */
export interface TimerMessageSink {
  /** Write a hypervisor message into SINT `sint`'s slot; false when it must wait (the slot is then flagged). */
  postTimerMessage(sint: number, payload: Uint8Array): boolean;
  /** The SINT's vector when a message posted now would interrupt, else -1. */
  sintWakeVector(sint: number): number;
}

const TWO32 = 4294967296;
/** Non-lazy periodic message timers deliver at most this many missed periods one by one; older ones are dropped. */
export const MAX_CATCH_UP = 16;

function vectorOf(config: number): number {
  return (config >>> StimerConfig.VECTOR_SHIFT) & StimerConfig.VECTOR_MASK;
}
function sintOf(config: number): number {
  return (config >>> StimerConfig.SINTX_SHIFT) & StimerConfig.SINTX_MASK;
}

export class SyntheticTimers {
  private readonly config = new Int32Array(STIMER_COUNT);
  private readonly countLo = new Int32Array(STIMER_COUNT);
  private readonly countHi = new Int32Array(STIMER_COUNT);
  /** COUNT as a number (exact below 2^53; larger values lie beyond any reachable time). */
  private readonly count = new Float64Array(STIMER_COUNT);
  /** Next expiry in reference time; Infinity when not armed (or waiting for its slot). */
  private readonly due = new Float64Array(STIMER_COUNT);
  /** Expiration time of an expiry waiting for its message slot; -1 when none. */
  private readonly waiting = new Float64Array(STIMER_COUNT);
  /** The earliest `due`. */
  private next = Infinity;
  private readonly payload = new Uint8Array(TimerMessagePayload.SIZE);
  private readonly view = new DataView(this.payload.buffer);
  readonly stats = { expiries: 0, direct: 0, messages: 0, waited: 0, missedPeriods: 0 };

  constructor(private readonly host: StimerHost, private readonly sink: TimerMessageSink) {
    this.reset();
  }

  /** Power-on / VP reset: every timer disabled with CONFIG = COUNT = 0 (TLFS). */
  reset(): void {
    this.config.fill(0);
    this.countLo.fill(0);
    this.countHi.fill(0);
    this.count.fill(0);
    this.due.fill(Infinity);
    this.waiting.fill(-1);
    this.next = Infinity;
  }

  /** Does `msr` name a timer register (0x400000B0..0x400000B7)? */
  static claims(msr: number): boolean {
    return msr >= StimerMsr.FIRST && msr <= StimerMsr.LAST;
  }

  // ------------------------------------------------------------ MSRs (false: #GP)

  rdmsr(msr: number, out: Int32Array): boolean {
    if (!SyntheticTimers.claims(msr)) return false;
    const i = (msr - StimerMsr.FIRST) >>> 1;
    if (((msr - StimerMsr.FIRST) & 1) === 0) {
      out[0] = this.config[i];
      out[1] = 0;
    } else {
      out[0] = this.countLo[i];
      out[1] = this.countHi[i];
    }
    return true;
  }

  wrmsr(msr: number, lo: number, hi: number): boolean {
    if (!SyntheticTimers.claims(msr)) return false;
    const i = (msr - StimerMsr.FIRST) >>> 1;
    return ((msr - StimerMsr.FIRST) & 1) === 0 ? this.writeConfig(i, lo, hi) : this.writeCount(i, lo, hi);
  }

  private writeConfig(i: number, lo: number, hi: number): boolean {
    if (hi !== 0 || (lo & StimerConfig.RESERVED_LO) !== 0) return false;
    // Vectors 0-15 are exceptions, never an interrupt a timer may raise.
    if ((lo & StimerConfig.DIRECT_MODE) !== 0 && vectorOf(lo) < 16) return false;
    // TLFS: a message-mode timer cannot be enabled with SINTx = 0; it is marked disabled at once.
    if ((lo & (StimerConfig.ENABLE | StimerConfig.DIRECT_MODE)) === StimerConfig.ENABLE && sintOf(lo) === 0) lo &= ~StimerConfig.ENABLE;
    this.config[i] = lo;
    this.arm(i);
    return true;
  }

  private writeCount(i: number, lo: number, hi: number): boolean {
    this.countLo[i] = lo;
    this.countHi[i] = hi;
    this.count[i] = (hi >>> 0) * TWO32 + (lo >>> 0);
    let c = this.config[i];
    if (this.count[i] === 0) c &= ~StimerConfig.ENABLE;
    else if ((c & StimerConfig.AUTO_ENABLE) !== 0 && ((c & StimerConfig.DIRECT_MODE) !== 0 || sintOf(c) !== 0)) c |= StimerConfig.ENABLE;
    this.config[i] = c;
    this.arm(i);
    return true;
  }

  /** (Re)start timer i from its registers; an expiry waiting for its slot is dropped (it was reprogrammed). */
  private arm(i: number): void {
    const c = this.config[i];
    this.waiting[i] = -1;
    if ((c & StimerConfig.ENABLE) === 0 || this.count[i] === 0) this.due[i] = Infinity;
    else if ((c & StimerConfig.PERIODIC) !== 0) this.due[i] = this.refNow() + this.count[i];
    else this.due[i] = this.count[i];
    this.recompute();
    this.host.timerChanged();
  }

  private refNow(): number {
    return Math.floor(this.host.now() / TSC_TICKS_PER_100NS);
  }

  private recompute(): void {
    const d = this.due;
    this.next = Math.min(d[0], d[1], d[2], d[3]);
  }

  // ------------------------------------------------------------ expiry

  /** The next expiry in platform TSC ticks (the VP stops its run there); Infinity when none is armed. */
  deadline(): number {
    return this.next === Infinity ? Infinity : this.next * TSC_TICKS_PER_100NS;
  }

  /** The next expiry (TSC ticks) that would wake a halted VP; timers whose expiry raises nothing are skipped. */
  wakeDeadline(): number {
    let best = Infinity;
    for (let i = 0; i < STIMER_COUNT; i++) {
      const d = this.due[i];
      if (d >= best) continue;
      const c = this.config[i];
      const vector = (c & StimerConfig.DIRECT_MODE) !== 0 ? vectorOf(c) : this.sink.sintWakeVector(sintOf(c));
      if (vector >= 0 && this.host.canWake(vector)) best = d;
    }
    return best === Infinity ? Infinity : best * TSC_TICKS_PER_100NS;
  }

  /** Fire the timers due at `now` (platform TSC ticks), each at most once per call. */
  poll(now: number): void {
    const ref = Math.floor(now / TSC_TICKS_PER_100NS);
    if (ref < this.next) return;
    for (let i = 0; i < STIMER_COUNT; i++) if (this.due[i] <= ref) this.fire(i, ref);
    this.recompute();
  }

  private fire(i: number, ref: number): void {
    const c = this.config[i];
    const expiration = this.due[i];
    this.stats.expiries++;
    if ((c & StimerConfig.DIRECT_MODE) !== 0) {
      this.stats.direct++;
      this.host.raiseSynicInterrupt(vectorOf(c));
    } else if (!this.send(i, expiration, ref)) {
      this.stats.waited++;
      this.waiting[i] = expiration;
      this.due[i] = Infinity;
      return;
    }
    this.delivered(i, expiration, ref);
  }

  /** After an expiry reached the guest: a one-shot timer disables itself, a periodic one takes its next period. */
  private delivered(i: number, expiration: number, ref: number): void {
    const c = this.config[i];
    if ((c & StimerConfig.PERIODIC) === 0) {
      this.config[i] = c & ~StimerConfig.ENABLE;
      this.due[i] = Infinity;
      return;
    }
    const period = this.count[i];
    let next = expiration + period;
    if (next <= ref) {
      // Periods that passed while the expiry waited (a full slot, or the root stepping time forward).
      const missed = Math.floor((ref - next) / period) + 1;
      // Lazy timers and direct mode (one IRR bit per vector) skip them; others deliver up to MAX_CATCH_UP.
      const skip = (c & (StimerConfig.LAZY | StimerConfig.DIRECT_MODE)) !== 0 ? missed : Math.max(0, missed - MAX_CATCH_UP);
      this.stats.missedPeriods += skip;
      next += skip * period;
    }
    this.due[i] = next;
  }

  /** HvMessageTypeTimerExpired for timer i into its SINT's slot. */
  private send(i: number, expiration: number, ref: number): boolean {
    const v = this.view;
    v.setUint32(TimerMessagePayload.timerIndex, i, true);
    v.setUint32(TimerMessagePayload.reserved, 0, true);
    setU64(v, TimerMessagePayload.expirationTime, expiration);
    setU64(v, TimerMessagePayload.deliveryTime, ref);
    if (!this.sink.postTimerMessage(sintOf(this.config[i]), this.payload)) return false;
    this.stats.messages++;
    return true;
  }

  /** A slot may have freed (EOM, SINT unmasked, SynIC or SIM page enabled): deliver the expiries waiting. */
  retryWaiting(): void {
    let ref = -1;
    for (let i = 0; i < STIMER_COUNT; i++) {
      const expiration = this.waiting[i];
      if (expiration < 0) continue;
      if (ref < 0) ref = this.refNow();
      if (!this.send(i, expiration, ref)) continue;
      this.waiting[i] = -1;
      this.delivered(i, expiration, ref);
      this.recompute();
      this.host.timerChanged();
    }
  }

  inspect(): Record<string, unknown>[] {
    const r: Record<string, unknown>[] = [];
    for (let i = 0; i < STIMER_COUNT; i++) {
      r.push({
        config: '0x' + (this.config[i] >>> 0).toString(16), count: this.count[i],
        due: this.due[i] === Infinity ? null : this.due[i], waiting: this.waiting[i] < 0 ? null : this.waiting[i],
      });
    }
    return r;
  }

  inspectStats(): Record<string, number> {
    return { ...this.stats };
  }
}

function setU64(v: DataView, off: number, value: number): void {
  const hi = Math.floor(value / TWO32);
  v.setUint32(off, value - hi * TWO32, true);
  v.setUint32(off + 4, hi >>> 0, true);
}
