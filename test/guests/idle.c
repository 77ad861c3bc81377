/*
 * An idle guest for the clock pacing test: it arms a TSC-deadline timer 1.5 s of virtual time ahead (the TSC
 * runs at 1 GHz), halts until it fires, and exits. Under `--clock host` the worker must hold it back until the
 * host's clock has moved as far; under `--clock virtual` the halt is skipped at once.
 */
#include "rt.h"

#define APIC_BASE	0xfee00000UL
#define MSR_TSC_DEADLINE 0x6e0

static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }
static void apic_wr(u32 off, u32 v) { *(volatile u32 *)(APIC_BASE + off) = v; }

static volatile int fired;

static int on_interrupt(struct rt_frame *f) {
	if (f->vector != 0x42) return 0;
	fired = 1;
	apic_wr(0xb0, 0);
	return 1;
}

void guest_main(void) {
	rt_map(APIC_BASE, APIC_BASE, PTE_P | PTE_W | (1UL << 4), 1);
	rt_hook = on_interrupt;
	apic_wr(0xf0, 0x1ff);
	apic_wr(0x320, 0x40042);
	u64 start = rdtsc();
	wrmsr(MSR_TSC_DEADLINE, start + 1500000000UL);
	__asm__ volatile("sti");
	while (!fired) __asm__ volatile("hlt");
	rt_check(rdtsc() - start >= 1500000000UL, "slept 1.5 s of virtual time: %ld ticks", rdtsc() - start);
	rt_exit(0);
}
