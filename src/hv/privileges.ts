// Partition privilege mask (TLFS HV_PARTITION_PRIVILEGE_MASK; bit numbers as in OpenVMM hvdef
// HvPartitionPrivilege and Linux hvgdk_mini.h HV_*). Bits 0..31 grant synthetic MSRs, 32..63 hypercalls.
// Kept as two uint32 halves so checks on the hypercall path need no BigInt.

export const Privilege = {
  // low word (synthetic MSR access)
  ACCESS_VP_RUNTIME_MSR: 0,
  ACCESS_PARTITION_REFERENCE_COUNTER: 1,
  ACCESS_SYNIC_MSRS: 2,
  ACCESS_SYNTHETIC_TIMER_MSRS: 3,
  ACCESS_APIC_MSRS: 4,
  ACCESS_HYPERCALL_MSRS: 5,
  ACCESS_VP_INDEX: 6,
  ACCESS_RESET_MSR: 7,
  ACCESS_STATS_MSRS: 8,
  ACCESS_PARTITION_REFERENCE_TSC: 9,
  ACCESS_GUEST_IDLE_MSR: 10,
  ACCESS_FREQUENCY_MSRS: 11,
  ACCESS_DEBUG_MSRS: 12,
  ACCESS_REENLIGHTENMENT_CONTROLS: 13,
  ACCESS_TSC_INVARIANT_CONTROLS: 15,
  // high word (hypercalls), numbered from bit 32
  CREATE_PARTITIONS: 32,
  ACCESS_PARTITION_ID: 33,
  ACCESS_MEMORY_POOL: 34,
  POST_MESSAGES: 36,
  SIGNAL_EVENTS: 37,
  CPU_MANAGEMENT: 44,
  ENABLE_EXTENDED_HYPERCALLS: 52,
  ISOLATION: 54,
} as const;

export class PrivilegeMask {
  constructor(public lo = 0, public hi = 0) {}

  has(bit: number): boolean {
    return bit < 32 ? ((this.lo >>> bit) & 1) === 1 : ((this.hi >>> (bit - 32)) & 1) === 1;
  }

  get value(): bigint {
    return (BigInt(this.hi >>> 0) << 32n) | BigInt(this.lo >>> 0);
  }

  static of(...bits: number[]): PrivilegeMask {
    const m = new PrivilegeMask();
    for (const b of bits) {
      if (b < 32) m.lo |= 1 << b;
      else m.hi |= 1 << (b - 32);
    }
    return m;
  }
}

/** What the root holds: it creates and manages partitions. */
export const ROOT_PRIVILEGES = PrivilegeMask.of(Privilege.CREATE_PARTITIONS, Privilege.ACCESS_PARTITION_ID,
  Privilege.ACCESS_MEMORY_POOL, Privilege.CPU_MANAGEMENT, Privilege.POST_MESSAGES, Privilege.SIGNAL_EVENTS,
  Privilege.ACCESS_HYPERCALL_MSRS, Privilege.ACCESS_VP_INDEX);

/** Bits a child may never be granted (nesting is not supported): the root's management rights. */
export const ROOT_ONLY_PRIVILEGES = PrivilegeMask.of(Privilege.CREATE_PARTITIONS, Privilege.ACCESS_MEMORY_POOL,
  Privilege.CPU_MANAGEMENT);
