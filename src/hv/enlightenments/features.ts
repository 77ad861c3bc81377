// What this hypervisor offers a child partition, as the TLFS feature bits name it. A partition's privilege
// mask says what it may use; CPUID 0x40000003 reports the privileges that are also implemented here, and the
// synthetic MSRs check the same intersection, so a bit is reported exactly when the guest can rely on it.
// Bit numbers: Linux include/asm-generic/hyperv-tlfs.h and arch/x86/include/asm/hyperv-tlfs.h.
import { Privilege, PrivilegeMask } from '../privileges.js';

/**
 * Privilege bits whose MSRs or hypercalls exist. Not yet: reset (7), statistics (8),
 * guest idle (10), debug (12), reenlightenment (13), TSC invariant controls (15); extended hypercalls (52) and
 * isolation (54) are not offered.
 */
export const IMPLEMENTED_PRIVILEGES = PrivilegeMask.of(
  Privilege.ACCESS_VP_RUNTIME_MSR,
  Privilege.ACCESS_PARTITION_REFERENCE_COUNTER,
  Privilege.ACCESS_APIC_MSRS,
  Privilege.ACCESS_HYPERCALL_MSRS,
  Privilege.ACCESS_VP_INDEX,
  Privilege.ACCESS_PARTITION_REFERENCE_TSC,
  Privilege.ACCESS_FREQUENCY_MSRS,
  // The SynIC (src/hv/synic) and the guest's side of its connections; the synthetic timers, which deliver
  // through it (usable only together with ACCESS_SYNIC_MSRS).
  Privilege.ACCESS_SYNIC_MSRS,
  Privilege.ACCESS_SYNTHETIC_TIMER_MSRS,
  Privilege.POST_MESSAGES,
  Privilege.SIGNAL_EVENTS,
  // Hypercall privileges the dispatcher honours (the root's management calls, HvCallGetPartitionId).
  Privilege.CREATE_PARTITIONS,
  Privilege.ACCESS_PARTITION_ID,
  Privilege.ACCESS_MEMORY_POOL,
  Privilege.CPU_MANAGEMENT,
);

/**
 * A new child partition's privileges: every implemented guest feature. Not AccessPartitionId: Linux 6.1 then
 * calls HvCallGetPartitionId with an output page only a root partition allocates, and BUG()s on failure. Not
 * yet the SynIC and PostMessages/SignalEvents: nothing in the root serves a connection until the VMBus server
 * exists, so a guest could only wait on them; the root grants them (SetPartitionProperty) when it serves VMBus.
 */
export const CHILD_DEFAULT_PRIVILEGES = PrivilegeMask.of(
  Privilege.ACCESS_VP_RUNTIME_MSR,
  Privilege.ACCESS_PARTITION_REFERENCE_COUNTER,
  Privilege.ACCESS_APIC_MSRS,
  Privilege.ACCESS_HYPERCALL_MSRS,
  Privilege.ACCESS_VP_INDEX,
  Privilege.ACCESS_PARTITION_REFERENCE_TSC,
  Privilege.ACCESS_FREQUENCY_MSRS,
);

/** The privilege `bit` is held by `p` and implemented. */
export function usable(p: PrivilegeMask, bit: number): boolean {
  return p.has(bit) && IMPLEMENTED_PRIVILEGES.has(bit);
}

/** CPUID 0x40000003 EDX ("group D" features on x64). */
export const FeaturesEdx = {
  /** HV_X64_MSR_TSC_FREQUENCY / HV_X64_MSR_APIC_FREQUENCY exist (with privilege AccessFrequencyMsrs). */
  FREQUENCY_MSRS_AVAILABLE: 1 << 8,
  /** HV_X64_MSR_CRASH_P0..P4 and CRASH_CTL exist (crash-msrs.ts; no privilege gates them). */
  GUEST_CRASH_MSR_AVAILABLE: 1 << 10,
  /** HV_X64_MSR_HYPERCALL's locked bit is honoured. */
  HYPERCALL_MSR_LOCK_AVAILABLE: 1 << 18,
  /** Synthetic timers may raise an APIC vector directly (CONFIG bit 12); reported with the timers. */
  STIMER_DIRECT_MODE_AVAILABLE: 1 << 19,
} as const;

/** CPUID 0x40000004 EAX: implementation recommendations. */
export const Hints = {
  /** Timing depends on a software processor: guests should not run watchdogs that expect timely interrupts. */
  RELAXED_TIMING: 1 << 5,
  /** Do not use auto-EOI for synthetic interrupts (Linux then EOIs its VMBus vector explicitly). */
  DEPRECATING_AEOI: 1 << 9,
} as const;

/** CPUID 0x40000004 EBX: spin-wait attempts before HvCallNotifyLongSpinWait; all ones means "never notify". */
export const LONG_SPIN_WAIT_NEVER = 0xffffffff | 0;
