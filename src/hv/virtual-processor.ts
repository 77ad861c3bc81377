// A virtual processor as the hypervisor runs it: the VP engine plus the hypervisor's side of VpPlatform.
// Everything the engine cannot do alone arrives here and is either answered by the hypervisor (virtual time,
// hypercalls, the all-ones / #GP defaults) or turned into an intercept message for the root.
import { X86Engine, type VpPlatform } from '../vp/index.js';
import { EXIT_BUDGET, EXIT_HLT, EXIT_STOP, EXIT_TRIPLE_FAULT, GPA_READ, GPA_WRITE } from '../vp/index.js';
import type { X86Cpu } from '../vp/index.js';
// The VP state page layout is the contract between the hypervisor (which owns the page) and the engine.
import {
  S_APIC_BASE, S_CPL, S_CR0, S_CR8, S_EFER, S_INT_SHADOW, S_RFLAGS, S_RIP, S_SEG_ATTR, S_SEG_BASE, S_SEG_LIMIT, S_SEG_SEL,
  S_TSC_OFFSET,
} from '../vp/x86/state.js';
import { PHYS_ADDR_BITS } from '../vp/x86/cpuid-profile.js';
import { readFlags } from '../vp/x86/flags.js';
import { DispatchEvent, DispatchState, InterceptAccess } from './hypercall/layouts.js';
import { HvMessageType, InterceptAccessType, InterceptMessage, MessageLayout } from './intercept-message.js';
import { MSR_DONE, MSR_DONE_FORWARD, MSR_NOT_SYNTHETIC, readSyntheticMsr, usable, VpEnlightenments, writeSyntheticMsr } from './enlightenments/index.js';
import { Privilege } from './privileges.js';
import { Synic, SYNIC_MSR_FIRST, SYNIC_MSR_LAST, SyntheticTimers, type SynicHost } from './synic/index.js';
import type { Partition } from './partition.js';
import {
  APIC_BASE_MSR, apicBaseWriteAllowed, LocalApic, routeInterrupt, TSC_DEADLINE_MSR, X2APIC_MSR_FIRST, X2APIC_MSR_LAST,
  type ApicHost,
} from './apic/index.js';
import { TSC_TICKS_PER_INSTRUCTION, ticksToPair } from './virtual-time.js';

const SEG_CS = 1;
const FLAG_IF = 1 << 9;
const CR0_PE = 1, CR0_AM = 1 << 18, EFER_LMA = 1 << 10;
const CPUID1_ECX_X2APIC = 1 << 21;
const TWO32 = 4294967296;

/** The hypervisor services a VP calls back into (kept narrow to avoid a dependency cycle). */
export interface VpHost {
  /** Dispatch the hypercall in the VP's registers (TLFS x64 register convention) and write RAX. */
  guestHypercall(vp: VirtualProcessor): void;
}

/** Why a dispatch ended, as HvCallDispatchVp reports it (state, event). */
export class DispatchResult {
  state = 0;
  event = 0;
}

export class VirtualProcessor implements VpPlatform, ApicHost, SynicHost {
  readonly engine: X86Engine;
  readonly cpu: X86Cpu;
  readonly message: InterceptMessage;
  /** HLT with interrupts enabled: waiting for an interrupt (nothing runs until one is pending). */
  halted = false;
  /** Suspended by an intercept until the root dispatches with CLEAR_INTERCEPT_SUSPEND. */
  interceptSuspended = false;
  /** Triple fault: the VP can run no more. */
  shutdown = false;
  /** Instructions skipped while halted (HLT fast-forward), part of virtual time. */
  skippedInstructions = 0;
  /** Inside engine.run (an intercept handler must not dispatch the same VP again). */
  running = false;
  /** Output of the last HvCallDispatchVp (reused). */
  readonly lastDispatch = new DispatchResult();
  /** The local APIC the hypervisor virtualizes for this VP (xAPIC page, x2APIC MSRs, timer). */
  readonly apic: LocalApic;
  /** Per-VP synthetic registers (the VP assist page). */
  readonly synthetic = new VpEnlightenments();
  /** The VP's synthetic interrupt controller (SINTs, message and event-flag pages). */
  readonly synic: Synic;
  /** The root asked the running dispatch to return (requestStop), as opposed to an APIC timer re-time. */
  private stopRequested = false;
  /** The guest reprogrammed its APIC timer during the run: the run budget must be recomputed. */
  private retime = false;
  private readonly s: Int32Array;

  constructor(
    readonly partition: Partition,
    readonly index: number,
    readonly statePage: number,
    readonly messagePage: number,
    memory: ArrayBuffer,
    private readonly host: VpHost,
  ) {
    this.engine = new X86Engine(memory, statePage * 4096, partition.map, this, partition.cpuid, index);
    this.cpu = this.engine.cpu;
    this.s = this.cpu.s;
    this.message = new InterceptMessage(memory, messagePage * 4096);
    this.apic = new LocalApic(index, this);
    this.synic = new Synic(this, this.cpu.u8);
  }

  // ------------------------------------------------------------ dispatch (HvCallDispatchVp)

  /** This VP's virtual time in instructions: retired, plus skipped while halted (see virtual-time.ts). */
  get instructionTime(): number {
    return this.cpu.icount + this.skippedInstructions;
  }

  /**
   * Run for up to `budget` instructions of virtual time. The run stops at each APIC or synthetic timer expiry, so a timer
   * interrupt arrives at its exact point in the instruction stream. A VP halted with interrupts enabled
   * fast-forwards virtual time to the next expiry that can wake it (no waiting), and is BLOCKED only when
   * nothing but an interrupt from the root can wake it.
   */
  dispatch(budget: number, clearInterceptSuspend: boolean, out: DispatchResult): void {
    out.state = DispatchState.READY;
    out.event = DispatchEvent.INTERCEPT;
    if (this.shutdown) return; // the unrecoverable-exception message stays in the message page
    if (this.interceptSuspended) {
      if (!clearInterceptSuspend) return;
      this.interceptSuspended = false;
    }
    this.partition.counters.dispatches++;
    const apic = this.apic, timers = this.synic.timers;
    const end = this.instructionTime + budget;
    this.stopRequested = false;
    for (;;) {
      const now = this.instructionTime;
      apic.pollTimer(now * TSC_TICKS_PER_INSTRUCTION);
      timers.poll(now * TSC_TICKS_PER_INSTRUCTION);
      if (this.halted) {
        if (this.cpu.nmiPending || apic.highestDeliverable() >= 0) {
          this.halted = false;
        } else {
          // The earliest expiry that can wake it: the APIC timer's or a synthetic timer's.
          const ticks = Math.min(apic.timerCanWake() ? apic.timerDeadline() : Infinity, timers.wakeDeadline());
          // (Never behind now: an expiry already due fires at this boundary, and time must not run back.)
          const wake = ticks === Infinity ? Infinity : Math.max(now, Math.ceil(ticks / TSC_TICKS_PER_INSTRUCTION));
          if (wake === Infinity) {
            out.state = DispatchState.BLOCKED;
            out.event = DispatchEvent.SUSPEND;
            return;
          }
          if (wake >= end) {
            this.skippedInstructions += end - now;
            out.event = DispatchEvent.SUSPEND;
            return;
          }
          this.skippedInstructions += wake - now;
          continue;
        }
      }
      if (now >= end) {
        out.event = DispatchEvent.SUSPEND;
        return;
      }
      const deadline = this.timerDeadlineInstructions();
      const slice = (deadline < end ? Math.max(deadline, now + 1) : end) - now;
      this.retime = false;
      this.running = true;
      let exit: number;
      try {
        exit = this.engine.run(slice);
      } finally {
        this.running = false;
      }
      switch (exit) {
        case EXIT_BUDGET:
          continue;
        case EXIT_STOP:
          if (this.interceptSuspended) return;
          if (this.retime && !this.stopRequested) continue; // the timer moved: new budget
          out.event = DispatchEvent.SUSPEND;
          return;
        case EXIT_HLT:
          if ((this.s[S_RFLAGS] & FLAG_IF) === 0 && !this.cpu.nmiPending) {
            // Nothing can wake this VP: tell the root (Hyper-V sends HvMessageTypeX64Halt).
            this.fillHeader(this.message.begin(HvMessageType.X64_HALT, this.index, InterceptAccessType.EXECUTE, MessageLayout.HEADER_END), false);
            this.deliver(true);
            return;
          }
          this.halted = true;
          continue;
        case EXIT_TRIPLE_FAULT:
          this.shutdown = true;
          this.fillHeader(this.message.begin(HvMessageType.UNRECOVERABLE_EXCEPTION, this.index, InterceptAccessType.EXECUTE, MessageLayout.HEADER_END), false);
          this.deliver(true);
          return;
        default:
          out.event = DispatchEvent.SUSPEND;
          return;
      }
    }
  }

  /** The next APIC or synthetic timer expiry as an instruction time (rounded up); Infinity when none is armed. */
  private timerDeadlineInstructions(): number {
    const t = Math.min(this.apic.timerDeadline(), this.synic.timers.deadline());
    return t === Infinity ? Infinity : Math.ceil(t / TSC_TICKS_PER_INSTRUCTION);
  }

  /** Ask a running VP to return from its dispatch soon (e.g. the root wants the CPU back). */
  requestStop(): void {
    this.stopRequested = true;
    this.engine.requestStop();
  }

  // ------------------------------------------------------------ intercept delivery

  /** Fill hv_x64_intercept_message_header from the VP state. `inInsn`: the access is inside an instruction. */
  private fillHeader(d: DataView, inInsn: boolean): void {
    const s = this.s, cpu = this.cpu;
    // Inside an instruction the message reports that instruction's RIP and length, as Hyper-V does (the
    // hypervisor completes the access itself, so the root never needs to emulate or skip it).
    let ripLo = s[S_RIP], ripHi = s[S_RIP + 1];
    let len = 0;
    const cur = cpu.cur;
    if (inInsn && cur !== null) {
      ripLo = (cpu.blockLo + cur.start) | 0;
      ripHi = cpu.mode64 && (ripLo >>> 0) < (cpu.blockLo >>> 0) ? (cpu.blockHi + 1) | 0 : cpu.blockHi;
      len = cur.end - cur.start;
    }
    d.setUint8(MessageLayout.instructionLength, len & 0xf);
    const exec = (s[S_CPL] & 3) | ((s[S_CR0] & CR0_PE) !== 0 ? 4 : 0) | ((s[S_CR0] & CR0_AM) !== 0 ? 8 : 0)
      | ((s[S_EFER] & EFER_LMA) !== 0 ? 16 : 0) | (s[S_INT_SHADOW] !== 0 ? 1 << 12 : 0);
    d.setUint16(MessageLayout.executionState, exec, true);
    d.setUint32(MessageLayout.csBase, s[S_SEG_BASE + 2 * SEG_CS] >>> 0, true);
    d.setUint32(MessageLayout.csBase + 4, s[S_SEG_BASE + 2 * SEG_CS + 1] >>> 0, true);
    d.setUint32(MessageLayout.csLimit, s[S_SEG_LIMIT + SEG_CS] >>> 0, true);
    d.setUint16(MessageLayout.csSelector, s[S_SEG_SEL + SEG_CS] & 0xffff, true);
    d.setUint16(MessageLayout.csAttributes, s[S_SEG_ATTR + SEG_CS] & 0xffff, true);
    d.setUint32(MessageLayout.rip, ripLo >>> 0, true);
    d.setUint32(MessageLayout.rip + 4, ripHi >>> 0, true);
    d.setUint32(MessageLayout.rflags, readFlags(s) >>> 0, true);
  }

  /** Hand the filled message to the root; `forceSuspend` for events after which the VP cannot go on. */
  private deliver(forceSuspend: boolean): void {
    const p = this.partition;
    p.counters.intercepts++;
    const h = p.interceptHandler;
    if (h !== null) h(this.message);
    if (forceSuspend || this.message.suspended) {
      this.interceptSuspended = true;
      this.engine.requestStop();
    }
  }

  // ------------------------------------------------------------ VpPlatform

  ioRead(port: number, size: number): number {
    const p = this.partition;
    if ((p.ioIntercepts[port] & InterceptAccess.READ) === 0 || p.interceptHandler === null) return -1;
    const m = this.message;
    const dv = m.begin(HvMessageType.X64_IO_PORT_INTERCEPT, this.index, InterceptAccessType.READ, MessageLayout.IO_END);
    this.fillHeader(dv, true);
    m.setIo(port, size, false, false, 0);
    this.fillIoRegs(dv);
    this.deliver(false);
    return m.value;
  }

  ioWrite(port: number, size: number, value: number): void {
    const p = this.partition;
    if ((p.ioIntercepts[port] & InterceptAccess.WRITE) === 0 || p.interceptHandler === null) return;
    const m = this.message;
    const dv = m.begin(HvMessageType.X64_IO_PORT_INTERCEPT, this.index, InterceptAccessType.WRITE, MessageLayout.IO_END);
    this.fillHeader(dv, true);
    m.setIo(port, size, false, false, size === 4 ? value : value & ((1 << (size * 8)) - 1));
    this.fillIoRegs(dv);
    this.deliver(false);
  }

  private fillIoRegs(dv: DataView): void {
    const s = this.s;
    dv.setUint32(MessageLayout.ioRax, s[0] >>> 0, true);
    dv.setUint32(MessageLayout.ioRax + 4, s[1] >>> 0, true);
    dv.setUint32(MessageLayout.ioRcx, s[2] >>> 0, true);
    dv.setUint32(MessageLayout.ioRcx + 4, s[3] >>> 0, true);
    dv.setUint32(MessageLayout.ioRsi, s[12] >>> 0, true);
    dv.setUint32(MessageLayout.ioRsi + 4, s[13] >>> 0, true);
    dv.setUint32(MessageLayout.ioRdi, s[14] >>> 0, true);
    dv.setUint32(MessageLayout.ioRdi + 4, s[15] >>> 0, true);
  }

  /** Is `gpa` in this VP's xAPIC page (the hypervisor serves it; the root never sees those accesses)? */
  private apicPage(gpa: number): boolean {
    return this.s[S_APIC_BASE + 1] === 0 && this.apic.claimsMmio(gpa);
  }

  mmioRead(gpa: number, size: number): number {
    if (this.apicPage(gpa)) return this.apic.mmioRead(gpa & 0xfff, size);
    if (this.partition.interceptHandler === null) return -1;
    this.memoryIntercept(gpa, size, InterceptAccessType.READ, GPA_READ, 0);
    return this.message.value;
  }

  mmioWrite(gpa: number, size: number, value: number): void {
    if (this.apicPage(gpa)) { this.apic.mmioWrite(gpa & 0xfff, size, value); return; }
    if (this.partition.interceptHandler === null) return;
    this.memoryIntercept(gpa, size, InterceptAccessType.WRITE, GPA_WRITE, size === 4 ? value : value & ((1 << (size * 8)) - 1));
  }

  /** Unmapped GPA, or mapped without the right the access needs (a GPA access violation). */
  private memoryIntercept(gpa: number, size: number, access: number, right: number, data: number): void {
    const map = this.partition.map;
    const page = Math.floor(gpa / 4096);
    const type = map.isMapped(page) && (map.rights[page] & right) === 0 ? HvMessageType.GPA_INTERCEPT : HvMessageType.UNMAPPED_GPA;
    const m = this.message;
    this.fillHeader(m.begin(type, this.index, access, MessageLayout.MEM_END), true);
    m.setMemory(gpa, size, data);
    this.deliver(false);
  }

  rdmsr(msr: number, out: Int32Array): boolean {
    // Synthetic MSRs the partition may use are the hypervisor's own (never intercepted by the root).
    const r = readSyntheticMsr(this, msr, out);
    if (r !== MSR_NOT_SYNTHETIC) return r === MSR_DONE;
    if (this.synicMsr(msr)) return this.synic.rdmsr(msr, out);
    if (this.stimerMsr(msr)) return this.synic.timers.rdmsr(msr, out);
    // The local APIC's MSRs are the hypervisor's (IA32_APIC_BASE itself is kept in the state page).
    if (msr >= X2APIC_MSR_FIRST && msr <= X2APIC_MSR_LAST) return this.apic.rdmsr(msr, out);
    if (msr === TSC_DEADLINE_MSR) { this.apic.readDeadline(out); return true; }
    if (msr === APIC_BASE_MSR) return false;
    if (!this.msrIntercepted(msr, InterceptAccess.READ)) return false;
    const m = this.message;
    this.fillHeader(m.begin(HvMessageType.X64_MSR_INTERCEPT, this.index, InterceptAccessType.READ, MessageLayout.MSR_END), true);
    m.setMsr(msr, this.s[0], this.s[4]);
    this.deliver(false);
    if (m.injectGp) return false;
    out[0] = m.value;
    out[1] = m.valueHi;
    return true;
  }

  wrmsr(msr: number, lo: number, hi: number): boolean {
    const r = writeSyntheticMsr(this, msr, lo, hi);
    if (r === MSR_DONE_FORWARD) {
      // Handled (the guest's crash notification); the root hears of it as an MSR write if it installed an
      // intercept on this very MSR (an "every unimplemented MSR" intercept does not cover an implemented one).
      const p = this.partition;
      if (p.interceptHandler !== null && ((p.msrIntercepts.get(msr) ?? 0) & InterceptAccess.WRITE) !== 0) this.msrWriteMessage(msr, lo, hi);
      return true;
    }
    if (r !== MSR_NOT_SYNTHETIC) return r === MSR_DONE;
    if (this.synicMsr(msr)) return this.synic.wrmsr(msr, lo, hi);
    if (this.stimerMsr(msr)) return this.synic.timers.wrmsr(msr, lo, hi);
    if (msr >= X2APIC_MSR_FIRST && msr <= X2APIC_MSR_LAST) return this.apic.wrmsr(msr, lo, hi);
    if (msr === TSC_DEADLINE_MSR) { this.apic.writeDeadline(lo, hi); return true; }
    if (msr === APIC_BASE_MSR) return this.writeApicBase(lo, hi);
    if (!this.msrIntercepted(msr, InterceptAccess.WRITE)) return false;
    return this.msrWriteMessage(msr, lo, hi);
  }

  /** HvMessageTypeX64MsrIntercept for a write; false when the root asks for #GP. */
  private msrWriteMessage(msr: number, lo: number, hi: number): boolean {
    const m = this.message;
    this.fillHeader(m.begin(HvMessageType.X64_MSR_INTERCEPT, this.index, InterceptAccessType.WRITE, MessageLayout.MSR_END), true);
    m.setMsr(msr, lo, hi);
    this.deliver(false);
    return !m.injectGp;
  }

  /** WRMSR IA32_APIC_BASE: legal values and mode transitions only (false is #GP). */
  private writeApicBase(lo: number, hi: number): boolean {
    const s = this.s, old = s[S_APIC_BASE];
    const leaf1 = this.partition.cpuid.get('1');
    const x2apic = leaf1 !== undefined && (leaf1.ecx & CPUID1_ECX_X2APIC) !== 0;
    if (!apicBaseWriteAllowed(old, lo, hi, PHYS_ADDR_BITS, x2apic)) return false;
    s[S_APIC_BASE] = lo;
    s[S_APIC_BASE + 1] = hi;
    this.apic.baseChanged(old, lo);
    return true;
  }

  /** A SynIC MSR of a partition holding AccessSynicRegs (without it the MSR takes the ordinary path). */
  private synicMsr(msr: number): boolean {
    return msr >= SYNIC_MSR_FIRST && msr <= SYNIC_MSR_LAST && usable(this.partition.privileges, Privilege.ACCESS_SYNIC_MSRS);
  }

  /** STIMER0-3 CONFIG/COUNT of a partition holding AccessSyntheticTimerRegs and the SynIC they deliver through. */
  private stimerMsr(msr: number): boolean {
    return SyntheticTimers.claims(msr) && usable(this.partition.privileges, Privilege.ACCESS_SYNTHETIC_TIMER_MSRS)
      && usable(this.partition.privileges, Privilege.ACCESS_SYNIC_MSRS);
  }

  private msrIntercepted(msr: number, access: number): boolean {
    const p = this.partition;
    if (p.interceptHandler === null) return false;
    const mask = p.msrIntercepts.size === 0 ? p.msrInterceptAll : (p.msrIntercepts.get(msr) ?? p.msrInterceptAll);
    return (mask & access) !== 0;
  }

  readTsc(out: Int32Array): void {
    ticksToPair((this.cpu.icount + this.skippedInstructions) * TSC_TICKS_PER_INSTRUCTION, out);
  }

  hypercall(): void {
    this.partition.counters.hypercalls++;
    this.host.guestHypercall(this);
  }

  acknowledgeInterrupt(): number {
    const v = this.apic.acknowledge();
    // An auto-EOI SINT's vector leaves service as it is taken (the guest will not EOI it).
    if (v >= 0 && this.synic.isAutoEoi(v)) this.apic.eoi();
    return v;
  }

  // ------------------------------------------------------------ SynicHost

  raiseSynicInterrupt(vector: number): void {
    this.apic.accept(vector, false);
  }

  canWake(vector: number): boolean {
    return this.apic.canWake(vector);
  }

  // ------------------------------------------------------------ ApicHost (what the local APIC sees of its VP)

  now(): number {
    return this.instructionTime * TSC_TICKS_PER_INSTRUCTION;
  }

  tscOffset(): number {
    return this.s[S_TSC_OFFSET + 1] * TWO32 + (this.s[S_TSC_OFFSET] >>> 0);
  }

  apicBaseLo(): number {
    return this.s[S_APIC_BASE];
  }

  readCr8(): number {
    return this.s[S_CR8];
  }

  writeCr8(value: number): void {
    this.s[S_CR8] = value;
  }

  kick(): void {
    this.engine.signalInterrupt();
  }

  nmi(): void {
    this.cpu.nmiPending = true;
    this.engine.signalInterrupt();
  }

  timerChanged(): void {
    if (!this.running) return;
    this.retime = true;
    this.engine.requestStop();
  }

  /** A level-triggered vector was EOIed: HvMessageTypeX64ApicEoi to the root, whose IOAPIC asserted it. */
  eoiBroadcast(vector: number): void {
    if (this.partition.interceptHandler === null) return;
    this.message.beginApicEoi(this.index, vector);
    this.deliver(false);
  }

  sendIpi(source: LocalApic, mode: number, vector: number, dest: number, logical: boolean, shorthand: number): void {
    routeInterrupt(this.partition.vps, source, mode, vector, false, dest, logical, shorthand);
  }

  inspect(): Record<string, unknown> {
    return {
      index: this.index,
      halted: this.halted,
      interceptSuspended: this.interceptSuspended,
      shutdown: this.shutdown,
      statePage: this.statePage,
      virtualTsc: this.now(),
      apic: this.apic.inspect(),
      synthetic: this.synthetic.inspect(),
      synic: this.synic.inspect(),
      lastMessage: this.message.type !== 0 ? this.message.inspect() : null,
      engine: this.engine.inspect(),
    };
  }
}
