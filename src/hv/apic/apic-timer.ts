// The local APIC timer in virtual time (SDM vol. 3A, "APIC Timer"): one-shot, periodic and TSC-deadline modes.
// All times are platform TSC ticks of the VP's virtual clock (src/hv/virtual-time.ts), so an expiry is an exact
// point in the instruction stream and two runs of a guest see the same interrupts at the same TSC values.
// The timer keeps no host timers: the VP asks for `next` and stops its run budget there (or fast-forwards a
// halted VP to it), then calls `expire`.
import { APIC_TIMER_HZ, VIRTUAL_TSC_HZ } from '../virtual-time.js';
import { DIVIDE_WRITABLE, TimerMode } from './registers.js';

/** TSC ticks per APIC timer input tick (before the divider). */
export const TSC_TICKS_PER_APIC_TICK = VIRTUAL_TSC_HZ / APIC_TIMER_HZ;
const TWO32 = 4294967296;

/** The divisor a divide-configuration value selects: bits 3,1,0 = 000 -> 2, 001 -> 4, ... 110 -> 128, 111 -> 1. */
export function apicTimerDivisor(dcr: number): number {
  const code = ((dcr >> 1) & 4) | (dcr & 3);
  return code === 7 ? 1 : 2 << code;
}

export class ApicTimer {
  /** Initial-count register. */
  initial = 0;
  /** Divide-configuration register. */
  divide = 0;
  mode: number = TimerMode.ONE_SHOT;
  /** Next expiry (platform TSC ticks), Infinity when the timer is not armed. */
  next = Infinity;
  /** IA32_TSC_DEADLINE as written (guest TSC, lo/hi); 0 when disarmed. */
  deadlineLo = 0;
  deadlineHi = 0;
  /** When the count was (re)loaded: periodic expiries and the current count are measured from here. */
  private start = 0;
  /** TSC ticks per count at the current divider. */
  private ticksPerCount = 2 * TSC_TICKS_PER_APIC_TICK;

  reset(): void {
    this.initial = 0;
    this.divide = 0;
    this.mode = TimerMode.ONE_SHOT;
    this.next = Infinity;
    this.deadlineLo = 0;
    this.deadlineHi = 0;
    this.start = 0;
    this.ticksPerCount = 2 * TSC_TICKS_PER_APIC_TICK;
  }

  /** Writing the initial count (re)starts the count-down; 0 stops it. Ignored in TSC-deadline mode. */
  loadInitial(count: number, now: number): void {
    if (this.mode === TimerMode.TSC_DEADLINE) return;
    this.initial = count >>> 0;
    this.start = now;
    this.next = this.initial === 0 ? Infinity : now + this.initial * this.ticksPerCount;
  }

  /** Current-count register. */
  current(now: number): number {
    if (this.mode === TimerMode.TSC_DEADLINE || this.initial === 0) return 0;
    const elapsed = now - this.start;
    const period = this.initial * this.ticksPerCount;
    if (this.mode === TimerMode.PERIODIC) {
      if (this.next === Infinity) return 0;
      return this.initial - Math.floor((elapsed % period) / this.ticksPerCount);
    }
    if (this.next === Infinity || elapsed >= period) return 0;
    return this.initial - Math.floor(elapsed / this.ticksPerCount);
  }

  /** A new divider applies from now on; the count already run down is kept. */
  setDivide(value: number, now: number): void {
    const done = this.initial - this.current(now);
    this.divide = value & DIVIDE_WRITABLE;
    this.ticksPerCount = apicTimerDivisor(this.divide) * TSC_TICKS_PER_APIC_TICK;
    if (this.next === Infinity || this.mode === TimerMode.TSC_DEADLINE) return;
    this.start = now - done * this.ticksPerCount;
    this.next = this.start + this.initial * this.ticksPerCount;
  }

  /**
   * The LVT timer's mode field changed. Moving into or out of TSC-deadline mode disarms the timer (SDM: the
   * initial count and IA32_TSC_DEADLINE are cleared); one-shot <-> periodic keeps the running count.
   */
  setMode(mode: number): void {
    if (mode === this.mode) return;
    if (mode === TimerMode.TSC_DEADLINE || this.mode === TimerMode.TSC_DEADLINE) {
      this.initial = 0;
      this.next = Infinity;
      this.deadlineLo = 0;
      this.deadlineHi = 0;
    }
    this.mode = mode;
  }

  /**
   * WRMSR IA32_TSC_DEADLINE (guest TSC = platform ticks + tscOffset). Ignored outside TSC-deadline mode;
   * 0 disarms; a deadline already passed expires at once.
   */
  writeDeadline(lo: number, hi: number, now: number, tscOffset: number): void {
    if (this.mode !== TimerMode.TSC_DEADLINE) return;
    this.deadlineLo = lo;
    this.deadlineHi = hi;
    if (lo === 0 && hi === 0) { this.next = Infinity; return; }
    const target = (hi >>> 0) * TWO32 + (lo >>> 0) - tscOffset;
    this.next = target <= now ? now : target;
  }

  /**
   * Account for expiries up to `now`: true when the timer expired at least once (the caller raises the LVT
   * vector once: the IRR holds one bit per vector). Periodic timers skip the periods that passed meanwhile.
   */
  expire(now: number): boolean {
    if (this.next > now) return false;
    if (this.mode === TimerMode.PERIODIC && this.initial !== 0) {
      const period = this.initial * this.ticksPerCount;
      this.next += (Math.floor((now - this.next) / period) + 1) * period;
    } else {
      this.next = Infinity;
      this.deadlineLo = 0;
      this.deadlineHi = 0;
    }
    return true;
  }

  inspect(now: number): Record<string, unknown> {
    return {
      mode: ['one-shot', 'periodic', 'tsc-deadline', 'reserved'][this.mode], initial: this.initial,
      current: this.current(now), divide: this.divide, next: this.next === Infinity ? null : this.next,
    };
  }
}
