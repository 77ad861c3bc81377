// The hypervisor's CPUID leaves 0x40000000..0x40000005 (TLFS "Feature and Interface Discovery") and how they
// join the processor's profile to make a child partition's table. Linux detects Hyper-V from these
// (arch/x86/kernel/cpu/mshyperv.c: ms_hyperv_platform needs CPUID.1:ECX[31], the "Microsoft Hv" vendor, a
// max leaf in 0x40000005..0x4000FFFF, and the hypercall and VP index MSRs in 0x40000003 EAX).
import type { CpuidTable } from '../../vp/index.js';
import { Privilege, type PrivilegeMask } from '../privileges.js';
import { FeaturesEdx, Hints, IMPLEMENTED_PRIVILEGES, LONG_SPIN_WAIT_NEVER } from './features.js';

export const HvCpuidLeaf = {
  VENDOR_AND_MAX: 0x40000000,
  INTERFACE: 0x40000001,
  VERSION: 0x40000002,
  FEATURES: 0x40000003,
  ENLIGHTENMENT_INFO: 0x40000004,
  IMPLEMENTATION_LIMITS: 0x40000005,
} as const;

/** The highest hypervisor leaf: implementation limits, as Hyper-V reports for a non-isolated partition. */
export const HV_MAX_LEAF = HvCpuidLeaf.IMPLEMENTATION_LIMITS;

/** CPUID.1:ECX bit 31: a hypervisor is present (the hypervisor's, not the processor's, to report). */
export const CPUID1_ECX_HYPERVISOR = 1 << 31;

/** Hypatia's version as 0x40000002 reports it (Linux prints "Hyper-V: Host Build major.minor.build.0-0-0"). */
export const HV_VERSION = { build: 0, major: 0, minor: 1 } as const;

function ascii4(s: string): number {
  return (s.charCodeAt(0) | (s.charCodeAt(1) << 8) | (s.charCodeAt(2) << 16) | (s.charCodeAt(3) << 24)) | 0;
}

const key = (leaf: number): string => leaf.toString(16);

/** Add the hypervisor's leaves and the hypervisor-present bit to a processor profile. */
export function composeChildCpuid(t: CpuidTable, privileges: PrivilegeMask, maxVps: number): void {
  const l1 = t.get('1');
  if (l1 !== undefined) t.set('1', { ...l1, ecx: l1.ecx | CPUID1_ECX_HYPERVISOR });
  t.set(key(HvCpuidLeaf.VENDOR_AND_MAX), { eax: HV_MAX_LEAF, ebx: ascii4('Micr'), ecx: ascii4('osof'), edx: ascii4('t Hv') });
  t.set(key(HvCpuidLeaf.INTERFACE), { eax: ascii4('Hv#1'), ebx: 0, ecx: 0, edx: 0 });
  // EAX build number, EBX major << 16 | minor, ECX service pack, EDX service branch << 24 | service number.
  t.set(key(HvCpuidLeaf.VERSION), { eax: HV_VERSION.build, ebx: (HV_VERSION.major << 16) | HV_VERSION.minor, ecx: 0, edx: 0 });
  updateFeatureLeaf(t, privileges);
  t.set(key(HvCpuidLeaf.ENLIGHTENMENT_INFO), { eax: Hints.RELAXED_TIMING | Hints.DEPRECATING_AEOI, ebx: LONG_SPIN_WAIT_NEVER, ecx: 0, edx: 0 });
  // EAX maximum virtual processors, EBX maximum logical processors the hypervisor supports.
  t.set(key(HvCpuidLeaf.IMPLEMENTATION_LIMITS), { eax: maxVps, ebx: maxVps, ecx: 0, edx: 0 });
}

/** Leaf 0x40000003 from the partition's privileges (call again whenever they change). */
export function updateFeatureLeaf(t: CpuidTable, privileges: PrivilegeMask): void {
  let lo = privileges.lo & IMPLEMENTED_PRIVILEGES.lo;
  const hi = privileges.hi & IMPLEMENTED_PRIVILEGES.hi;
  // The synthetic timers deliver through the SynIC: without its registers their MSRs #GP, so they are not reported.
  if (((lo >>> Privilege.ACCESS_SYNIC_MSRS) & 1) === 0) lo &= ~(1 << Privilege.ACCESS_SYNTHETIC_TIMER_MSRS);
  // ECX: power management (no C-states beyond C1 are described); EDX: miscellaneous features.
  let edx = FeaturesEdx.HYPERCALL_MSR_LOCK_AVAILABLE | FeaturesEdx.GUEST_CRASH_MSR_AVAILABLE;
  if (((lo >>> Privilege.ACCESS_FREQUENCY_MSRS) & 1) !== 0) edx |= FeaturesEdx.FREQUENCY_MSRS_AVAILABLE;
  if (((lo >>> Privilege.ACCESS_SYNTHETIC_TIMER_MSRS) & 1) !== 0) edx |= FeaturesEdx.STIMER_DIRECT_MODE_AVAILABLE;
  t.set(key(HvCpuidLeaf.FEATURES), { eax: lo | 0, ebx: hi | 0, ecx: 0, edx });
}
