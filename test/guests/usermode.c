/*
 * Privilege transitions as the guest sees them (Intel SDM vol. 3: 5.8.8 SYSCALL/SYSRET, 6.12.1 and 6.14
 * interrupt-gate privilege changes, 6.14.5 the interrupt stack table, 7.7 TSS.RSP0; vol. 2: IRET, SYSCALL,
 * SYSRET; the privileged-instruction list in 5.9).
 */
#include "rt.h"

#define UD 6
#define GP 13

volatile u64 u_cs, u_ss, u_ds, u_rax, u_rflags, u_after;

/* ---- CPL 3 bodies */
RT_ASM_FN(u_read_segs,
	"mov %cs, %eax\n mov %rax, u_cs(%rip)\n mov %ss, %eax\n mov %rax, u_ss(%rip)\n"
	"mov %ds, %eax\n mov %rax, u_ds(%rip)\n ret");
RT_ASM_FN(u_int80,
	"mov $41, %edi\n mov $1, %eax\n int $0x80\n mov %rax, u_rax(%rip)\n"
	"mov %cs, %eax\n mov %rax, u_cs(%rip)\n ret");
volatile u64 sc_user_rsp;
RT_ASM_FN(u_syscall,
	"push %rbx\n mov %rsp, sc_user_rsp(%rip)\n mov $7, %edi\n mov $1, %eax\n std\n syscall\n sc_ret: pushfq\n pop %rbx\n cld\n"
	"mov %rbx, u_rflags(%rip)\n mov %rax, u_rax(%rip)\n"
	"mov %cs, %eax\n mov %rax, u_cs(%rip)\n mov %ss, %eax\n mov %rax, u_ss(%rip)\n pop %rbx\n ret");
RT_ASM_FN(u_syscall_site, "mov $1, %eax\n syscall_ud_site: syscall\n ret");
RT_ASM_FN(u_int3_resume, "movq $0, u_after(%rip)\n int3\n movq $0x77, u_after(%rip)\n ret");
RT_ASM_FN(u_int3, "u_int3_site: int3\n u_int3_after: ret");
RT_ASM_FN(u_icebp, ".byte 0xf1\n u_icebp_after: ret");
RT_ASM_FN(u_int40, "u_int40_site: int $0x40\n ret");
RT_ASM_FN(u_cli, "u_cli_site: cli\n ret");
RT_ASM_FN(u_sti, "u_sti_site: sti\n ret");
RT_ASM_FN(u_hlt, "u_hlt_site: hlt\n ret");
RT_ASM_FN(u_rdmsr, "mov $0xc0000080, %ecx\n u_rdmsr_site: rdmsr\n ret");
RT_ASM_FN(u_wrmsr, "mov $0xc0000081, %ecx\n xor %eax, %eax\n xor %edx, %edx\n u_wrmsr_site: wrmsr\n ret");
RT_ASM_FN(u_movcr3, "u_movcr3_site: mov %cr3, %rax\n ret");
RT_ASM_FN(u_movcr0, "xor %eax, %eax\n u_movcr0_site: mov %rax, %cr0\n ret");
RT_ASM_FN(u_lidt, "sub $16, %rsp\n u_lidt_site: lidt (%rsp)\n add $16, %rsp\n ret");
RT_ASM_FN(u_invlpg, "u_invlpg_site: invlpg (%rsp)\n ret");
RT_ASM_FN(u_in, "u_in_site: inb $0x80, %al\n ret");
RT_ASM_FN(u_out, "u_out_site: outb %al, $0x80\n ret");
RT_ASM_FN(u_swapgs, "u_swapgs_site: swapgs\n ret");
RT_ASM_FN(u_clts, "u_clts_site: clts\n ret");
RT_ASM_FN(u_wbinvd, "u_wbinvd_site: wbinvd\n ret");
RT_ASM_FN(u_ltr, "mov $0x30, %eax\n u_ltr_site: ltr %ax\n ret");
RT_ASM_FN(u_sysret, "u_sysret_site: sysretq\n ret");
RT_ASM_FN(u_iret_cpl0,
	"mov %rsp, %rax\n pushq $0x10\n push %rax\n pushfq\n pushq $0x08\n lea 1f(%rip), %rax\n push %rax\n"
	"u_iret_site: iretq\n 1: ret");
RT_ASM_FN(u_sgdt_smsw, "sub $16, %rsp\n sgdt (%rsp)\n smsw %ax\n add $16, %rsp\n ret");
RT_ASM_FN(u_rdtsc, "u_rdtsc_site: rdtsc\n ret");
RT_ASM_FN(u_bad_rsp, "mov $0x00007fff00000000, %rax\n mov %rax, %rsp\n u_badrsp_site: ud2");
/* ---- CPL 0 bodies */
RT_ASM_FN(k_sysret_nc, "movabs $0x0000800000000000, %rcx\n mov $2, %r11d\n k_sysret_site: sysretq");
RT_ASM_FN(k_int3, "k_int3_site: int3\n ret");
RT_ASM_FN(k_ud_bad_rsp, "mov $0x00007fff00000000, %rax\n mov %rax, %rsp\n k_badrsp_site: ud2");

extern char sc_ret[], syscall_ud_site[], u_int3_after[], u_icebp_after[], u_int40_site[], u_cli_site[],
	u_sti_site[], u_hlt_site[], u_rdmsr_site[], u_wrmsr_site[], u_movcr3_site[], u_movcr0_site[],
	u_lidt_site[], u_invlpg_site[], u_in_site[], u_out_site[], u_swapgs_site[], u_clts_site[],
	u_wbinvd_site[], u_ltr_site[], u_sysret_site[], u_iret_site[], u_rdtsc_site[], u_badrsp_site[],
	k_sysret_site[], k_int3_site[], k_badrsp_site[];

#define SITE(x) ((u64)(x))

static void test_iret_to_user(void) {
	__asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"((u32)RT_KDATA));
	u_cs = u_ss = 0;
	u_ds = 0xffff;
	int r = rt_user(u_read_segs, 0);
	rt_check(r == RT_NONE && u_cs == RT_UCODE && u_ss == RT_UDATA, "IRETQ to CPL 3: CS=%lx SS=%lx", u_cs, u_ss);
	rt_check(u_ds == 0, "IRETQ to CPL 3 nulls a DS that holds a DPL-0 data selector: DS=%lx", u_ds);
	/* Back to CPL 0 through the DPL-3 INT 0x80 gate: frame and stacks. */
	rt_check(rt_sc_int80.vector == RT_VEC_INT80 && rt_sc_int80.cs == RT_UCODE && rt_sc_int80.ss == RT_UDATA,
		"INT 0x80 from CPL 3 pushes the user CS/SS: cs=%lx ss=%lx", rt_sc_int80.cs, rt_sc_int80.ss);
	rt_check(rt_sc_int80.top == rt_rsp0_top(), "INT 0x80 from CPL 3 switches to TSS.RSP0: top=%lx rsp0=%lx", rt_sc_int80.top, rt_rsp0_top());
	rt_check(rt_sc_int80.cpl_cs == RT_KCODE && rt_sc_int80.cpl_ss == 0,
		"handler runs with CS=%lx and a null SS=%lx after the privilege change", rt_sc_int80.cpl_cs, rt_sc_int80.cpl_ss);
	__asm__ volatile("mov %0, %%ds; mov %0, %%es" : : "r"((u32)RT_KDATA));

	/* INT 0x80 and IRETQ back to CPL 3 with a result. */
	u_rax = 0;
	r = rt_user(u_int80, 0);
	rt_check(r == RT_NONE && u_rax == 42 && u_cs == RT_UCODE, "INT 0x80 round trip returns to CPL 3 with RAX=%lx CS=%lx", u_rax, u_cs);
}

static void test_syscall(void) {
	u_rax = 0;
	int r = rt_user(u_syscall, 0);
	rt_check(r == RT_NONE && rt_sc_syscall.count == 1, "SYSCALL and SYSRETQ round trip completed: r=%d count=%ld", r, rt_sc_syscall.count);
	rt_check(rt_sc_syscall.rip == SITE(sc_ret), "SYSCALL saves the next RIP in RCX: %lx", rt_sc_syscall.rip);
	rt_check((rt_sc_syscall.rflags_saved & (RFLAGS_DF | 2)) == (RFLAGS_DF | 2), "SYSCALL saves RFLAGS (with DF set) in R11: %lx",
		rt_sc_syscall.rflags_saved);
	rt_check((rt_sc_syscall.rflags_entry & (RFLAGS_DF | RFLAGS_IF | RFLAGS_TF | RFLAGS_AC)) == 0,
		"SYSCALL masks RFLAGS with SFMASK (DF clear in the handler): %lx", rt_sc_syscall.rflags_entry);
	rt_check(rt_sc_syscall.cpl_cs == RT_KCODE && rt_sc_syscall.cpl_ss == RT_KDATA,
		"SYSCALL loads CS=STAR[47:32]=%lx and SS=STAR[47:32]+8=%lx", rt_sc_syscall.cpl_cs, rt_sc_syscall.cpl_ss);
	rt_check(rt_sc_syscall.rsp == sc_user_rsp, "SYSCALL leaves RSP alone: %lx (user %lx)", rt_sc_syscall.rsp, sc_user_rsp);
	rt_check(u_rax == 8, "SYSRETQ returns the handler's RAX: %lx", u_rax);
	rt_check(u_cs == RT_UCODE && u_ss == RT_UDATA, "after SYSRETQ: CS=%lx (STAR[63:48]+16|3) SS=%lx (STAR[63:48]+8|3)", u_cs, u_ss);
	rt_check((u_rflags & RFLAGS_DF) != 0, "SYSRETQ restores RFLAGS from R11 (DF set again): %lx", u_rflags);
}

static void test_privileged(void) {
	struct { void (*fn)(void *); u64 site; const char *what; } cases[] = {
		{ u_cli, SITE(u_cli_site), "CLI at CPL 3 (IOPL 0)" },
		{ u_sti, SITE(u_sti_site), "STI at CPL 3 (IOPL 0)" },
		{ u_hlt, SITE(u_hlt_site), "HLT at CPL 3" },
		{ u_rdmsr, SITE(u_rdmsr_site), "RDMSR at CPL 3" },
		{ u_wrmsr, SITE(u_wrmsr_site), "WRMSR at CPL 3" },
		{ u_movcr3, SITE(u_movcr3_site), "MOV from CR3 at CPL 3" },
		{ u_movcr0, SITE(u_movcr0_site), "MOV to CR0 at CPL 3" },
		{ u_lidt, SITE(u_lidt_site), "LIDT at CPL 3" },
		{ u_ltr, SITE(u_ltr_site), "LTR at CPL 3" },
		{ u_invlpg, SITE(u_invlpg_site), "INVLPG at CPL 3" },
		{ u_in, SITE(u_in_site), "IN at CPL 3 (IOPL 0, no I/O bitmap)" },
		{ u_out, SITE(u_out_site), "OUT at CPL 3 (IOPL 0, no I/O bitmap)" },
		{ u_swapgs, SITE(u_swapgs_site), "SWAPGS at CPL 3" },
		{ u_clts, SITE(u_clts_site), "CLTS at CPL 3" },
		{ u_wbinvd, SITE(u_wbinvd_site), "WBINVD at CPL 3" },
		{ u_sysret, SITE(u_sysret_site), "SYSRET at CPL 3" },
	};
	for (u64 k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		int r = rt_user(cases[k].fn, 0);
		int ok = r == GP && rt_exc.err == 0 && rt_exc.rip == cases[k].site && rt_exc.cs == RT_UCODE &&
			rt_exc.top == rt_rsp0_top();
		rt_check(ok, "#GP(0) on %s: vector=%d err=%lx rip=%lx cs=%lx on RSP0=%s", cases[k].what, r, rt_exc.err,
			rt_exc.rip, rt_exc.cs, rt_exc.top == rt_rsp0_top() ? "yes" : "no");
	}
	int r = rt_user(u_iret_cpl0, 0);
	rt_check(r == GP && rt_exc.err == RT_KCODE && rt_exc.rip == SITE(u_iret_site),
		"#GP(sel) on IRETQ from CPL 3 to a CPL-0 code segment: err=%lx", rt_exc.err);
	r = rt_user(u_int40, 0);
	rt_check(r == GP && rt_exc.err == 0x40 * 8 + 2 && rt_exc.rip == SITE(u_int40_site),
		"#GP(vec*8+2) on INT 0x40 (gate DPL 0) at CPL 3: err=%lx", rt_exc.err);
	r = rt_user(u_sgdt_smsw, 0);
	rt_check(r == RT_NONE, "SGDT and SMSW are allowed at CPL 3 (CR4.UMIP clear): r=%d", r);
	r = rt_user(u_rdtsc, 0);
	rt_check(r == RT_NONE, "RDTSC is allowed at CPL 3 with CR4.TSD clear: r=%d", r);
	write_cr4(read_cr4() | 4);
	r = rt_user(u_rdtsc, 0);
	write_cr4(read_cr4() & ~4UL);
	rt_check(r == GP && rt_exc.rip == SITE(u_rdtsc_site), "#GP(0) on RDTSC at CPL 3 with CR4.TSD set: vector=%d", r);
	/* Exceptions that are allowed from CPL 3. */
	r = rt_user(u_int3, 0);
	rt_check(r == 3 && rt_exc.rip == SITE(u_int3_after) && rt_exc.cs == RT_UCODE && rt_exc.top == rt_rsp0_top(),
		"#BP from INT3 at CPL 3 through a DPL-3 gate, on RSP0: vector=%d rip=%lx", r, rt_exc.rip);
	r = rt_user(u_icebp, 0);
	rt_check(r == 1 && rt_exc.rip == SITE(u_icebp_after) && rt_exc.cs == RT_UCODE,
		"#DB from INT1 at CPL 3 (no gate DPL check for INT1): vector=%d rip=%lx", r, rt_exc.rip);
	rt_gate_dpl(3, 0);
	r = rt_user(u_int3, 0);
	rt_gate_dpl(3, 3);
	rt_check(r == GP && rt_exc.err == 3 * 8 + 2, "#GP(0x1a) on INT3 at CPL 3 when the #BP gate has DPL 0: vector=%d err=%lx", r, rt_exc.err);
}

static int resume_bp(struct rt_frame *f) { return f->vector == 3; }

static void test_user_resume(void) {
	rt_hook = resume_bp;
	u_after = 0;
	int r = rt_user(u_int3_resume, 0);
	rt_hook = 0;
	rt_check(r == RT_NONE && u_after == 0x77, "IRETQ from a CPL-0 handler resumes CPL-3 code after INT3: after=%lx", u_after);
}

static void test_syscall_faults(void) {
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) & ~EFER_SCE);
	int r = rt_user(u_syscall_site, 0);
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
	rt_expect(r, UD, RT_ANY, SITE(syscall_ud_site), "#UD on SYSCALL with EFER.SCE=0");
	r = rt_try(k_sysret_nc, 0);
	rt_check(r == GP && rt_exc.err == 0 && rt_exc.rip == SITE(k_sysret_site) && rt_exc.cs == RT_KCODE,
		"#GP(0) at CPL 0 on SYSRETQ to a non-canonical RCX: vector=%d cs=%lx", r, rt_exc.cs);
}

static void test_stacks(void) {
	/* IST beats the current stack at CPL 0. */
	rt_gate_ist(3, 2);
	int r = rt_try(k_int3, 0);
	rt_check(r == 3 && rt_exc.top == rt_ist_top(2), "#BP at CPL 0 through an IST2 gate lands on IST2: top=%lx ist2=%lx", rt_exc.top, rt_ist_top(2));
	/* IST beats TSS.RSP0 on a privilege change. */
	r = rt_user(u_int3, 0);
	rt_gate_ist(3, 0);
	rt_check(r == 3 && rt_exc.top == rt_ist_top(2) && rt_exc.cs == RT_UCODE,
		"#BP at CPL 3 through an IST2 gate lands on IST2, not RSP0: top=%lx", rt_exc.top);
	/* IST works when the current stack is unusable. */
	rt_gate_ist(6, 3);
	r = rt_try(k_ud_bad_rsp, 0);
	rt_check(r == UD && rt_exc.top == rt_ist_top(3) && rt_exc.rsp == 0x00007fff00000000UL && rt_exc.rip == SITE(k_badrsp_site),
		"#UD with an unmapped RSP through an IST3 gate is delivered on IST3: top=%lx saved rsp=%lx", rt_exc.top, rt_exc.rsp);
	rt_gate_ist(6, 0);
	/* CPL 3 with an unusable user stack: the switch to RSP0 makes delivery work. */
	r = rt_user(u_bad_rsp, 0);
	rt_check(r == UD && rt_exc.top == rt_rsp0_top() && rt_exc.rsp == 0x00007fff00000000UL && rt_exc.rip == SITE(u_badrsp_site),
		"#UD at CPL 3 with an unmapped user RSP is delivered on RSP0: top=%lx saved rsp=%lx", rt_exc.top, rt_exc.rsp);
	/* Moving TSS.RSP0 moves where CPL-3 events land. */
	static u8 alt_stack[4096] __attribute__((aligned(16)));
	u64 alt = (u64)alt_stack + sizeof alt_stack;
	volatile u32 *rsp0 = (volatile u32 *)(rt_tss + 4);
	rsp0[0] = (u32)alt; rsp0[1] = (u32)(alt >> 32);
	r = rt_user(u_int3, 0);
	u64 top = rt_exc.top;
	rsp0[0] = (u32)rt_rsp0_top(); rsp0[1] = (u32)(rt_rsp0_top() >> 32);
	rt_check(r == 3 && top == alt, "a new TSS.RSP0 value is used by the next CPL-3 event: top=%lx want=%lx", top, alt);
	/* RSP0 that is not 16-byte aligned: the processor aligns the new stack down to 16 bytes. */
	rsp0[0] = (u32)(alt - 8);
	r = rt_user(u_int3, 0);
	top = rt_exc.top;
	rsp0[0] = (u32)rt_rsp0_top(); rsp0[1] = (u32)(rt_rsp0_top() >> 32);
	rt_check(r == 3 && top == alt - 16, "a misaligned TSS.RSP0 is aligned down to 16: top=%lx want=%lx", top, alt - 16);
}

void guest_main(void) {
	test_iret_to_user();
	test_syscall();
	test_privileged();
	test_user_resume();
	test_syscall_faults();
	test_stacks();
}
