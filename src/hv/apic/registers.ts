// Local APIC register layout (Intel SDM vol. 3A, "Advanced Programmable Interrupt Controller": the xAPIC
// register address map, and the x2APIC MSR map where MSR = 0x800 + (xAPIC offset >> 4)). Offsets, bit fields
// and reset values live here; the behaviour is in local-apic.ts and apic-timer.ts.

/** Default physical base of the xAPIC page (IA32_APIC_BASE[35:12] after reset). */
export const APIC_DEFAULT_BASE = 0xfee00000;

/** IA32_APIC_BASE (MSR 0x1B) bits. */
export const APIC_BASE_MSR = 0x1b;
export const ApicBaseBits = {
  BSP: 1 << 8,
  /** x2APIC mode enable (EXTD). */
  EXTD: 1 << 10,
  /** APIC global enable (EN). */
  EN: 1 << 11,
  /** Base address bits 31:12 of the low half. */
  BASE_LO: 0xfffff000 | 0,
} as const;

/** IA32_TSC_DEADLINE. */
export const TSC_DEADLINE_MSR = 0x6e0;

/** The x2APIC MSR range: MSR 0x800 + (offset >> 4). */
export const X2APIC_MSR_FIRST = 0x800;
export const X2APIC_MSR_LAST = 0x8ff;

/** xAPIC register offsets (x2APIC MSR index = 0x800 + offset / 16). */
export const ApicReg = {
  ID: 0x020,
  VERSION: 0x030,
  TPR: 0x080,
  APR: 0x090,
  PPR: 0x0a0,
  EOI: 0x0b0,
  RRD: 0x0c0,
  LDR: 0x0d0,
  DFR: 0x0e0,
  SVR: 0x0f0,
  ISR0: 0x100,
  TMR0: 0x180,
  IRR0: 0x200,
  ESR: 0x280,
  LVT_CMCI: 0x2f0,
  ICR_LO: 0x300,
  ICR_HI: 0x310,
  LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330,
  LVT_PMC: 0x340,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_INITIAL: 0x380,
  TIMER_CURRENT: 0x390,
  TIMER_DIVIDE: 0x3e0,
  /** x2APIC only (MSR 0x83F). */
  SELF_IPI: 0x3f0,
} as const;

/** LVT entries in register order: timer, thermal, PMC, LINT0, LINT1, error (no CMCI). */
export const LVT_COUNT = 6;
export const LVT_TIMER = 0, LVT_THERMAL = 1, LVT_PMC = 2, LVT_LINT0 = 3, LVT_LINT1 = 4, LVT_ERROR = 5;

/**
 * Version register: version 0x14 (an integrated APIC of the Pentium 4 / Xeon kind), bits 23:16 the number
 * of LVT entries minus one, bit 24 clear (no EOI-broadcast suppression).
 */
export const APIC_VERSION = 0x14 | ((LVT_COUNT - 1) << 16);

/** Writable bits of each LVT entry (delivery status, bit 12, and remote IRR, bit 14, are read-only). */
export const LVT_WRITABLE = [
  0x000700ff, // timer: vector, mask, mode (bits 18:17)
  0x000107ff, // thermal: vector, delivery mode, mask
  0x000107ff, // PMC
  0x0001a7ff, // LINT0: vector, delivery mode, polarity, trigger mode, mask
  0x0001a7ff, // LINT1
  0x000100ff, // error: vector, mask
] as const;

export const LVT_MASKED = 1 << 16;
export const LVT_LEVEL = 1 << 15;
export const LVT_REMOTE_IRR = 1 << 14;
/** Timer mode, LVT timer bits 18:17. */
export const TIMER_MODE_SHIFT = 17;
export const TimerMode = { ONE_SHOT: 0, PERIODIC: 1, TSC_DEADLINE: 2 } as const;

/** Spurious-interrupt vector register: vector and the software enable (bit 8); reset value 0xFF. */
export const SVR_ENABLE = 1 << 8;
export const SVR_WRITABLE = 0x1ff;
export const SVR_RESET = 0xff;

/** Error status register bits. */
export const Esr = {
  SEND_ILLEGAL_VECTOR: 1 << 5,
  RECEIVE_ILLEGAL_VECTOR: 1 << 6,
  ILLEGAL_REGISTER: 1 << 7,
} as const;

/** Interrupt command register (low half) fields. */
export const Icr = {
  VECTOR: 0xff,
  DELIVERY_SHIFT: 8,
  DELIVERY_MASK: 0x7,
  LOGICAL: 1 << 11,
  /** Delivery status (read-only in xAPIC; reserved in x2APIC). */
  PENDING: 1 << 12,
  ASSERT: 1 << 14,
  LEVEL: 1 << 15,
  SHORTHAND_SHIFT: 18,
  /** xAPIC ICR low writable bits: vector, delivery mode, destination mode, level, trigger, shorthand. */
  XAPIC_WRITABLE: 0x000ccfff,
  /** x2APIC ICR low reserved bits (#GP when set): 12, 13, 16, 17, 20..31. */
  X2APIC_RESERVED: (0xfff00000 | 0x00033000) | 0,
} as const;

/** Delivery modes (ICR, LVT, IOAPIC redirection entries; the TLFS HV_X64_INTERRUPT_TYPE_* use the same numbers). */
export const DeliveryMode = { FIXED: 0, LOWEST: 1, SMI: 2, NMI: 4, INIT: 5, STARTUP: 6, EXTINT: 7 } as const;

/** Destination shorthands (ICR bits 19:18). */
export const Shorthand = { NONE: 0, SELF: 1, ALL: 2, OTHERS: 3 } as const;

/** Divide configuration register: bits 0, 1 and 3 are the divisor code. */
export const DIVIDE_WRITABLE = 0xb;
