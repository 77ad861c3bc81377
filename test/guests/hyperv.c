/*
 * The Hyper-V guest interface as Linux 6.1 uses it, in Linux's own order (arch/x86/kernel/cpu/mshyperv.c
 * ms_hyperv_platform / ms_hyperv_init_platform, drivers/clocksource/hyperv_timer.c hv_init_clocksource,
 * arch/x86/hyperv/hv_init.c hyperv_init): CPUID detection, the frequency MSRs, the reference TSC page,
 * VP_INDEX, the guest OS ID, the hypercall page, then hypercalls through it. Expectations come from the TLFS
 * and the Linux headers (include/asm-generic/hyperv-tlfs.h, arch/x86/include/asm/hyperv-tlfs.h).
 * Lines starting "hv " carry values the host-side test compares with its own expectations.
 */
#include "hv.h"

#define HV_X64_MSR_VP_INDEX		0x40000002
#define HV_X64_MSR_VP_RUNTIME		0x40000010
#define HV_X64_MSR_TIME_REF_COUNT	0x40000020
#define HV_X64_MSR_REFERENCE_TSC	0x40000021
#define HV_X64_MSR_TSC_FREQUENCY	0x40000022
#define HV_X64_MSR_APIC_FREQUENCY	0x40000023
#define HV_X64_MSR_EOI			0x40000070
#define HV_X64_MSR_TPR			0x40000072
#define HV_X64_MSR_VP_ASSIST_PAGE	0x40000073

#define HV_STATUS_INVALID_HYPERCALL_CODE	2
#define HV_STATUS_INVALID_HYPERCALL_INPUT	3
#define HV_STATUS_INVALID_ALIGNMENT		4
#define HV_STATUS_ACCESS_DENIED			6

#define HVCALL_NOTIFY_LONG_SPIN_WAIT	0x0008
#define HVCALL_CREATE_PARTITION		0x0040
#define HVCALL_GET_PARTITION_ID		0x0046
#define HV_HYPERCALL_REP_COMP_1		(1UL << 32)

/* Linux 6.1.119's guest OS ID: 0x8100 << 48 | LINUX_VERSION_CODE << 16 (hv_generate_guest_id). */

struct tsc_page { volatile u32 seq; u32 rsvd; volatile u64 scale; volatile s64 offset; };

static u8 tsc_pg_mem[4096] __attribute__((aligned(4096)));
static u8 assist_pg_mem[4096] __attribute__((aligned(4096)));
static u8 hc_pg_mem[4096] __attribute__((aligned(4096)));
static u8 hc_in[4096] __attribute__((aligned(4096)));
static u8 hc_out[4096] __attribute__((aligned(4096)));
/* Where Linux keeps it: a pointer to the page, called as "call *hv_hypercall_pg" (asm/mshyperv.h). */
void *hv_hypercall_pg;

static inline u64 read_cr8(void) { u64 v; __asm__ volatile("mov %%cr8, %0" : "=r"(v)); return v; }

static inline u64 rd_tsc(void) {
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}


/* hv_read_tsc_page_tsc, as Linux reads it: sequence, scale, offset, RDTSC, sequence again. */
static u64 read_tsc_page(struct tsc_page *pg, u64 *tsc) {
	u32 seq;
	u64 scale, offset;
	do {
		seq = pg->seq;
		if (seq == 0) return ~0UL;
		scale = pg->scale;
		offset = (u64)pg->offset;
		*tsc = rd_tsc();
	} while (pg->seq != seq);
	return (u64)(((unsigned __int128)*tsc * scale) >> 64) + offset;
}

/* MSR accesses that may fault, for rt_try: the MSR and value come from these globals. */
static volatile u32 t_msr;
static volatile u64 t_val;
RT_ASM_FN(f_wrmsr, "mov t_msr(%rip), %ecx\n mov t_val(%rip), %eax\n mov t_val+4(%rip), %edx\n wrmsr_site: wrmsr\n ret");
RT_ASM_FN(f_rdmsr, "mov t_msr(%rip), %ecx\n rdmsr_site: rdmsr\n mov %eax, t_val(%rip)\n mov %edx, t_val+4(%rip)\n ret");
extern char wrmsr_site[], rdmsr_site[];

static int try_wrmsr(u32 msr, u64 v) { t_msr = msr; t_val = v; return rt_try(f_wrmsr, 0); }
static int try_rdmsr(u32 msr) { t_msr = msr; return rt_try(f_rdmsr, 0); }

/* Callee-saved registers and RSP across a hypercall: sentinels in, what came back out. */
static volatile u64 pres[10];
RT_ASM_FN(f_preserve,
	"push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
	"mov $0x1111, %rbx\n mov $0x2222, %rsi\n mov $0x3333, %rdi\n mov $0x4444, %rbp\n"
	"mov $0x5555, %r12\n mov $0x6666, %r13\n mov $0x7777, %r14\n mov $0x8888, %r15\n"
	"mov %rsp, pres+72(%rip)\n"
	"mov $0x10008, %ecx\n mov $1, %edx\n xor %r8d, %r8d\n call *hv_hypercall_pg(%rip)\n"
	"mov %rax, pres(%rip)\n mov %rbx, pres+8(%rip)\n mov %rsi, pres+16(%rip)\n mov %rdi, pres+24(%rip)\n"
	"mov %rbp, pres+32(%rip)\n mov %r12, pres+40(%rip)\n mov %r13, pres+48(%rip)\n mov %r14, pres+56(%rip)\n"
	"mov %r15, pres+64(%rip)\n sub %rsp, pres+72(%rip)\n"
	"pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n ret");

/* A hypercall from CPL 3 (the page is user-accessible in this guest's identity map). */
RT_ASM_FN(u_hypercall, "mov $0x10008, %ecx\n xor %edx, %edx\n call *hv_hypercall_pg(%rip)\n ret");

static void check_hypercalls(void) {
	u64 in = (u64)hc_in, out = (u64)hc_out;
	u64 r;
	r = hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT, 1, 0);
	rt_check(r == HV_STATUS_SUCCESS, "fast HvCallNotifyLongSpinWait succeeds: RAX=%lx", r);
	*(volatile u64 *)hc_in = 1;
	r = hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT, in, 0);
	rt_check(r == HV_STATUS_SUCCESS, "memory-form HvCallNotifyLongSpinWait succeeds: RAX=%lx", r);
	r = hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT, in + 4, 0);
	rt_check(r == HV_STATUS_INVALID_ALIGNMENT, "input GPA not 8-byte aligned -> INVALID_ALIGNMENT: RAX=%lx", r);
	r = hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT, 0x80000000UL, 0);
	rt_check(r == HV_STATUS_INVALID_PARAMETER, "input GPA outside the partition's RAM -> INVALID_PARAMETER: RAX=%lx", r);
	r = hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT | HV_HYPERCALL_REP_COMP_1, 1, 0);
	rt_check(r == HV_STATUS_INVALID_HYPERCALL_INPUT, "rep count on a simple call -> INVALID_HYPERCALL_INPUT: RAX=%lx", r);
	r = hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT | (1UL << 27), 1, 0);
	rt_check(r == HV_STATUS_INVALID_HYPERCALL_INPUT, "reserved control bit 27 -> INVALID_HYPERCALL_INPUT: RAX=%lx", r);
	r = hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | (1UL << 17), in, 0);
	rt_check(r == HV_STATUS_INVALID_HYPERCALL_INPUT, "variable header on a call without one -> INVALID_HYPERCALL_INPUT: RAX=%lx", r);
	/* HvPostMessage is hv_vmbus's first hypercall; a child gets PostMessages/SignalEvents only with VMBus. */
	rt_memset(hc_in, 0, 256);
	r = hv_call(HVCALL_POST_MESSAGE, in, 0);
	rt_check(r == HV_STATUS_ACCESS_DENIED, "HvCallPostMessage without PostMessages -> ACCESS_DENIED: RAX=%lx", r);
	r = hv_call(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, 1, 0);
	rt_check(r == HV_STATUS_ACCESS_DENIED, "fast HvCallSignalEvent without SignalEvents -> ACCESS_DENIED: RAX=%lx", r);
	r = hv_call(0x7777, 0, 0);
	rt_check(r == HV_STATUS_INVALID_HYPERCALL_CODE, "unknown call code -> INVALID_HYPERCALL_CODE: RAX=%lx", r);
	rt_memset(hc_in, 0, 64);
	r = hv_call(HVCALL_CREATE_PARTITION, in, out);
	rt_check(r == HV_STATUS_ACCESS_DENIED, "HvCallCreatePartition from a child -> ACCESS_DENIED: RAX=%lx", r);
	r = hv_call(HVCALL_GET_PARTITION_ID, 0, out);
	rt_check(r == HV_STATUS_ACCESS_DENIED, "HvCallGetPartitionId without AccessPartitionId -> ACCESS_DENIED: RAX=%lx", r);

	f_preserve(0);
	int same = pres[1] == 0x1111 && pres[2] == 0x2222 && pres[3] == 0x3333 && pres[4] == 0x4444 &&
		pres[5] == 0x5555 && pres[6] == 0x6666 && pres[7] == 0x7777 && pres[8] == 0x8888;
	rt_check(pres[0] == 0 && same && pres[9] == 0,
		"a hypercall preserves RBX RSI RDI RBP R12-R15 and RSP: rax=%lx rbx=%lx rsi=%lx rdi=%lx rbp=%lx r12=%lx r15=%lx rsp-delta=%lx",
		pres[0], pres[1], pres[2], pres[3], pres[4], pres[5], pres[8], pres[9]);

	rt_expect(rt_user(u_hypercall, 0), 6, RT_ANY, (u64)hc_pg_mem, "#UD on a hypercall from CPL 3 (at the page's VMCALL)");
}

void guest_main(void) {
	u32 a, b, c, d;

	/* ---- detection (ms_hyperv_platform) */
	cpuid(1, 0, &a, &b, &c, &d);
	rt_check((c >> 31) & 1, "CPUID.1:ECX[31] (hypervisor present) is set: ecx=%x", c);
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	u32 max_leaf = a;
	int vendor = b == 0x7263694d && c == 0x666f736f && d == 0x76482074;
	rt_check(vendor && max_leaf >= 0x40000005 && max_leaf <= 0x4000ffff,
		"CPUID 0x40000000 is \"Microsoft Hv\" with a max leaf in 0x40000005..0x4000ffff: %x %x %x %x", a, b, c, d);
	for (u32 leaf = 0x40000000; leaf <= max_leaf && leaf <= 0x4000000f; leaf++) {
		cpuid(leaf, 0, &a, &b, &c, &d);
		rt_printf("hv cpuid %x %x %x %x %x\n", leaf, a, b, c, d);
	}
	cpuid(0x40000001, 0, &a, &b, &c, &d);
	rt_check(a == 0x31237648, "CPUID 0x40000001 EAX is \"Hv#1\": %x", a);
	u32 priv_lo, priv_hi, misc, hints;
	cpuid(0x40000003, 0, &priv_lo, &priv_hi, &c, &misc);
	cpuid(0x40000004, 0, &hints, &b, &c, &d);
	rt_printf("Hyper-V: privilege flags low 0x%x, high 0x%x, hints 0x%x, misc 0x%x\n", priv_lo, priv_hi, hints, misc);
	rt_check((priv_lo & (1 << 5)) && (priv_lo & (1 << 6)),
		"HYPERCALL and VP_INDEX MSRs available (Linux's mandatory bits 5, 6): %x", priv_lo);
	rt_check(!(priv_hi & (1 << 1)) && !(priv_hi & (1 << 12)) && !(priv_hi & (1 << 20)) && !(priv_hi & (1 << 22)),
		"no AccessPartitionId, CpuManagement, extended hypercalls or isolation for a child: %x", priv_hi);

	/* ---- frequency MSRs (ms_hyperv_init_platform) */
	u64 tsc_hz = rdmsr(HV_X64_MSR_TSC_FREQUENCY), apic_hz = rdmsr(HV_X64_MSR_APIC_FREQUENCY);
	rt_printf("hv freq %ld %ld\n", tsc_hz, apic_hz);
	rt_check(tsc_hz >= 1000000 && apic_hz >= 1000000, "TSC and APIC frequency MSRs report non-zero rates: %ld %ld", tsc_hz, apic_hz);

	/* ---- reference TSC page (hv_init_tsc_clocksource): read, keep the low 12 bits, set PFN and enable */
	struct tsc_page *pg = (struct tsc_page *)tsc_pg_mem;
	rt_memset(tsc_pg_mem, 0xee, 4096);
	u64 tsc_msr = rdmsr(HV_X64_MSR_REFERENCE_TSC);
	rt_check(tsc_msr == 0, "REFERENCE_TSC reads 0 before the guest enables it: %lx", tsc_msr);
	wrmsr(HV_X64_MSR_REFERENCE_TSC, (tsc_msr & 0xfff) | (u64)tsc_pg_mem | 1);
	tsc_msr = rdmsr(HV_X64_MSR_REFERENCE_TSC);
	rt_check(tsc_msr == ((u64)tsc_pg_mem | 1), "REFERENCE_TSC reads back page and enable: %lx", tsc_msr);
	u32 seq1 = pg->seq;
	rt_printf("hv tscpage %x %lx %lx\n", seq1, pg->scale, (u64)pg->offset);
	rt_check(seq1 != 0 && seq1 != 0xffffffff, "the TSC page is valid (sequence not 0 or ~0): %x", seq1);

	/* The page and the MSR agree: page(before) <= MSR <= page(after), and the page equals TSC ticks in 100 ns. */
	u64 ticks_per_100ns = tsc_hz / 10000000;
	int order_bad = 0, exact_bad = 0, equal = 0;
	u64 first_ref = 0, last_ref = 0, first_tsc = 0, last_tsc = 0;
	for (int i = 0; i < 2000; i++) {
		u64 t1 = 0, t2 = 0;
		u64 v1 = read_tsc_page(pg, &t1);
		u64 m = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
		u64 v2 = read_tsc_page(pg, &t2);
		if (!(v1 <= m && m <= v2)) order_bad++;
		if (v1 == m) equal++;
		if (v1 != t1 / ticks_per_100ns || v2 != t2 / ticks_per_100ns) exact_bad++;
		if (i == 0) { first_ref = v1; first_tsc = t1; }
		last_ref = v2; last_tsc = t2;
		for (volatile int k = 0; k < i % 37; k++) {}
	}
	rt_check(order_bad == 0, "TSC page and TIME_REF_COUNT agree (page before <= MSR <= page after, 2000 rounds): %d out of order, %d equal",
		order_bad, equal);
	rt_check(exact_bad == 0, "TSC page value = TSC / (TSC Hz / 10^7) exactly (2000 rounds): %d differ", exact_bad);
	u64 dref = last_ref - first_ref, dtsc = (last_tsc - first_tsc) / ticks_per_100ns;
	rt_check(last_ref > first_ref && (dref == dtsc || dref == dtsc + 1),
		"reference time advances with the TSC: %ld x 100 ns over %ld TSC ticks", dref, last_tsc - first_tsc);
	u64 run = rdmsr(HV_X64_MSR_VP_RUNTIME), now = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
	rt_check(run > 0 && run <= now, "VP_RUNTIME is positive and at most TIME_REF_COUNT: %ld <= %ld", run, now);
	wrmsr(HV_X64_MSR_REFERENCE_TSC, (u64)tsc_pg_mem | 1);
	rt_check(pg->seq != seq1 && pg->seq != 0, "re-enabling the TSC page changes its sequence: %x -> %x", seq1, pg->seq);
	rt_expect(try_wrmsr(HV_X64_MSR_REFERENCE_TSC, (u64)tsc_pg_mem | 3), 13, 0, (u64)wrmsr_site,
		"#GP(0) writing a reserved REFERENCE_TSC bit");
	rt_expect(try_wrmsr(HV_X64_MSR_TIME_REF_COUNT, 5), 13, 0, (u64)wrmsr_site, "#GP(0) writing TIME_REF_COUNT (read-only)");
	rt_expect(try_wrmsr(HV_X64_MSR_TSC_FREQUENCY, 5), 13, 0, (u64)wrmsr_site, "#GP(0) writing TSC_FREQUENCY (read-only)");

	/* ---- hyperv_init: the cpuhp callback (VP_INDEX) runs before the guest OS ID is written */
	u64 vpi = rdmsr(HV_X64_MSR_VP_INDEX);
	rt_check(vpi == 0, "VP_INDEX of the boot VP is 0: %lx", vpi);
	rt_expect(try_wrmsr(HV_X64_MSR_VP_INDEX, 1), 13, 0, (u64)wrmsr_site, "#GP(0) writing VP_INDEX (read-only)");
	/* hv_cpu_init then enables the VP assist page (a zeroed page of its own; the hypervisor clears it too). */
	rt_memset(assist_pg_mem, 0xaa, 4096);
	wrmsr(HV_X64_MSR_VP_ASSIST_PAGE, (u64)assist_pg_mem | 1);
	u64 assist = rdmsr(HV_X64_MSR_VP_ASSIST_PAGE);
	int zeroed = 1;
	for (int i = 0; i < 4096; i++) if (assist_pg_mem[i] != 0) zeroed = 0;
	rt_check(assist == ((u64)assist_pg_mem | 1) && zeroed, "VP_ASSIST_PAGE takes Linux's write and the page reads zeroed: %lx", assist);
	rt_expect(try_wrmsr(HV_X64_MSR_VP_ASSIST_PAGE, (u64)assist_pg_mem | 1 | 2), 13, 0, (u64)wrmsr_site,
		"#GP(0) writing a reserved VP_ASSIST_PAGE bit");
	/* The synthetic APIC MSRs reach the local APIC: TPR is CR8 << 4; EOI is write-only. */
	wrmsr(HV_X64_MSR_TPR, 0x20);
	u64 cr8 = read_cr8(), tpr = rdmsr(HV_X64_MSR_TPR);
	wrmsr(HV_X64_MSR_TPR, 0);
	rt_check(cr8 == 2 && tpr == 0x20, "the TPR MSR is the APIC's TPR (CR8 = TPR >> 4): cr8=%lx tpr=%lx", cr8, tpr);
	rt_expect(try_rdmsr(HV_X64_MSR_EOI), 13, 0, (u64)rdmsr_site, "#GP(0) reading the write-only EOI MSR");
	rt_expect(try_rdmsr(HV_X64_MSR_SCONTROL), 13, 0, (u64)rdmsr_site, "#GP(0) on SCONTROL (no SynIC offered)");

	/* Before a guest OS ID, the hypercall page cannot be enabled (the write succeeds, enable stays 0). */
	rt_memset(hc_pg_mem, 0x90, 4096);
	u64 hc = rdmsr(HV_X64_MSR_HYPERCALL);
	rt_check(hc == 0, "HYPERCALL reads 0 at start: %lx", hc);
	wrmsr(HV_X64_MSR_HYPERCALL, (u64)hc_pg_mem | 1);
	hc = rdmsr(HV_X64_MSR_HYPERCALL);
	rt_check(!(hc & 1) && hc_pg_mem[0] == 0x90, "without a guest OS ID the enable bit stays 0 and the page is untouched: %lx %x",
		hc, hc_pg_mem[0]);

	wrmsr(HV_X64_MSR_GUEST_OS_ID, LINUX_GUEST_ID);
	u64 id = rdmsr(HV_X64_MSR_GUEST_OS_ID);
	rt_check(id == LINUX_GUEST_ID, "GUEST_OS_ID reads back what Linux wrote: %lx", id);

	rt_expect(try_wrmsr(HV_X64_MSR_HYPERCALL, (u64)hc_pg_mem | 1 | 4), 13, 0, (u64)wrmsr_site, "#GP(0) writing a reserved HYPERCALL bit");
	rt_expect(try_wrmsr(HV_X64_MSR_HYPERCALL, 0x80000000UL | 1), 13, 0, (u64)wrmsr_site,
		"#GP(0) enabling the hypercall page outside the partition's RAM");
	rt_expect(try_wrmsr(HV_X64_MSR_HYPERCALL, (1UL << 40) | 1), 13, 0, (u64)wrmsr_site,
		"#GP(0) enabling the hypercall page beyond MAXPHYADDR");

	/* Linux: read, set enable and the PFN, write. */
	hc = rdmsr(HV_X64_MSR_HYPERCALL);
	hc = (hc & 0xfff) | 1 | (u64)hc_pg_mem;
	wrmsr(HV_X64_MSR_HYPERCALL, hc);
	hv_hypercall_pg = hc_pg_mem;
	hc = rdmsr(HV_X64_MSR_HYPERCALL);
	rt_check(hc == ((u64)hc_pg_mem | 1), "HYPERCALL reads back enable (hv_is_hyperv_initialized needs bit 0): %lx", hc);
	rt_printf("hv hcpage %x %x %x %x %x %x\n", hc_pg_mem[0], hc_pg_mem[1], hc_pg_mem[2], hc_pg_mem[3], hc_pg_mem[4], hc_pg_mem[4095]);
	rt_check(hc_pg_mem[0] == 0x0f && hc_pg_mem[1] == 0x01 && hc_pg_mem[2] == 0xc1 && hc_pg_mem[3] == 0xc3,
		"the hypervisor filled the page with VMCALL; RET: %x %x %x %x", hc_pg_mem[0], hc_pg_mem[1], hc_pg_mem[2], hc_pg_mem[3]);

	check_hypercalls();

	/* Zeroing the guest OS ID disables the page (TLFS); restoring it and re-enabling works again. */
	wrmsr(HV_X64_MSR_GUEST_OS_ID, 0);
	hc = rdmsr(HV_X64_MSR_HYPERCALL);
	rt_check(!(hc & 1), "zeroing GUEST_OS_ID disables the hypercall page: %lx", hc);
	wrmsr(HV_X64_MSR_GUEST_OS_ID, LINUX_GUEST_ID);
	/* Lock it: the MSR is then immutable. */
	wrmsr(HV_X64_MSR_HYPERCALL, (u64)hc_pg_mem | 3);
	hc = rdmsr(HV_X64_MSR_HYPERCALL);
	rt_check(hc == ((u64)hc_pg_mem | 3), "HYPERCALL with the locked bit reads back enabled and locked: %lx", hc);
	rt_expect(try_wrmsr(HV_X64_MSR_HYPERCALL, 0), 13, 0, (u64)wrmsr_site, "#GP(0) writing a locked HYPERCALL MSR");
	u64 r = hv_call(HVCALL_NOTIFY_LONG_SPIN_WAIT | HV_HYPERCALL_FAST_BIT, 1, 0);
	rt_check(r == 0, "hypercalls still work through the locked page: RAX=%lx", r);
}
