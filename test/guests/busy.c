/*
 * A busy guest for the clock pacing test: it spins reading the TSC until 1 s of its own clock has passed (the TSC
 * runs at 1 GHz of virtual time), and reports how many reads that took and the largest step between two of
 * them. Its clock must never go backwards. Under `--clock host` the worker keeps its clock on the host's, so it
 * finishes after about 1 s of real time whatever the processor's speed, with steps where the clock was set
 * forward; under `--clock virtual` it needs 100 M instructions' worth of time.
 */
#include "rt.h"

static inline u64 rdtsc(void) { u32 lo, hi; __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi)); return ((u64)hi << 32) | lo; }

void guest_main(void) {
	u64 start = rdtsc(), last = start, reads = 0, largest = 0;
	int backwards = 0;
	for (;;) {
		u64 t = rdtsc();
		reads++;
		if (t < last) backwards = 1;
		else if (t - last > largest) largest = t - last;
		last = t;
		if (t - start >= 1000000000UL) break;
	}
	rt_check(!backwards, "the clock never went backwards");
	rt_info("reads %ld largest-step %ld", reads, largest);
	rt_exit(0);
}
