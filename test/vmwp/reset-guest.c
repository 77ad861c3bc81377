/*
 * A freestanding guest for the worker's reset tests. Every boot it first prints the state it finds ("boot:"
 * line) — virtual TSC, a word of its own .data (the loader puts 0x1111 there), a RAM word outside its image,
 * the UART scratch register, IOAPIC redirection entry 4, the local APIC's spurious-vector register, PM1a_EN,
 * and the Hyper-V MSRs GUEST_OS_ID, HYPERCALL, REFERENCE_TSC and CRASH_P0 — then changes every one of them and
 * prints what it reads back ("dirty:" line, so the test knows the changes took). After a reset all must read
 * their power-on values again: every "boot:" line of a run must be identical.
 * Then it ends the boot as the command line (boot_params.hdr.cmd_line_ptr, 0x228) says:
 *   reset-reg   write the FADT's reset value to the reset register (the platform's: 0x01 to port 0x40c)
 *   triple      load an empty IDT and raise #BP: a triple fault
 *   crash       report a crash through the Hyper-V crash MSRs (P0..P4 = 0x11..0x55, CRASH_NOTIFY), then reset
 *   crash-msg   report a crash with a log page (CRASH_NOTIFY | CRASH_NOTIFY_MSG), then reset
 *   crash-hang  report a crash, then spin forever
 *   panic-line  print Linux's panic line on the console, then reset (no crash MSRs)
 *   halt        halt with interrupts off
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef unsigned long u64;

#define RESET_PORT	0x40c
#define RESET_VALUE	0x01
#define PM1A_EN_PORT	0x402
#define COM1		0x3f8
#define IOAPIC		0xfec00000UL
#define LAPIC		0xfee00000UL
#define SCRATCH_RAM	0x1000000UL	/* 16 MiB: RAM outside the image */
#define HC_PAGE		0x1200000UL	/* where it enables the hypercall page */
#define LOG_PAGE	0x1300000UL
#define REF_TSC_PAGE	0x1400000UL

#define HV_GUEST_OS_ID	0x40000000
#define HV_HYPERCALL	0x40000001
#define HV_REF_TSC	0x40000021
#define HV_CRASH_P0	0x40000100
#define HV_CRASH_CTL	0x40000105
#define CRASH_NOTIFY	(1UL << 63)
#define CRASH_NOTIFY_MSG (1UL << 62)

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u16 inw(u16 port) { u16 v; __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u64 rdmsr(u32 msr) { u32 lo, hi; __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr)); return (u64)hi << 32 | lo; }
static inline void wrmsr(u32 msr, u64 v) { __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory"); }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return (u64)hi << 32 | lo; }
static inline u32 mmio_rd(u64 a) { return *(volatile u32 *)a; }
static inline void mmio_wr(u64 a, u32 v) { *(volatile u32 *)a = v; }

static void putc_(char c) { while (!(inb(COM1 + 5) & 0x20)) {} outb(COM1, (u8)c); }
static void puts_(const char *s) { while (*s) putc_(*s++); }
static void puthex(u64 v) {
	puts_("0x");
	int i = 60;
	while (i > 0 && !((v >> i) & 0xf)) i -= 4;
	for (; i >= 0; i -= 4) putc_("0123456789abcdef"[(v >> i) & 0xf]);
}
static void field(const char *name, u64 v) { putc_(' '); puts_(name); putc_('='); puthex(v); }
static int same(const char *a, const char *b) { while (*a && *a == *b) { a++; b++; } return *a == *b; }

static volatile u64 loaded = 0x1111;	/* in .data: the loader writes it every boot */

static u32 ioapic_rd(u32 reg) { mmio_wr(IOAPIC, reg); return mmio_rd(IOAPIC + 0x10); }
static void ioapic_wr(u32 reg, u32 v) { mmio_wr(IOAPIC, reg); mmio_wr(IOAPIC + 0x10, v); }

static void state(const char *tag, const char *first, u64 value) {
	puts_(tag);
	field(first, value);
	field("data", loaded);
	field("ram", *(volatile u64 *)SCRATCH_RAM);
	field("scr", inb(COM1 + 7));
	field("rte4", ioapic_rd(0x10 + 2 * 4));
	field("svr", mmio_rd(LAPIC + 0xf0));
	field("pm1en", inw(PM1A_EN_PORT));
	field("osid", rdmsr(HV_GUEST_OS_ID));
	field("hypercall", rdmsr(HV_HYPERCALL));
	field("reftsc", rdmsr(HV_REF_TSC));
	field("crash0", rdmsr(HV_CRASH_P0));
	putc_('\n');
}

static void reset(void) {
	outb(RESET_PORT, RESET_VALUE);
	for (;;) __asm__ volatile("cli; hlt");
}

static void crash_params(void) {
	for (u32 i = 0; i < 5; i++) wrmsr(HV_CRASH_P0 + i, 0x11UL * (i + 1));
}

void guest_main(const u8 *bp) {
	u64 tsc = rdtsc();
	const char *cmd = (const char *)(u64)*(const u32 *)(bp + 0x228);
	state("boot:", "tsc", tsc);
	loaded = 0x2222;
	*(volatile u64 *)SCRATCH_RAM = 0xfeedface;
	outb(COM1 + 7, 0x5a);
	ioapic_wr(0x10 + 2 * 4, 0x00010041);
	mmio_wr(LAPIC + 0xf0, 0x1ff);
	outw(PM1A_EN_PORT, 0x0100);
	wrmsr(HV_GUEST_OS_ID, 0x8100060100000000UL);
	wrmsr(HV_HYPERCALL, HC_PAGE | 1);
	wrmsr(HV_REF_TSC, REF_TSC_PAGE | 1);
	wrmsr(HV_CRASH_P0, 0x1234);
	state("dirty:", "hcpage", *(volatile u8 *)HC_PAGE);	/* the hypercall page starts with VMCALL: 0x0f */
	puts_("cmd: "); puts_(cmd); putc_('\n');

	if (same(cmd, "reset-reg")) reset();
	if (same(cmd, "triple")) {
		struct __attribute__((packed)) { u16 limit; u64 base; } idt = { 0, 0 };
		__asm__ volatile("lidt %0; int3" : : "m"(idt));
	}
	if (same(cmd, "crash") || same(cmd, "crash-hang")) {
		crash_params();
		wrmsr(HV_CRASH_CTL, CRASH_NOTIFY);
		if (same(cmd, "crash-hang")) for (;;) __asm__ volatile("pause");
		reset();
	}
	if (same(cmd, "crash-msg")) {
		const char *log = "[    1.000000] something went wrong\n[    1.000001] Kernel panic - not syncing: reset-guest log page\n";
		u32 n = 0;
		while (log[n]) { ((volatile char *)LOG_PAGE)[n] = log[n]; n++; }
		wrmsr(HV_CRASH_P0, 0); wrmsr(HV_CRASH_P0 + 1, 0); wrmsr(HV_CRASH_P0 + 2, 0);
		wrmsr(HV_CRASH_P0 + 3, LOG_PAGE);
		wrmsr(HV_CRASH_P0 + 4, n);
		wrmsr(HV_CRASH_CTL, CRASH_NOTIFY | CRASH_NOTIFY_MSG);
		reset();
	}
	if (same(cmd, "panic-line")) {
		puts_("[    2.000000] Kernel panic - not syncing: reset-guest console panic\n");
		reset();
	}
	if (same(cmd, "halt")) for (;;) __asm__ volatile("cli; hlt");
	puts_("unknown command\n");
	outb(0xf4, 1);
	for (;;) __asm__ volatile("cli; hlt");
}

static u8 stack[16384] __attribute__((aligned(16), used));

__asm__(
	".globl _start\n"
	"_start:\n"
	"	lea stack+16384(%rip), %rsp\n"
	"	mov %rsi, %rdi\n"
	"	call guest_main\n"
	"1:	cli; hlt; jmp 1b\n");
