/*
 * The local APIC from inside a guest (Intel SDM vol. 3A, "Advanced Programmable Interrupt Controller"):
 * the xAPIC page's reset values, the timer in one-shot, periodic and TSC-deadline modes taking interrupts
 * through the IDT, HLT woken by the timer, self-IPIs in priority order, TPR masking, and the x2APIC MSRs.
 * TSC values are printed as "# ..." lines: they are virtual time, so two runs must print the same ones.
 */
#include "rt.h"

#define APIC_BASE	0xfee00000UL
#define MSR_APIC_BASE	0x1b
#define MSR_TSC_DEADLINE 0x6e0

static u32 apic_rd(u32 off) { return *(volatile u32 *)(APIC_BASE + off); }
static void apic_wr(u32 off, u32 v) { *(volatile u32 *)(APIC_BASE + off) = v; }
static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }

RT_ASM_FN(rd_apr, "mov $0x809, %ecx\n rdmsr\n ret");
/* IA32_APIC_BASE = 0xFEE00900 (EN, BSP, not EXTD) while in x2APIC mode. */
RT_ASM_FN(wr_xapic, "mov $0x1b, %ecx\n mov $0xfee00900, %eax\n xor %edx, %edx\n wrmsr\n ret");

static volatile u64 seen[16];
static volatile u64 seen_tsc[16];
static volatile int nseen;
static volatile int x2;

static void eoi(void) {
	if (x2) wrmsr(0x80b, 0);
	else apic_wr(0xb0, 0);
}

/* Every APIC vector used here is >= 0x30: record it with the time it arrived, EOI, resume. */
static int on_interrupt(struct rt_frame *f) {
	if (f->vector < 0x30) return 0;
	if (nseen < 16) { seen[nseen] = f->vector; seen_tsc[nseen] = rdtsc(); }
	nseen++;
	eoi();
	return 1;
}

static void reset_seen(void) { nseen = 0; }

static void wait_for(int n) {
	for (long spin = 0; spin < 10000000 && nseen < n; spin++) __asm__ volatile("pause");
}

void guest_main(void) {
	u32 a, b, c, d;
	cpuid(1, 0, &a, &b, &c, &d);
	rt_check((d >> 9) & 1 && (c >> 21) & 1 && (c >> 24) & 1, "CPUID.1 reports APIC, x2APIC and TSC-deadline: ecx=%x edx=%x", c, d);
	u64 base = rdmsr(MSR_APIC_BASE);
	rt_check((base & ~0xfffUL) == APIC_BASE && (base & 0x900) == 0x900, "IA32_APIC_BASE after reset: %lx", base);
	rt_map(APIC_BASE, APIC_BASE, PTE_P | PTE_W | (1UL << 4), 1); /* PCD: device memory */
	rt_hook = on_interrupt;

	rt_check(apic_rd(0x30) == 0x50014, "version register: %x", apic_rd(0x30));
	rt_check(apic_rd(0xf0) == 0xff && apic_rd(0x320) == 0x10000 && apic_rd(0xe0) == 0xffffffff,
		"reset: SVR %x, LVT timer %x, DFR %x", apic_rd(0xf0), apic_rd(0x320), apic_rd(0xe0));
	apic_wr(0xf0, 0x1ff);
	__asm__ volatile("sti");

	/* One-shot: divide by 1, 50000 APIC ticks. */
	reset_seen();
	apic_wr(0x3e0, 0xb);
	apic_wr(0x320, 0x40);
	u64 t0 = rdtsc();
	apic_wr(0x380, 50000);
	wait_for(1);
	u32 left = apic_rd(0x390);
	rt_check(nseen == 1 && seen[0] == 0x40 && left == 0, "one-shot timer fires once: %d interrupts, count %d", nseen, left);
	rt_info("one-shot fired %ld ticks after arming", seen_tsc[0] - t0);

	/* Periodic: 20000 ticks, stop after 4. */
	reset_seen();
	apic_wr(0x320, 0x20041);
	apic_wr(0x380, 20000);
	wait_for(4);
	apic_wr(0x380, 0);
	rt_check(nseen == 4 && seen[3] == 0x41, "periodic timer fires repeatedly: %d", nseen);
	int even = 1;
	for (int k = 1; k < 4; k++) {
		u64 gap = seen_tsc[k] - seen_tsc[k - 1];
		if (gap < 20000 - 20 || gap > 20000 + 20) even = 0;
		rt_info("periodic gap %d: %ld", k, gap);
	}
	rt_check(even, "periodic expiries are one period apart");

	/* TSC deadline, then HLT: the interrupt wakes the processor at the deadline. */
	reset_seen();
	apic_wr(0x320, 0x40042);
	u64 dl = rdtsc() + 300000;
	wrmsr(MSR_TSC_DEADLINE, dl);
	rt_check(rdmsr(MSR_TSC_DEADLINE) == dl, "IA32_TSC_DEADLINE reads back while armed");
	__asm__ volatile("hlt");
	u64 woke = rdtsc();
	/* seen_tsc is read inside the C handler, some 100 instructions after the interrupt was taken. */
	rt_check(nseen == 1 && seen[0] == 0x42 && seen_tsc[0] >= dl && seen_tsc[0] < dl + 2000,
		"HLT wakes at the TSC deadline: handler at %ld, deadline %ld", seen_tsc[0], dl);
	rt_check(rdmsr(MSR_TSC_DEADLINE) == 0, "IA32_TSC_DEADLINE reads 0 after it fired");
	rt_info("woke %ld ticks after the deadline", woke - dl);

	/* Self-IPIs with interrupts off are taken by priority once IF=1: 0x61 before 0x52 before 0x35. */
	reset_seen();
	__asm__ volatile("cli");
	apic_wr(0x300, 0x40035);
	apic_wr(0x300, 0x40061);
	apic_wr(0x300, 0x40052);
	rt_check((apic_rd(0x200 + 0x30) & (1u << 1)) && (apic_rd(0x210) & (1u << 0x15)), "self-IPIs wait in IRR while IF=0");
	__asm__ volatile("sti; nop");
	rt_check(nseen == 3 && seen[0] == 0x61 && seen[1] == 0x52 && seen[2] == 0x35,
		"pending interrupts are taken highest class first: %lx %lx %lx", seen[0], seen[1], seen[2]);

	/* TPR: a vector in a class at or below TPR waits until TPR drops. */
	reset_seen();
	apic_wr(0x80, 0x50);
	apic_wr(0x300, 0x40055);
	__asm__ volatile("nop; nop");
	rt_check(nseen == 0, "TPR 0x50 holds vector 0x55");
	__asm__ volatile("mov %0, %%cr8" : : "r"(0UL));
	__asm__ volatile("nop");
	rt_check(nseen == 1 && seen[0] == 0x55, "lowering TPR through CR8 lets it in");

	/* x2APIC mode: MMIO page gone, MSRs instead. */
	wrmsr(MSR_APIC_BASE, base | 0xc00);
	x2 = 1;
	rt_check(rdmsr(0x802) == 0 && (rdmsr(0x80d) & 0xffffffff) == 1, "x2APIC ID 0, LDR cluster 0 bit 0");
	reset_seen();
	wrmsr(0x83f, 0x66);
	__asm__ volatile("nop");
	rt_check(nseen == 1 && seen[0] == 0x66, "x2APIC SELF IPI");
	rt_expect(rt_try(rd_apr, 0), 13, 0, 0, "#GP(0) on RDMSR of APR (no such register in x2APIC mode)");
	rt_expect(rt_try(wr_xapic, 0), 13, 0, 0, "#GP(0) on the x2APIC -> xAPIC transition");
}
