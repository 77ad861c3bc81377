// The synthetic MSRs the hypervisor answers itself (TLFS; what Linux 6.1 does with each:
// /work/shared/reference/linux-hyperv-guest-contract.md §2). Each is available only while the partition holds
// its privilege (and it is implemented); otherwise the access is not the hypervisor's and takes the ordinary
// path (an installed root intercept, else #GP). Writes are validated: reserved bits, page addresses beyond
// MAXPHYADDR or outside the partition's RAM, read-only registers, and a locked hypercall MSR raise #GP.
// No allocation on these paths except when a page is (re)written.
import { S_TSC_OFFSET } from '../../vp/x86/state.js';
import { Privilege } from '../privileges.js';
import type { Partition } from '../partition.js';
import { APIC_TIMER_HZ, ticksToPair, VIRTUAL_TSC_HZ } from '../virtual-time.js';
import type { VirtualProcessor } from '../virtual-processor.js';
import { readEoi, readIcr, readTpr, readVpAssist, writeEoi, writeIcr, writeTpr, writeVpAssist } from './apic-msrs.js';
import { usable } from './features.js';
import { fillHypercallPage } from './hypercall-page.js';
import { CRASH_FORWARD } from './crash-msrs.js';
import { CrashCtl, HvMsr, HypercallMsr, ReferenceTscMsr } from './msrs.js';
import { pageFieldValid, pageNumber, ramPageHost, store32 } from './overlay-page.js';
import { nextTscSequence, referenceTime, referenceTscScale, TSC_SEQUENCE_INVALID, TscPageLayout } from './reference-tsc.js';

/** Results of readSyntheticMsr / writeSyntheticMsr. */
export const MSR_GP = 0;
export const MSR_DONE = 1;
/** Not a synthetic MSR this partition can use: the caller takes its ordinary path. */
export const MSR_NOT_SYNTHETIC = -1;
/** Done, and forwarded to the root when it installed a write intercept on the MSR (CRASH_CTL's notification). */
export const MSR_DONE_FORWARD = CRASH_FORWARD;

/** privilegeOf: MSRs every child has, whatever its privilege mask (the crash registers are a feature bit). */
const NO_PRIVILEGE_NEEDED = -2;

const SCALE = referenceTscScale();
const SCALE_LO = Number(SCALE & 0xffffffffn) | 0;
const SCALE_HI = Number(SCALE >> 32n) | 0;

/** The privilege that grants an MSR, or -1 for MSRs the hypervisor does not implement. */
function privilegeOf(msr: number): number {
  switch (msr) {
    case HvMsr.GUEST_OS_ID: case HvMsr.HYPERCALL: return Privilege.ACCESS_HYPERCALL_MSRS;
    case HvMsr.VP_INDEX: return Privilege.ACCESS_VP_INDEX;
    case HvMsr.VP_RUNTIME: return Privilege.ACCESS_VP_RUNTIME_MSR;
    case HvMsr.TIME_REF_COUNT: return Privilege.ACCESS_PARTITION_REFERENCE_COUNTER;
    case HvMsr.REFERENCE_TSC: return Privilege.ACCESS_PARTITION_REFERENCE_TSC;
    case HvMsr.TSC_FREQUENCY: case HvMsr.APIC_FREQUENCY: return Privilege.ACCESS_FREQUENCY_MSRS;
    case HvMsr.EOI: case HvMsr.ICR: case HvMsr.TPR: case HvMsr.VP_ASSIST_PAGE: return Privilege.ACCESS_APIC_MSRS;
    case HvMsr.CRASH_P0: case HvMsr.CRASH_P1: case HvMsr.CRASH_P2: case HvMsr.CRASH_P3: case HvMsr.CRASH_P4:
    case HvMsr.CRASH_CTL:
      return NO_PRIVILEGE_NEEDED;
    default: return -1;
  }
}

function available(p: Partition, msr: number): boolean {
  if ((msr >>> 0) < 0x40000000 || (msr >>> 0) > HvMsr.CRASH_CTL) return false;
  const bit = privilegeOf(msr);
  return bit === NO_PRIVILEGE_NEEDED || (bit >= 0 && usable(p.privileges, bit));
}

function pair(out: Int32Array, lo: number, hi: number): number {
  out[0] = lo;
  out[1] = hi;
  return MSR_DONE;
}

export function readSyntheticMsr(vp: VirtualProcessor, msr: number, out: Int32Array): number {
  const p = vp.partition;
  if (!available(p, msr)) return MSR_NOT_SYNTHETIC;
  const e = p.synthetic;
  switch (msr) {
    case HvMsr.GUEST_OS_ID: return pair(out, e.guestOsIdLo, e.guestOsIdHi);
    case HvMsr.HYPERCALL: return pair(out, e.hypercallLo, e.hypercallHi);
    case HvMsr.VP_INDEX: return pair(out, vp.index, 0);
    case HvMsr.VP_RUNTIME:
      // Time this VP spent running guest code (not halted), in 100 ns units.
      ticksToPair(referenceTime(vp.cpu.icount), out);
      return MSR_DONE;
    case HvMsr.TIME_REF_COUNT:
      ticksToPair(referenceTime(vp.cpu.icount + vp.skippedInstructions), out);
      return MSR_DONE;
    case HvMsr.REFERENCE_TSC: return pair(out, e.referenceTscLo, e.referenceTscHi);
    case HvMsr.TSC_FREQUENCY: ticksToPair(VIRTUAL_TSC_HZ, out); return MSR_DONE;
    case HvMsr.APIC_FREQUENCY: ticksToPair(APIC_TIMER_HZ, out); return MSR_DONE;
    case HvMsr.EOI: return refused(p, readEoi());
    case HvMsr.ICR: return refused(p, readIcr(vp, out));
    case HvMsr.TPR: return refused(p, readTpr(vp, out));
    case HvMsr.VP_ASSIST_PAGE: return readVpAssist(vp, out);
    case HvMsr.CRASH_P0: case HvMsr.CRASH_P1: case HvMsr.CRASH_P2: case HvMsr.CRASH_P3: case HvMsr.CRASH_P4: {
      const i = 2 * (msr - HvMsr.CRASH_P0);
      return pair(out, e.crash.params[i], e.crash.params[i + 1]);
    }
    // Read, the control register lists what the hypervisor supports: notification, with or without a log page.
    case HvMsr.CRASH_CTL: return pair(out, 0, CrashCtl.NOTIFY_HI | CrashCtl.NOTIFY_MSG_HI);
  }
  return MSR_NOT_SYNTHETIC;
}

export function writeSyntheticMsr(vp: VirtualProcessor, msr: number, lo: number, hi: number): number {
  const p = vp.partition;
  if (!available(p, msr)) return MSR_NOT_SYNTHETIC;
  let r: number;
  switch (msr) {
    case HvMsr.GUEST_OS_ID: r = writeGuestOsId(p, lo, hi); break;
    case HvMsr.HYPERCALL: r = writeHypercall(vp, lo, hi); break;
    case HvMsr.REFERENCE_TSC: r = writeReferenceTsc(vp, lo, hi); break;
    case HvMsr.EOI: r = writeEoi(vp); break;
    case HvMsr.ICR: r = writeIcr(vp, lo, hi); break;
    case HvMsr.TPR: r = writeTpr(vp, lo, hi); break;
    case HvMsr.VP_ASSIST_PAGE: r = writeVpAssist(vp, lo, hi); break;
    case HvMsr.CRASH_P0: case HvMsr.CRASH_P1: case HvMsr.CRASH_P2: case HvMsr.CRASH_P3: case HvMsr.CRASH_P4: {
      const i = 2 * (msr - HvMsr.CRASH_P0);
      p.synthetic.crash.params[i] = lo;
      p.synthetic.crash.params[i + 1] = hi;
      r = MSR_DONE;
      break;
    }
    case HvMsr.CRASH_CTL: r = writeCrashCtl(p, lo, hi); break;
    default: r = MSR_GP; // the others are read-only
  }
  return refused(p, r);
}

function refused(p: Partition, r: number): number {
  if (r === MSR_GP) p.synthetic.counters.msrRefusals++;
  return r;
}

/** Only the two supported bits may be set; CRASH_NOTIFY records the crash and tells the root. */
function writeCrashCtl(p: Partition, lo: number, hi: number): number {
  if (lo !== 0 || (hi & ~(CrashCtl.NOTIFY_HI | CrashCtl.NOTIFY_MSG_HI)) !== 0) return MSR_GP;
  if ((hi & CrashCtl.NOTIFY_HI) === 0) return MSR_DONE;
  p.synthetic.crash.notifications++;
  p.synthetic.crash.notifiedCtlHi = hi;
  return MSR_DONE_FORWARD;
}

function writeGuestOsId(p: Partition, lo: number, hi: number): number {
  const e = p.synthetic;
  e.guestOsIdLo = lo;
  e.guestOsIdHi = hi;
  // TLFS: zeroing the guest OS ID disables the hypercall page.
  if ((lo | hi) === 0) e.hypercallLo &= ~HypercallMsr.ENABLE;
  return MSR_DONE;
}

function writeHypercall(vp: VirtualProcessor, lo: number, hi: number): number {
  const p = vp.partition, e = p.synthetic;
  if ((e.hypercallLo & HypercallMsr.LOCKED) !== 0) return MSR_GP;
  if ((lo & HypercallMsr.RESERVED_LO) !== 0 || !pageFieldValid(hi)) return MSR_GP;
  let value = lo;
  if ((lo & HypercallMsr.ENABLE) !== 0) {
    if (!e.guestOsIdSet) {
      // TLFS: without a guest OS identity the enable bit stays 0 (the write itself succeeds).
      value &= ~HypercallMsr.ENABLE;
    } else {
      const page = pageNumber(lo, hi);
      const host = ramPageHost(p, page);
      if (host < 0) return MSR_GP;
      fillHypercallPage(vp.cpu.u8, host);
      p.invalidate(page, 1); // the guest may have run (or decoded) other code from this page
      e.counters.hypercallPageWrites++;
    }
  }
  e.hypercallLo = value;
  e.hypercallHi = hi;
  return MSR_DONE;
}

function writeReferenceTsc(vp: VirtualProcessor, lo: number, hi: number): number {
  const p = vp.partition, e = p.synthetic;
  if ((lo & ReferenceTscMsr.RESERVED_LO) !== 0 || !pageFieldValid(hi)) return MSR_GP;
  if ((lo & ReferenceTscMsr.ENABLE) !== 0) {
    const page = pageNumber(lo, hi);
    const host = ramPageHost(p, page);
    if (host < 0) return MSR_GP;
    const u8 = vp.cpu.u8, s = vp.cpu.s;
    // The page describes reference time in terms of the TSC the guest reads, which is the virtual clock plus
    // the VP's IA32_TSC offset. Offset 0 is exact (see reference-tsc.ts); otherwise the page says "invalid"
    // and the guest falls back to HV_X64_MSR_TIME_REF_COUNT.
    const exact = (s[S_TSC_OFFSET] | s[S_TSC_OFFSET + 1]) === 0;
    store32(u8, host + TscPageLayout.sequence, TSC_SEQUENCE_INVALID);
    store32(u8, host + TscPageLayout.sequence + 4, 0);
    store32(u8, host + TscPageLayout.scale, SCALE_LO);
    store32(u8, host + TscPageLayout.scale + 4, SCALE_HI);
    store32(u8, host + TscPageLayout.offset, 0);
    store32(u8, host + TscPageLayout.offset + 4, 0);
    if (exact) {
      e.tscSequence = nextTscSequence(e.tscSequence);
      store32(u8, host + TscPageLayout.sequence, e.tscSequence);
    }
    p.invalidate(page, 1);
    e.counters.tscPageWrites++;
  }
  e.referenceTscLo = lo;
  e.referenceTscHi = hi;
  return MSR_DONE;
}
