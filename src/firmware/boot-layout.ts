// Where the direct-boot firmware puts its own structures in guest memory. The first MiB is the firmware's; kernels
// and initrds load at or above KERNEL_MIN_GPA.
//
//   0x0000_0000  page 0, left zero (the real-mode IVT on a PC; nothing here uses it)
//   0x0000_1000  PML4 (one entry -> PDPT)
//   0x0000_2000  PDPT (four entries -> the PDs)
//   0x0000_3000  PD x 4: 2048 x 2 MiB pages identity-mapping GPA 0 .. 4 GiB (RAM and the MMIO holes alike)
//   0x0000_7000  GDT: null, null, 64-bit code (0x10 = Linux's __BOOT_CS), data (0x18 = __BOOT_DS)
//   0x0000_8000  boot_params, the Linux "zero page" (Documentation/arch/x86/zero-page.rst)
//   0x0000_9000  kernel command line, NUL-terminated (at most CMDLINE_MAX bytes before the NUL)
//   0x0000_A000  boot stack, growing down from
//   0x0008_0000  STACK_TOP (initial RSP)
//   0x0009_FC00  EBDA_START: from here to 1 MiB the e820 map says "reserved", as a PC BIOS does
//   0x000E_0000  ACPI tables, the RSDP first (inside the legacy RSDP search range 0xE0000-0xFFFFF)
//   0x0010_0000  KERNEL_MIN_GPA

export const PML4_GPA = 0x1000;
export const PDPT_GPA = 0x2000;
export const PD_GPA = 0x3000;
/** Page directories: one per GiB of the identity map. */
export const PD_COUNT = 4;
export const GDT_GPA = 0x7000;
export const BOOT_PARAMS_GPA = 0x8000;
export const CMDLINE_GPA = 0x9000;
/** Longest command line the firmware's area holds (bytes, without the terminating NUL). */
export const CMDLINE_MAX = 0xfff;
export const STACK_TOP = 0x80000;
export const EBDA_START = 0x9fc00;
export const ACPI_GPA = 0xe0000;
export const ACPI_END = 0x100000;
export const KERNEL_MIN_GPA = 0x100000;
/** Identity-mapped span at entry. */
export const IDENTITY_MAPPED_BYTES = PD_COUNT * 2 ** 30;
/** Smallest guest: the firmware's first MiB and a MiB for a kernel. */
export const MIN_GUEST_MEMORY = 2 << 20;
/** Start of the 32-bit MMIO hole (IOAPIC 0xFEC00000, local APIC 0xFEE00000, later VMBus MMIO): RAM must end below. */
export const MMIO_HOLE_START = 0xc0000000;

/** Linux's boot protocol selectors (Documentation/arch/x86/boot.rst, "64-bit Boot Protocol"). */
export const CODE_SELECTOR = 0x10;
export const DATA_SELECTOR = 0x18;
