// Synthetic MSR numbers and register layouts (TLFS; numbers as in Linux arch/x86/include/asm/hyperv-tlfs.h,
// layouts as in include/asm-generic/hyperv-tlfs.h and OpenVMM hvdef). Only what this hypervisor implements
// or names in its refusals is listed.

export const HvMsr = {
  GUEST_OS_ID: 0x40000000,
  HYPERCALL: 0x40000001,
  VP_INDEX: 0x40000002,
  RESET: 0x40000003,
  VP_RUNTIME: 0x40000010,
  TIME_REF_COUNT: 0x40000020,
  REFERENCE_TSC: 0x40000021,
  TSC_FREQUENCY: 0x40000022,
  APIC_FREQUENCY: 0x40000023,
  EOI: 0x40000070,
  ICR: 0x40000071,
  TPR: 0x40000072,
  VP_ASSIST_PAGE: 0x40000073,
  CRASH_P0: 0x40000100,
  CRASH_P1: 0x40000101,
  CRASH_P2: 0x40000102,
  CRASH_P3: 0x40000103,
  CRASH_P4: 0x40000104,
  CRASH_CTL: 0x40000105,
} as const;

/**
 * HV_X64_MSR_HYPERCALL: bit 0 enable, bit 1 locked (immutable until reset once set), bits 11:2 reserved
 * (RsvdP: a guest preserves them; we hold them at zero and refuse anything else), bits 63:12 the GPA page.
 */
export const HypercallMsr = {
  ENABLE: 0x1,
  LOCKED: 0x2,
  RESERVED_LO: 0xffc,
} as const;

/** HV_X64_MSR_REFERENCE_TSC: bit 0 enable, bits 11:1 reserved, bits 63:12 the GPA page. */
export const ReferenceTscMsr = {
  ENABLE: 0x1,
  RESERVED_LO: 0xffe,
} as const;

/**
 * HV_X64_MSR_CRASH_CTL as halves: bit 63 CRASH_NOTIFY ("P0..P4 hold crash data"), bit 62 CRASH_NOTIFY_MSG ("P3/P4
 * are the GPA and length of a page of the guest's log"). Read, it says which of the two the hypervisor supports.
 */
export const CrashCtl = {
  NOTIFY_HI: 1 << 31,
  NOTIFY_MSG_HI: 1 << 30,
} as const;
