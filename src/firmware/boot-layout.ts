// Where the direct-boot firmware puts its own structures in guest memory. Everything below RESERVED_END is the
// firmware's; a kernel image may not load there.
//
//   0x0000_0000  page 0, left zero
//   0x0000_1000  PML4 (one entry -> PDPT)
//   0x0000_2000  PDPT (one entry -> PD)
//   0x0000_3000  PD: 512 x 2 MiB pages, identity-mapping GPA 0 .. 1 GiB
//   0x0000_4000  GDT: null, 64-bit code (0x08), data (0x10)
//   0x0000_5000  boot stack, growing down from
//   0x0008_0000  RESERVED_END (initial RSP)

export const PML4_GPA = 0x1000;
export const PDPT_GPA = 0x2000;
export const PD_GPA = 0x3000;
export const GDT_GPA = 0x4000;
export const STACK_TOP = 0x80000;
export const RESERVED_END = 0x80000;
/** Identity-mapped span at entry. */
export const IDENTITY_MAPPED_BYTES = 2 ** 30;
/** Smallest guest that can hold the reserved area and a kernel. */
export const MIN_GUEST_MEMORY = 1 << 20;

export const CODE_SELECTOR = 0x08;
export const DATA_SELECTOR = 0x10;
