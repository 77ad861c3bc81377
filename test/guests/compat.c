/*
 * Compatibility mode (IA-32e with a 32-bit code segment, Intel SDM vol. 3 5.2.1, 6.14): the guest switches to a
 * 32-bit code segment at CPL 0 (far return) and at CPL 3 (IRETQ, SYSRETL), runs 32-bit code there, takes
 * exceptions and software interrupts from compatibility mode through the 64-bit IDT and returns to it with
 * IRETQ, and leaves again by far JMP (CPL 0) or INT 0x80 (CPL 3). SYSCALL from compatibility mode is #UD on
 * the processor's GenuineIntel profile (SDM SYSCALL: #UD unless CS.L=1; AMD parts enter at CSTAR instead).
 */
#include "rt.h"

#define KCODE32		0x48	/* rt_gdt[9] (read-only data in other guests) becomes a 32-bit DPL-0 code segment */
#define UCODE32		(RT_UCODE32 | 3)
#define UDATA		RT_UDATA
#define MSR_CSTAR	0xc0000083

u64 c_saved_rsp;
/* What the 32-bit code stores (absolute addresses: the image is below 4 GiB). */
volatile u32 k32_out[8], u32_out[8];
static u8 u32_stack[8192] __attribute__((aligned(16)));

/* Hook state: what the 64-bit handler saw. */
static volatile u64 h_vector, h_cs, h_ss, h_rsp, h_rip, h_cpl_cs, h_count, h_seq;

static int hook(struct rt_frame *f) {
	h_count++;
	h_seq = (h_seq << 8) | f->vector;	/* the order of events, one byte each */
	h_vector = f->vector; h_cs = f->cs; h_ss = f->ss; h_rsp = f->rsp; h_rip = f->rip;
	h_cpl_cs = read_cs();
	if (f->vector == 6) f->rip += 2;	/* resume after UD2 / SYSCALL (both two bytes) */
	return 1;
}

/*
 * CPL 0: far return to KCODE32; in 32-bit code: PUSHAD/POPAD, a 16-bit operation (66), DAA and AAM, UD2 (the
 * hook resumes after it), then a direct far JMP (EA ptr16:32) back to 64-bit code.
 */
RT_ASM_FN(k32_run,
	"push %rbx\n push %rbp\n"
	"mov %rsp, c_saved_rsp(%rip)\n"
	"pushq $" "0x48" "\n"
	"lea k32_code(%rip), %rax\n"
	"push %rax\n"
	"lretq\n"
	".code32\n"
	"k32_code:\n"
	"mov %cs, %eax\n mov %eax, k32_out\n"
	"mov $0x11111111, %eax\n mov $0x22222222, %ebx\n"
	"pusha\n xor %eax, %eax\n xor %ebx, %ebx\n popa\n"
	"add %ebx, %eax\n mov %eax, k32_out+4\n"	/* 0x33333333 */
	"mov $0xffff, %ecx\n inc %cx\n mov %ecx, k32_out+8\n"	/* 66 41: CX wraps, ECX = 0 */
	"mov $0x19, %eax\n add $0x28, %al\n daa\n aam\n mov %eax, k32_out+12\n"	/* 0x47: AH 7, AL 1 */
	"ud2\n"
	"mov $0x5a5a5a5a, %eax\n mov %eax, k32_out+16\n"
	"ljmp $0x08, $k32_back\n"
	".code64\n"
	"k32_back:\n"
	"mov c_saved_rsp(%rip), %rsp\n"
	"pop %rbp\n pop %rbx\n"
	"ret");

/*
 * CPL 3 by IRETQ to the 32-bit user code segment: load usable DS/ES (IRET to an outer level nulled the DPL-0
 * ones), compute, INT3 and INTO (OF=1) through DPL-3 gates, SYSCALL (#UD here), and leave with INT 0x80.
 */
RT_ASM_FN(u32_run,
	"pushq $" "0x23" "\n"
	"push %rdi\n"
	"pushq $0x2\n"
	"pushq $" "0x1b" "\n"
	"lea u32_code(%rip), %rax\n"
	"push %rax\n"
	"iretq\n"
	".code32\n"
	"u32_code:\n"
	"mov $0x23, %eax\n mov %eax, %ds\n mov %eax, %es\n"
	"mov %cs, %eax\n mov %eax, u32_out\n"
	"mov %ss, %eax\n mov %eax, u32_out+4\n"
	"mov %esp, u32_out+8\n"
	"int3\n"
	"mov $0x7fffffff, %eax\n add $1, %eax\n into\n"
	"mov %eax, u32_out+12\n"
	"syscall\n"
	"mov $0xc0ffee, %eax\n mov %eax, u32_out+16\n"
	"mov $" "0x3c" ", %eax\n int $0x80\n"
	"ud2\n"
	".code64\n");

/* SYSRETL from CPL 0: RCX = the 32-bit entry point, R11 = RFLAGS, RSP = the user stack (SYSRET leaves it). */
RT_ASM_FN(sysret_run,
	"mov %rdi, %rsp\n"
	"lea u32_sysret_code(%rip), %rcx\n"
	"mov $0x2, %r11d\n"
	"sysretl\n"
	".code32\n"
	"u32_sysret_code:\n"
	"mov $0x23, %eax\n mov %eax, %ds\n mov %eax, %es\n"
	"mov %cs, %eax\n mov %eax, u32_out+20\n"
	"mov %ss, %eax\n mov %eax, u32_out+24\n"
	"mov $" "0x3c" ", %eax\n int $0x80\n"
	"ud2\n"
	".code64\n");

/* Never entered on the GenuineIntel profile: SYSCALL from compatibility mode is #UD. */
volatile u64 cstar_entered;
RT_ASM_FN(cstar_entry,
	"incq cstar_entered(%rip)\n"
	"ud2\n");

void guest_main(void) {
	/* A 32-bit kernel code segment: P, DPL 0, code execute/read, accessed; G, D (L=0). */
	rt_gdt[9] = 0x00cf9b000000ffffUL;
	rt_hook = hook;

	/* ---- CPL 0 */
	h_count = 0;
	int got = rt_try(k32_run, 0);
	rt_check(got == RT_NONE && (k32_out[0] & 0xffff) == KCODE32 && k32_out[1] == 0x33333333 && k32_out[2] == 0
		&& k32_out[3] == 0x0701,
		"far return to a 32-bit code segment at CPL 0 runs 32-bit code: cs=%x pushad/popad sum=%x inc cx -> ecx=%x daa;aam ax=%x",
		k32_out[0], k32_out[1], k32_out[2], k32_out[3]);
	rt_check(h_count == 1 && h_vector == 6 && h_cs == KCODE32 && h_ss == RT_KDATA && h_cpl_cs == RT_KCODE,
		"#UD in compatibility mode at CPL 0 reaches the 64-bit handler: vector=%ld frame cs=%lx ss=%lx handler cs=%lx",
		h_vector, h_cs, h_ss, h_cpl_cs);
	rt_check(k32_out[4] == 0x5a5a5a5a, "IRETQ from the handler resumes the 32-bit code after UD2: %x", k32_out[4]);
	rt_check(got == RT_NONE && read_cs() == RT_KCODE, "far JMP ptr16:32 returns to 64-bit code: cs=%x", read_cs());

	/* ---- CPL 3 by IRETQ */
	rt_gate_dpl(4, 3);				/* INTO from CPL 3 */
	wrmsr(MSR_CSTAR, (u64)cstar_entry);
	h_count = 0;
	h_seq = 0;
	u64 top = (u64)u32_stack + sizeof u32_stack;
	got = rt_try(u32_run, (void *)top);
	rt_check(got == RT_NONE && (u32_out[0] & 0xffff) == UCODE32 && (u32_out[1] & 0xffff) == UDATA && u32_out[2] == (u32)top,
		"IRETQ to a 32-bit code segment at CPL 3 runs 32-bit code: cs=%x ss=%x esp=%x", u32_out[0], u32_out[1], u32_out[2]);
	/* The hook saw INT3, then INTO's #OF (OF=1 after 0x7fffffff + 1), then SYSCALL's #UD, each resumed by IRETQ. */
	rt_check(rt_sc_int80.cs == UCODE32 && rt_sc_int80.ss == UDATA && rt_sc_int80.cpl_cs == RT_KCODE,
		"INT 0x80 from compatibility mode enters the 64-bit handler: frame cs=%lx ss=%lx handler cs=%lx",
		rt_sc_int80.cs, rt_sc_int80.ss, rt_sc_int80.cpl_cs);
	rt_check(u32_out[3] == 0x80000000 && u32_out[4] == 0xc0ffee,
		"code after INT3, INTO and SYSCALL ran in compatibility mode again: eax=%x marker=%x", u32_out[3], u32_out[4]);
	rt_check(h_seq == 0x030406 && h_cs == UCODE32 && cstar_entered == 0,
		"SYSCALL in compatibility mode is #UD on the GenuineIntel profile (CSTAR not entered): events %lx (#BP, #OF, #UD) cs=%lx",
		h_seq, h_cs);

	/* INT3 and INTO separately, to check each frame. */
	h_count = 0;
	rt_hook = 0;
	got = rt_try(u32_run, (void *)top);
	rt_check(got == 3 && rt_exc.cs == UCODE32 && rt_exc.ss == UDATA && rt_exc.rsp == top
		&& *(volatile u8 *)(rt_exc.rip - 1) == 0xcc,
		"INT3 at CPL 3 in compatibility mode: trap frame cs=%lx ss=%lx rsp=%lx, rip after the INT3",
		rt_exc.cs, rt_exc.ss, rt_exc.rsp);
	rt_hook = hook;

	/* ---- SYSRETL */
	got = rt_try(sysret_run, (void *)top);
	rt_check(got == RT_NONE && (u32_out[5] & 0xffff) == UCODE32 && (u32_out[6] & 0xffff) == UDATA,
		"SYSRETL enters the 32-bit user code segment: cs=%x ss=%x", u32_out[5], u32_out[6]);
	rt_hook = 0;
}
