/*
 * Paging as the guest sees it (Intel SDM vol. 3, chapter 4): #PF error codes (P, W, U, RSVD, I) and CR2,
 * accessed/dirty bits written by the processor, CR0.WP, NX, 2 MiB and 1 GiB pages, and TLB invalidation by
 * INVLPG and CR3 reloads. All test mappings live at RT_TEST_VA(n) (4 GiB and up), away from the identity map.
 */
#include "rt.h"

#define PF 14
#define E_P 1UL
#define E_W 2UL
#define E_U 4UL
#define E_RSVD 8UL
#define E_I 0x10UL

/* Large-page frames live above the page-table pool: 40 MiB .. 48 MiB. */
#define BIG_FRAME 0x2800000UL

volatile u64 fault_va;	/* the address the fault functions touch (read by the assembly below) */
volatile u64 read_value;

RT_ASM_FN(f_read, "mov fault_va(%rip), %rax\n read_site: mov (%rax), %rax\n mov %rax, read_value(%rip)\n ret");
RT_ASM_FN(f_write, "mov fault_va(%rip), %rax\n write_site: movq $0x5a5a, (%rax)\n ret");
RT_ASM_FN(f_exec, "mov fault_va(%rip), %rax\n call *%rax\n ret");
extern char read_site[], write_site[];

static int try_read(u64 va) { fault_va = va; return rt_try(f_read, 0); }
static int try_write(u64 va) { fault_va = va; return rt_try(f_write, 0); }
static int try_exec(u64 va) { fault_va = va; return rt_try(f_exec, 0); }
static int user_read(u64 va) { fault_va = va; return rt_user(f_read, 0); }
static int user_write(u64 va) { fault_va = va; return rt_user(f_write, 0); }
static int user_exec(u64 va) { fault_va = va; return rt_user(f_exec, 0); }

static void expect_pf(int r, u64 err, u64 cr2, u64 rip, const char *what) {
	int ok = r == PF && rt_exc.err == err && rt_exc.cr2 == cr2 && (rip == 0 || rt_exc.rip == rip);
	if (r < 0) { rt_check(0, "%s: no fault", what); return; }
	rt_check(ok, "%s: vector=%d err=%lx cr2=%lx rip=%lx%s", what, r, rt_exc.err, rt_exc.cr2, rt_exc.rip,
		ok ? "" : " (unexpected)");
	if (!ok) rt_info("  wanted vector=14 err=%lx cr2=%lx rip=%lx", err, cr2, rip);
}

/* A fresh frame filled with a recognisable pattern. */
static u64 frame_with(u64 pattern) {
	u64 p = rt_alloc_page();
	for (int k = 0; k < 512; k++) ((volatile u64 *)p)[k] = pattern + (u64)k;
	return p;
}

static void test_error_codes(void) {
	u64 va = RT_TEST_VA(0);
	u64 ro = frame_with(0x1100), rw = frame_with(0x2200), code = rt_alloc_page();
	rt_map(va + 0x1000, ro, PTE_P, 1);			/* read-only, supervisor */
	rt_map(va + 0x2000, rw, PTE_P | PTE_W, 1);		/* writable, supervisor */
	rt_map(va + 0x3000, code, PTE_P | PTE_W | PTE_NX, 1);	/* NX */
	rt_map(va + 0x4000, ro, PTE_P | PTE_U, 1);		/* read-only, user */
	rt_map(va + 0x5000, rw, PTE_P | PTE_W | PTE_U, 1);	/* writable, user */
	rt_map(va + 0x6000, code, PTE_P | PTE_W | PTE_U | PTE_NX, 1);	/* NX, user */
	rt_map(va + 0x7000, code, PTE_P | PTE_W, 1);		/* executable, supervisor */
	poke8(code, 0xc3);	/* ret */
	/* va + 0x0000 and va + 0x8000 stay not present. */

	expect_pf(try_read(va + 0x123), 0, va + 0x123, (u64)read_site, "#PF read of a not-present page");
	expect_pf(try_write(va + 0x8ff8), E_W, va + 0x8ff8, (u64)write_site, "#PF write to a not-present page");
	expect_pf(try_read(0x0000700000000000UL + 0x40), 0, 0x0000700000000040UL, 0, "#PF read where the PML4 entry is not present");
	expect_pf(try_write(va + 0x1008), E_P | E_W, va + 0x1008, (u64)write_site, "#PF supervisor write to a read-only page (WP=1)");
	expect_pf(try_exec(va + 0x3000), E_P | E_I, va + 0x3000, va + 0x3000, "#PF fetch from an NX page (RIP = target)");
	rt_check(try_read(va + 0x3000) == RT_NONE, "NX page is still readable");
	rt_check(try_exec(va + 0x7000) == RT_NONE, "executable supervisor page runs at CPL 0");

	expect_pf(user_read(va + 0x2010), E_P | E_U, va + 0x2010, (u64)read_site, "#PF user read of a supervisor page");
	expect_pf(user_write(va + 0x2010), E_P | E_W | E_U, va + 0x2010, (u64)write_site, "#PF user write to a supervisor page");
	expect_pf(user_write(va + 0x4010), E_P | E_W | E_U, va + 0x4010, (u64)write_site, "#PF user write to a read-only user page");
	expect_pf(user_exec(va + 0x7000), E_P | E_U | E_I, va + 0x7000, va + 0x7000, "#PF user fetch from a supervisor page");
	expect_pf(user_exec(va + 0x6000), E_P | E_U | E_I, va + 0x6000, va + 0x6000, "#PF user fetch from an NX user page");
	expect_pf(user_read(va + 0x0ff0), E_U, va + 0x0ff0, (u64)read_site, "#PF user read of a not-present page");
	int r = user_read(va + 0x4020);
	rt_check(r == RT_NONE && read_value == 0x1100 + 4, "user read of a user page works: value=%lx", read_value);
	r = user_write(va + 0x5020);
	rt_check(r == RT_NONE && peek64(rw + 0x20) == 0x5a5a, "user write to a writable user page works");

	/* U/S is the AND of all levels: a user PTE under a supervisor PDE is still supervisor. */
	u64 va2 = RT_TEST_VA(1);
	rt_map(va2 + 0x1000, rw, PTE_P | PTE_W | PTE_U, 1);
	*rt_entry(va2, 2) &= ~PTE_U;
	invlpg(va2 + 0x1000);
	expect_pf(user_read(va2 + 0x1000), E_P | E_U, va2 + 0x1000, (u64)read_site, "#PF user read when only the PDE is supervisor");
	/* R/W likewise: a writable PTE under a read-only PDPTE. */
	*rt_entry(va2, 2) |= PTE_U;
	*rt_entry(va2, 3) &= ~PTE_W;
	invlpg(va2 + 0x1000);
	expect_pf(try_write(va2 + 0x1000), E_P | E_W, va2 + 0x1000, (u64)write_site, "#PF supervisor write when only the PDPTE is read-only");
	*rt_entry(va2, 3) |= PTE_W;
	/* NX likewise: an executable PTE under an NX PDE. */
	rt_map(va2 + 0x2000, code, PTE_P | PTE_W, 1);
	*rt_entry(va2, 2) |= PTE_NX;
	invlpg(va2 + 0x2000);
	expect_pf(try_exec(va2 + 0x2000), E_P | E_I, va2 + 0x2000, va2 + 0x2000, "#PF fetch when only the PDE is NX");
	*rt_entry(va2, 2) &= ~PTE_NX;
	invlpg(va2 + 0x2000);
	rt_check(try_exec(va2 + 0x2000) == RT_NONE, "fetch works again once the PDE's NX is cleared and INVLPG'd");
}

static void test_rsvd(void) {
	u64 va = RT_TEST_VA(2);
	u64 f = frame_with(0x3300);
	/* 2 MiB page with a reserved bit (bit 13: within the page-frame field, must be 0). */
	rt_map(va, BIG_FRAME, PTE_P | PTE_W, 2);
	*rt_entry(va, 2) |= 1UL << 13;
	invlpg(va);
	expect_pf(try_read(va + 0x10), E_P | E_RSVD, va + 0x10, (u64)read_site, "#PF RSVD, reserved bit 13 in a 2 MiB PDE (read)");
	expect_pf(try_write(va + 0x10), E_P | E_W | E_RSVD, va + 0x10, (u64)write_site, "#PF RSVD, reserved bit 13 in a 2 MiB PDE (write)");
	*rt_entry(va, 2) = 0;
	/* 1 GiB page with a reserved bit (bit 13). */
	u64 vg = RT_TEST_VA(3);
	rt_map(vg, 0, PTE_P | PTE_W, 3);
	*rt_entry(vg, 3) |= 1UL << 13;
	invlpg(vg);
	expect_pf(try_read(vg + 0x10), E_P | E_RSVD, vg + 0x10, (u64)read_site, "#PF RSVD, reserved bit 13 in a 1 GiB PDPTE");
	*rt_entry(vg, 3) = 0;
	/* PS set in a PML4 entry is reserved. */
	u64 vp = 0x0000600000000000UL;
	volatile u64 *pml4e = rt_entry(vp, 4);
	*pml4e = rt_alloc_page() | PTE_P | PTE_W | PTE_PS;
	invlpg(vp);
	expect_pf(try_read(vp + 0x10), E_P | E_RSVD, vp + 0x10, (u64)read_site, "#PF RSVD, PS set in a PML4 entry");
	*pml4e = 0;
	/* The XD bit is reserved while EFER.NXE is 0. */
	rt_map(va + 0x1000, f, PTE_P | PTE_W | PTE_NX, 1);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_NXE);
	int r = try_read(va + 0x1000);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
	expect_pf(r, E_P | E_RSVD, va + 0x1000, (u64)read_site, "#PF RSVD, XD set with EFER.NXE=0");
	/* A physical-address bit at or above MAXPHYADDR is reserved. */
	u32 a, b, c, d;
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	u32 maxphys = 36;
	if (a >= 0x80000008) { cpuid(0x80000008, 0, &a, &b, &c, &d); maxphys = a & 0xff; }
	if (maxphys >= 36 && maxphys < 52) {
		rt_map(va + 0x2000, f | (1UL << maxphys), PTE_P | PTE_W, 1);
		expect_pf(try_read(va + 0x2000), E_P | E_RSVD, va + 0x2000, (u64)read_site,
			"#PF RSVD, PTE address bit at MAXPHYADDR (from CPUID 0x80000008)");
	} else {
		rt_check(0, "CPUID 0x80000008 reports a usable MAXPHYADDR: %d", (int)maxphys);
	}
}

static void test_accessed_dirty(void) {
	u64 va = RT_TEST_VA(4);
	u64 f = frame_with(0x4400), g = frame_with(0x4500);
	rt_map(va, f, PTE_P | PTE_W, 1);
	volatile u64 *pte = rt_entry(va, 1), *pde = rt_entry(va, 2), *pdpte = rt_entry(va, 3), *pml4e = rt_entry(va, 4);
	*pde &= ~(PTE_A | PTE_D);
	*pdpte &= ~PTE_A;
	*pml4e &= ~PTE_A;
	invlpg(va);
	rt_check((*pte & (PTE_A | PTE_D)) == 0, "fresh PTE has A=0 D=0: pte=%lx", *pte);
	(void)peek64(va + 8);
	rt_check((*pte & (PTE_A | PTE_D)) == PTE_A, "read sets A, not D, in the PTE: pte=%lx", *pte);
	rt_check((*pde & PTE_A) && (*pdpte & PTE_A) && (*pml4e & PTE_A),
		"read sets A in the PDE, PDPTE and PML4E: %lx %lx %lx", *pde, *pdpte, *pml4e);
	rt_check(!(*pde & PTE_D), "non-leaf PDE gets no D bit: pde=%lx", *pde);
	/* The read put a clean translation in the TLB; a write must still set D. */
	poke64(va + 8, 7);
	rt_check((*pte & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "write after read sets D: pte=%lx", *pte);

	/* A faulting write sets no D bit. */
	rt_map(va + 0x1000, g, PTE_P, 1);
	int r = try_write(va + 0x1000);
	volatile u64 *pte2 = rt_entry(va + 0x1000, 1);
	rt_check(r == PF && !(*pte2 & PTE_D), "faulting write to a read-only page leaves D clear: pte=%lx", *pte2);
	/* A first access that is a write sets A and D together. */
	rt_map(va + 0x2000, g, PTE_P | PTE_W, 1);
	poke64(va + 0x2000, 1);
	volatile u64 *pte3 = rt_entry(va + 0x2000, 1);
	rt_check((*pte3 & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "first access a write: A and D set: pte=%lx", *pte3);
	/* An instruction fetch sets A. */
	u64 code = rt_alloc_page();
	poke8(code, 0xc3);
	rt_map(va + 0x3000, code, PTE_P, 1);
	r = try_exec(va + 0x3000);
	volatile u64 *pte4 = rt_entry(va + 0x3000, 1);
	rt_check(r == RT_NONE && (*pte4 & (PTE_A | PTE_D)) == PTE_A, "instruction fetch sets A only: pte=%lx", *pte4);
	/* A cleared A bit is set again after INVLPG and a new access. */
	*pte &= ~(PTE_A | PTE_D);
	invlpg(va);
	(void)peek64(va);
	rt_check((*pte & (PTE_A | PTE_D)) == PTE_A, "A set again after clearing + INVLPG + read: pte=%lx", *pte);

	/* Large pages: A and D land in the PDE / PDPTE that maps the page. */
	u64 v2 = RT_TEST_VA(5);
	rt_map(v2, BIG_FRAME, PTE_P | PTE_W, 2);
	volatile u64 *big = rt_entry(v2, 2);
	(void)peek64(v2 + 0x12340);
	rt_check((*big & (PTE_A | PTE_D)) == PTE_A, "read through a 2 MiB page sets A in the PDE: pde=%lx", *big);
	poke64(v2 + 0x1ff000, 3);
	rt_check((*big & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "write through a 2 MiB page sets D in the PDE: pde=%lx", *big);
	u64 v3 = RT_TEST_VA(6);
	rt_map(v3, 0, PTE_P | PTE_W, 3);
	volatile u64 *huge = rt_entry(v3, 3);
	(void)peek64(v3 + (u64)&read_value);
	rt_check((*huge & (PTE_A | PTE_D)) == PTE_A, "read through a 1 GiB page sets A in the PDPTE: pdpte=%lx", *huge);
	poke64(v3 + (u64)&read_value, 9);
	rt_check((*huge & (PTE_A | PTE_D)) == (PTE_A | PTE_D), "write through a 1 GiB page sets D in the PDPTE: pdpte=%lx", *huge);
}

static void test_wp(void) {
	u64 va = RT_TEST_VA(7);
	u64 f = frame_with(0x7700);
	rt_map(va, f, PTE_P, 1);	/* read-only supervisor */
	rt_map(va + 0x1000, f, PTE_P | PTE_U, 1);	/* read-only user */
	write_cr0(read_cr0() & ~CR0_WP);
	int r = try_write(va + 0x18);
	int ru = user_write(va + 0x1018);
	u64 ru_err = rt_exc.err;
	write_cr0(read_cr0() | CR0_WP);
	rt_check(r == RT_NONE && peek64(f + 0x18) == 0x5a5a, "CR0.WP=0, supervisor write to a read-only page succeeds: r=%d mem=%lx",
		r, peek64(f + 0x18));
	rt_check(ru == PF && ru_err == (E_P | E_W | E_U), "CR0.WP=0, user write to a read-only page still faults: err=%lx", ru_err);
	/* WP back on (MOV to CR0 changing WP invalidates translations, so no INVLPG needed). */
	expect_pf(try_write(va + 0x20), E_P | E_W, va + 0x20, (u64)write_site, "CR0.WP=1 again, supervisor write faults");
}

static void test_large_pages(void) {
	/* 2 MiB page: offsets beyond the first 4 KiB map linearly into the 2 MiB frame. */
	u64 v2 = RT_TEST_VA(8);
	rt_map(v2, BIG_FRAME, PTE_P | PTE_W, 2);
	poke64(BIG_FRAME + 0x1ff008, 0x1234567890abcdefUL);
	poke64(v2 + 0x123450, 0xfeedface);
	rt_check(peek64(v2 + 0x1ff008) == 0x1234567890abcdefUL && peek64(BIG_FRAME + 0x123450) == 0xfeedface,
		"2 MiB page maps linearly: %lx %lx", peek64(v2 + 0x1ff008), peek64(BIG_FRAME + 0x123450));
	/* 1 GiB page onto physical 0: the guest's own variables are visible at the same offset. */
	u64 v3 = RT_TEST_VA(9);
	rt_map(v3, 0, PTE_P | PTE_W, 3);
	read_value = 0xabcdef01;
	rt_check(peek64(v3 + (u64)&read_value) == 0xabcdef01, "1 GiB page maps physical 0: value=%lx", peek64(v3 + (u64)&read_value));
	poke64(v3 + (u64)&read_value, 0x600dcafe);
	rt_check(read_value == 0x600dcafe, "write through the 1 GiB page lands in the identity-mapped variable: %lx", read_value);
	rt_check(peek64(v3 + BIG_FRAME + 0x1ff008) == 0x1234567890abcdefUL, "1 GiB page reaches 40 MiB + 2 MiB - 4 KiB");
	/* Large-page permissions: a read-only 2 MiB page faults on write with the 2 MiB page's address in CR2. */
	u64 v4 = RT_TEST_VA(10);
	rt_map(v4, BIG_FRAME, PTE_P, 2);
	expect_pf(try_write(v4 + 0x1abcd8), E_P | E_W, v4 + 0x1abcd8, (u64)write_site, "#PF write to a read-only 2 MiB page");
	rt_map(v3, 0, PTE_P | PTE_W | PTE_NX, 3);
	expect_pf(try_exec(v3 + 0x400000), E_P | E_I, v3 + 0x400000, v3 + 0x400000, "#PF fetch from an NX 1 GiB page");
}

static void test_invalidation(void) {
	u64 va = RT_TEST_VA(11);
	u64 a = frame_with(0xaaaa0000), b = frame_with(0xbbbb0000);
	rt_map(va, a, PTE_P | PTE_W, 1);
	u64 v0 = peek64(va);
	volatile u64 *pte = rt_entry(va, 1);
	*pte = b | PTE_P | PTE_W;	/* no invalidation yet */
	u64 stale = peek64(va);
	invlpg(va);
	u64 fresh = peek64(va);
	rt_check(v0 == 0xaaaa0000, "mapping reads frame A: %lx", v0);
	/* Without invalidation either translation is architecturally allowed (a TLB may or may not hold it). */
	rt_info("changed PTE without INVLPG reads %s", stale == 0xaaaa0000 ? "frame A (stale TLB entry)" : stale == 0xbbbb0000 ? "frame B (no TLB entry)" : "neither frame (!)");
	rt_check(stale == 0xaaaa0000 || stale == 0xbbbb0000, "changed PTE without INVLPG reads frame A or frame B: %lx", stale);
	rt_check(fresh == 0xbbbb0000, "after INVLPG the new PTE (frame B) is used: %lx", fresh);

	/* CR3 reload flushes non-global translations. */
	*pte = a | PTE_P | PTE_W;
	u64 stale2 = peek64(va);
	write_cr3(read_cr3());
	u64 fresh2 = peek64(va);
	rt_check((stale2 == 0xbbbb0000 || stale2 == 0xaaaa0000) && fresh2 == 0xaaaa0000, "CR3 reload picks up the changed PTE: before=%lx after=%lx", stale2, fresh2);

	/* Unmapping: the stale translation may survive until INVLPG, after which the access faults. */
	*pte = 0;
	invlpg(va);
	expect_pf(try_read(va + 0x10), 0, va + 0x10, (u64)read_site, "#PF after the PTE is cleared and INVLPG'd");

	/* INVLPG of any address inside a 2 MiB page drops the whole large translation. */
	u64 v2 = RT_TEST_VA(12);
	rt_map(v2, BIG_FRAME, PTE_P | PTE_W, 2);
	poke64(BIG_FRAME + 0x5000, 0x1111);
	u64 before = peek64(v2 + 0x5000);
	rt_map(v2, 0, PTE_P | PTE_W, 2);	/* rt_map INVLPGs v2 itself, not v2 + 0x5000 */
	u64 after = peek64(v2 + 0x5000);
	rt_check(before == 0x1111 && after == peek64(0x5000), "INVLPG at the start of a 2 MiB page drops translations of its other 4 KiB parts: before=%lx after=%lx want=%lx",
		before, after, peek64(0x5000));

	/* Write through a stale writable translation after the PTE was made read-only and INVLPG'd: must fault. */
	u64 v3 = RT_TEST_VA(13);
	rt_map(v3, a, PTE_P | PTE_W, 1);
	poke64(v3, 1);
	*rt_entry(v3, 1) = a | PTE_P;
	invlpg(v3);
	expect_pf(try_write(v3), E_P | E_W, v3, (u64)write_site, "#PF write after the PTE became read-only and INVLPG'd");
}

void guest_main(void) {
	test_error_codes();
	test_rsvd();
	test_accessed_dirty();
	test_wp();
	test_large_pages();
	test_invalidation();
}
