/*
 * Exceptions and their error codes, as the guest observes them (Intel SDM vol. 3, 6.15 "Exception and
 * Interrupt Reference", 6.13 "Error Code", table 6-5 for double faults). Each fault site has a label so the
 * saved RIP can be compared exactly: faults report the faulting instruction, traps the next one.
 */
#include "rt.h"

#define NONCANON_LO "0x0000800000000000"
#define NONCANON_HI "0xffff7ffffffffff8"
#define UNMAPPED_STACK 0x00007fff00000000UL	/* canonical, never mapped */

/* ---- #DE */
RT_ASM_FN(f_div0, "xor %edx, %edx\n mov $1, %eax\n xor %ecx, %ecx\n de_site: div %ecx\n ret");
RT_ASM_FN(f_idiv_ovf, "mov $0x80000000, %eax\n cdq\n mov $-1, %ecx\n de2_site: idiv %ecx\n ret");
/* ---- #DB and #BP (traps: RIP after the instruction) */
RT_ASM_FN(f_icebp, ".byte 0xf1\n db_after: ret");
RT_ASM_FN(f_int3, "int3\n bp_after: ret");
RT_ASM_FN(f_int_3, "int $3\n bp2_after: ret");
RT_ASM_FN(f_int3_resume, "mov $0x1111, %eax\n int3\n add $0x2222, %eax\n mov %eax, resume_result(%rip)\n ret");
/* ---- #UD */
RT_ASM_FN(f_ud2, "ud2_site: ud2\n ret");
RT_ASM_FN(f_ud1, "ud1_site: .byte 0x0f, 0xb9, 0xc0\n ret");
RT_ASM_FN(f_daa, "daa_site: .byte 0x27\n ret");		/* DAA: invalid in 64-bit mode */
RT_ASM_FN(f_push_es, "pushes_site: .byte 0x06\n ret");	/* PUSH ES: invalid in 64-bit mode */
RT_ASM_FN(f_op82, "op82_site: .byte 0x82, 0xc0, 0x01\n ret");	/* 82 /0: invalid in 64-bit mode */
RT_ASM_FN(f_lock_reg, "lockreg_site: .byte 0xf0, 0x01, 0xc0\n ret");	/* LOCK ADD EAX, EAX: #UD */
RT_ASM_FN(f_lock_nop, "locknop_site: .byte 0xf0, 0x90\n ret");
RT_ASM_FN(f_mov_cs, "movcs_site: .byte 0x8e, 0xc8\n ret");	/* MOV CS, AX */
RT_ASM_FN(f_mov_cr1, "movcr1_site: .byte 0x0f, 0x20, 0xc8\n ret");	/* MOV RAX, CR1 */
RT_ASM_FN(f_into, "into_site: .byte 0xce\n ret");		/* INTO: invalid in 64-bit mode */
/* ---- #GP */
RT_ASM_FN(f_ds_beyond, "mov $0x99, %eax\n gpsel_site: mov %eax, %ds\n ret");
RT_ASM_FN(f_ds_tss, "mov $0x30, %eax\n gptss_site: mov %eax, %ds\n ret");
RT_ASM_FN(f_ds_ldt, "mov $0x0c, %eax\n gpldt_site: mov %eax, %ds\n ret");
RT_ASM_FN(f_ss_user, "mov $0x23, %eax\n gpssu_site: mov %eax, %ss\n ret");
RT_ASM_FN(f_ss_ro, "mov $0x48, %eax\n gpssro_site: mov %eax, %ss\n ret");
RT_ASM_FN(f_ss_null, "xor %eax, %eax\n gpssnull_site: mov %eax, %ss\n ret");	/* allowed at CPL 0 */
RT_ASM_FN(f_nc_read, "movabs $" NONCANON_LO ", %rax\n gpncr_site: mov (%rax), %rax\n ret");
RT_ASM_FN(f_nc_write, "movabs $" NONCANON_HI ", %rax\n gpncw_site: movq $1, (%rax)\n ret");
RT_ASM_FN(f_bad_msr, "mov $0x4b564dff, %ecx\n gpmsr_site: rdmsr\n ret");
RT_ASM_FN(f_cr4_rsvd, "mov %cr4, %rax\n bts $31, %rax\n gpcr4_site: mov %rax, %cr4\n ret");
RT_ASM_FN(f_cr4_nopae, "mov %cr4, %rax\n and $~0x20, %eax\n gpcr4pae_site: mov %rax, %cr4\n ret");
RT_ASM_FN(f_cr0_nopg, "mov %cr0, %rax\n btr $31, %rax\n gpcr0_site: mov %rax, %cr0\n ret");
RT_ASM_FN(f_int_limit, "gpidt_site: int $0x40\n ret");
RT_ASM_FN(f_int_badtype, "gptype_site: int $0x41\n ret");
RT_ASM_FN(f_jmp_nc, "movabs $" NONCANON_LO ", %rax\n gpjmp_site: jmp *%rax");
RT_ASM_FN(f_iret_nc,
	"mov %rsp, %rax\n pushq $0x10\n push %rax\n pushfq\n pushq $0x08\n"
	"movabs $" NONCANON_LO ", %rax\n push %rax\n gpiret_site: iretq");
/* ---- #NP */
RT_ASM_FN(f_ds_np, "mov $0x40, %eax\n np_site: mov %eax, %ds\n ret");
RT_ASM_FN(f_int_np, "npint_site: int $0x42\n ret");
/* ---- #SS */
RT_ASM_FN(f_ss_np, "mov $0x60, %eax\n ssnp_site: mov %eax, %ss\n ret");
/* RSP just above the canonical boundary: the pushed slot (RSP - 8) is non-canonical. */
RT_ASM_FN(f_push_nc, "movabs $0x0000800000000010, %rsp\n ssnc_site: pushq $0\n pushq $0\n pushq $0\n ret");
RT_ASM_FN(f_rbp_nc, "mov %rbp, %rdx\n movabs $" NONCANON_LO ", %rbp\n ssrbp_site: mov 8(%rbp), %rax\n mov %rdx, %rbp\n ret");
RT_ASM_FN(f_rsp_nc, "mov %rsp, %rdx\n movabs $" NONCANON_LO ", %rax\n ssrsp_site: mov (%rsp,%rax), %rax\n ret");
/* ---- #DF and contributory combinations */
RT_ASM_FN(f_pf_bad_stack, "mov $0x00007fff00000000, %rax\n mov %rax, %rsp\n dfpf_site: push %rax\n ret");

extern char de_site[], de2_site[], db_after[], bp_after[], bp2_after[], ud2_site[], ud1_site[], daa_site[],
	pushes_site[], op82_site[], lockreg_site[], locknop_site[], movcs_site[], movcr1_site[], into_site[],
	gpsel_site[], gptss_site[], gpldt_site[], gpssu_site[], gpssro_site[], gpncr_site[], gpncw_site[],
	gpmsr_site[], gpcr4_site[], gpcr4pae_site[], gpcr0_site[], gpidt_site[], gptype_site[], gpjmp_site[],
	gpiret_site[], np_site[], npint_site[], ssnp_site[], ssnc_site[], ssrbp_site[], ssrsp_site[], dfpf_site[];
volatile u32 resume_result;

#define SITE(x) ((u64)(x))
#define GATE_ERR(v, ext) ((u64)(v) * 8 + 2 + (ext))

static int resume_hook(struct rt_frame *f) {
	return f->vector == 3;	/* continue after INT3 */
}

static void restore_ds(void) {
	__asm__ volatile("mov %0, %%ds; mov %0, %%es; mov %0, %%ss" : : "r"((u32)RT_KDATA));
}

static void test_de_db_bp(void) {
	rt_expect(rt_try(f_div0, 0), 0, RT_ANY, SITE(de_site), "#DE on DIV by zero");
	rt_expect(rt_try(f_idiv_ovf, 0), 0, RT_ANY, SITE(de2_site), "#DE on IDIV overflow (INT_MIN / -1)");
	rt_expect(rt_try(f_icebp, 0), 1, RT_ANY, SITE(db_after), "#DB from INT1 (ICEBP) is a trap");
	rt_expect(rt_try(f_int3, 0), 3, RT_ANY, SITE(bp_after), "#BP from INT3 is a trap");
	rt_expect(rt_try(f_int_3, 0), 3, RT_ANY, SITE(bp2_after), "#BP from INT 3 (CD 03) is a trap");
	rt_hook = resume_hook;
	resume_result = 0;
	int r = rt_try(f_int3_resume, 0);
	rt_hook = 0;
	rt_check(r == RT_NONE && resume_result == 0x3333,
		"IRETQ from the #BP handler resumes after INT3 with registers intact: result=%x", resume_result);
}

static void test_ud(void) {
	rt_expect(rt_try(f_ud2, 0), 6, RT_ANY, SITE(ud2_site), "#UD on UD2");
	rt_expect(rt_try(f_ud1, 0), 6, RT_ANY, SITE(ud1_site), "#UD on UD1");
	rt_expect(rt_try(f_daa, 0), 6, RT_ANY, SITE(daa_site), "#UD on DAA in 64-bit mode");
	rt_expect(rt_try(f_push_es, 0), 6, RT_ANY, SITE(pushes_site), "#UD on PUSH ES in 64-bit mode");
	rt_expect(rt_try(f_op82, 0), 6, RT_ANY, SITE(op82_site), "#UD on opcode 82 in 64-bit mode");
	rt_expect(rt_try(f_into, 0), 6, RT_ANY, SITE(into_site), "#UD on INTO in 64-bit mode");
	rt_expect(rt_try(f_lock_reg, 0), 6, RT_ANY, SITE(lockreg_site), "#UD on LOCK with a register destination");
	rt_expect(rt_try(f_lock_nop, 0), 6, RT_ANY, SITE(locknop_site), "#UD on LOCK NOP");
	rt_expect(rt_try(f_mov_cs, 0), 6, RT_ANY, SITE(movcs_site), "#UD on MOV to CS");
	rt_expect(rt_try(f_mov_cr1, 0), 6, RT_ANY, SITE(movcr1_site), "#UD on MOV from CR1");
}

static void test_gp(void) {
	rt_expect(rt_try(f_ds_beyond, 0), 13, 0x98, SITE(gpsel_site), "#GP(sel) loading DS beyond the GDT limit");
	restore_ds();
	rt_expect(rt_try(f_ds_tss, 0), 13, 0x30, SITE(gptss_site), "#GP(sel) loading DS with a TSS descriptor");
	restore_ds();
	rt_expect(rt_try(f_ds_ldt, 0), 13, 0x0c, SITE(gpldt_site), "#GP(sel) loading DS from an empty LDT");
	restore_ds();
	rt_expect(rt_try(f_ss_user, 0), 13, 0x20, SITE(gpssu_site), "#GP(sel) loading SS with RPL/DPL 3 at CPL 0");
	restore_ds();
	rt_expect(rt_try(f_ss_ro, 0), 13, 0x48, SITE(gpssro_site), "#GP(sel) loading SS with read-only data");
	restore_ds();
	int r = rt_try(f_ss_null, 0);
	rt_check(r == RT_NONE, "null SS load is allowed in 64-bit mode at CPL 0: result=%d", r);
	restore_ds();
	rt_expect(rt_try(f_nc_read, 0), 13, 0, SITE(gpncr_site), "#GP(0) on a non-canonical read");
	rt_expect(rt_try(f_nc_write, 0), 13, 0, SITE(gpncw_site), "#GP(0) on a non-canonical write");
	rt_expect(rt_try(f_bad_msr, 0), 13, 0, SITE(gpmsr_site), "#GP(0) on RDMSR of an unimplemented MSR");
	rt_expect(rt_try(f_cr4_rsvd, 0), 13, 0, SITE(gpcr4_site), "#GP(0) setting a reserved CR4 bit");
	rt_expect(rt_try(f_cr4_nopae, 0), 13, 0, SITE(gpcr4pae_site), "#GP(0) clearing CR4.PAE in long mode");
	rt_expect(rt_try(f_cr0_nopg, 0), 13, 0, SITE(gpcr0_site), "#GP(0) clearing CR0.PG in 64-bit mode");
	rt_expect(rt_try(f_jmp_nc, 0), 13, 0, SITE(gpjmp_site), "#GP(0) on JMP to a non-canonical address (RIP = the JMP)");
	rt_expect(rt_try(f_iret_nc, 0), 13, 0, SITE(gpiret_site), "#GP(0) on IRETQ to a non-canonical RIP");

	/* INT n beyond the IDT limit: #GP(n*8+2) (IDT bit set, EXT clear for a software interrupt). */
	struct { u16 limit; u64 base; } __attribute__((packed)) small = { 32 * 16 - 1, (u64)rt_idt }, full = { 256 * 16 - 1, (u64)rt_idt };
	__asm__ volatile("lidt %0" : : "m"(small));
	r = rt_try(f_int_limit, 0);
	__asm__ volatile("lidt %0" : : "m"(full));
	rt_expect(r, 13, GATE_ERR(0x40, 0), SITE(gpidt_site), "#GP(vec*8+2) on INT n beyond the IDT limit");
	/* A gate of a type that is not an interrupt/trap gate. */
	rt_set_gate(0x41, rt_stub(0x41), 0, 0, 0x5, 1);
	r = rt_try(f_int_badtype, 0);
	rt_set_gate(0x41, rt_stub(0x41), 0, 0, 0xe, 1);
	rt_expect(r, 13, GATE_ERR(0x41, 0), SITE(gptype_site), "#GP(vec*8+2) on INT n through a task-gate type");
}

static void test_np_ss(void) {
	rt_expect(rt_try(f_ds_np, 0), 11, 0x40, SITE(np_site), "#NP(sel) loading DS with a not-present segment");
	restore_ds();
	rt_gate_present(0x42, 0);
	int r = rt_try(f_int_np, 0);
	rt_gate_present(0x42, 1);
	rt_expect(r, 11, GATE_ERR(0x42, 0), SITE(npint_site), "#NP(vec*8+2) on INT n through a not-present gate");
	/* #UD's gate not present: #NP during delivery of an exception has EXT set. */
	rt_gate_present(6, 0);
	r = rt_try(f_ud2, 0);
	rt_gate_present(6, 1);
	rt_expect(r, 11, GATE_ERR(6, 1), SITE(ud2_site), "#NP(vec*8+2+EXT) when the #UD gate is not present");
	/* INT3's gate not present: a software interrupt, EXT clear; benign then contributory is not a #DF. */
	rt_gate_present(3, 0);
	r = rt_try(f_int3, 0);
	rt_gate_present(3, 1);
	rt_expect(r, 11, GATE_ERR(3, 0), 0, "#NP(vec*8+2) when the INT3 gate is not present");

	rt_expect(rt_try(f_ss_np, 0), 12, 0x60, SITE(ssnp_site), "#SS(sel) loading SS with a not-present segment");
	restore_ds();
	/* The #SS handler needs a usable stack: put the gate on IST3. */
	rt_gate_ist(12, 3);
	r = rt_try(f_push_nc, 0);
	rt_gate_ist(12, 0);
	rt_expect(r, 12, 0, SITE(ssnc_site), "#SS(0) on PUSH to a non-canonical stack slot");
	rt_expect(rt_try(f_rsp_nc, 0), 12, 0, SITE(ssrsp_site), "#SS(0) on a non-canonical RSP-based access");
	rt_expect(rt_try(f_rbp_nc, 0), 12, 0, SITE(ssrbp_site), "#SS(0) on a non-canonical RBP-based access");
}

static void test_df(void) {
	/* #PF whose delivery faults again (the stack is unmapped): #DF(0) on the IST1 stack. */
	int r = rt_try(f_pf_bad_stack, 0);
	rt_expect(r, 8, 0, SITE(dfpf_site), "#DF(0) when delivering #PF hits an unmapped stack");
	rt_check(r == 8 && rt_exc.top == rt_ist_top(1) && rt_exc.rsp == UNMAPPED_STACK,
		"#DF handler runs on IST1 with the bad RSP saved: top=%lx (IST1 %lx) rsp=%lx", rt_exc.top,
		rt_ist_top(1), rt_exc.rsp);
	rt_check(r == 8 && rt_exc.cr2 == UNMAPPED_STACK - 8, "CR2 after the #PF->#DF is the stack slot: cr2=%lx",
		rt_exc.cr2);

	/* #UD gate and #NP gate not present: #UD -> #NP, then #NP while delivering #NP -> #DF. */
	rt_gate_present(6, 0);
	rt_gate_present(11, 0);
	r = rt_try(f_ud2, 0);
	rt_gate_present(11, 1);
	rt_gate_present(6, 1);
	rt_expect(r, 8, 0, SITE(ud2_site), "#DF(0) on #NP while delivering #NP");

	/* #GP whose gate selects a data segment: #GP while delivering #GP -> #DF. */
	rt_set_gate(13, rt_stub(13), 0, 0, 0xe, 1);
	((volatile u32 *)(rt_idt + 13 * 16))[0] = (u32)(rt_stub(13) & 0xffff) | ((u32)RT_KDATA << 16);
	r = rt_try(f_nc_read, 0);
	rt_set_gate(13, rt_stub(13), 0, 0, 0xe, 1);
	rt_expect(r, 8, 0, SITE(gpncr_site), "#DF(0) on #GP while delivering #GP (gate selects a data segment)");

	/* #PF whose gate is not present: #PF then #NP is a #DF. */
	rt_gate_present(14, 0);
	r = rt_try(f_pf_bad_stack, 0);
	rt_gate_present(14, 1);
	rt_expect(r, 8, 0, SITE(dfpf_site), "#DF(0) on #NP while delivering #PF");

	/* #BP (benign) with a not-present gate and a not-present #NP gate: benign then contributory, then
	 * contributory during #NP delivery -> #DF. */
	rt_gate_present(3, 0);
	rt_gate_present(11, 0);
	r = rt_try(f_int3, 0);
	rt_gate_present(11, 1);
	rt_gate_present(3, 1);
	rt_expect(r, 8, 0, 0, "#DF(0) on #NP while delivering the #NP raised by INT3's absent gate");
}

static void test_ts(void) {
	/* A TSS whose limit ends before the IST pointers: delivering through an IST gate reads past the limit,
	 * which is #TS(TSS selector + EXT). Load it with LTR (the runtime's TSS is busy, so swap carefully). */
	u64 saved = rt_gdt[10];
	rt_gdt[10] = (saved & ~0xffffUL) | 0x23;		/* limit 0x23: RSP0..RSP2 only */
	__asm__ volatile("ltr %w0" : : "r"(RT_SEL_TSS2));
	rt_gate_ist(6, 2);
	int r = rt_try(f_ud2, 0);
	rt_gate_ist(6, 0);
	rt_gdt[6] &= ~(0x2UL << 40);				/* runtime TSS: busy -> available */
	__asm__ volatile("ltr %w0" : : "r"(RT_TSS));
	rt_gdt[10] = saved;
	rt_expect(r, 10, RT_SEL_TSS2 | 1, SITE(ud2_site), "#TS(sel+EXT) when an IST pointer lies beyond the TSS limit");
}

void guest_main(void) {
	test_de_db_bp();
	test_ud();
	test_gp();
	test_np_ss();
	test_df();
	test_ts();
	/* The processor is still healthy: an ordinary #UD is delivered normally after all that. */
	rt_expect(rt_try(f_ud2, 0), 6, RT_ANY, SITE(ud2_site), "#UD still delivered normally at the end");
}
