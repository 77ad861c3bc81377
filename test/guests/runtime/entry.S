/*
 * Test-guest runtime, assembly half: the entry point, one interrupt stub per IDT vector, the SYSCALL entry,
 * rt_try (run a function and come back here if it faults) and the trip to CPL 3.
 * The loader enters _start in 64-bit mode at CPL 0 with interrupts off; everything else is set up in rt.c.
 */
#include "rt-asm.h"

	.section .text.entry, "ax"
	.globl _start
_start:
	cli
	lea	rt_boot_stack_top(%rip), %rsp
	/* Zero .bss ourselves (a loader that honours p_memsz already did; this costs nothing). */
	lea	__bss_start(%rip), %rdi
	lea	__bss_end(%rip), %rcx
1:	cmp	%rcx, %rdi
	jae	2f
	movq	$0, (%rdi)
	add	$8, %rdi
	jmp	1b
2:	xor	%ebp, %ebp
	call	rt_main
3:	hlt
	jmp	3b

	.text
/*
 * Interrupt stubs: 16 bytes each, stub v at rt_isr_stubs + 16 * v. Vectors without a processor-pushed error
 * code push a zero so every frame has the same shape (struct rt_frame in rt.h).
 */
	.align	16
	.globl	rt_isr_stubs
rt_isr_stubs:
	.set	vec, 0
	.rept	256
	.align	16
	.if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	pushq	$vec
	.else
	pushq	$0
	pushq	$vec
	.endif
	jmp	isr_common
	.set	vec, vec + 1
	.endr

isr_common:
	push	%rax
	push	%rcx
	push	%rdx
	push	%rbx
	push	%rbp
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi
	cld
	call	rt_exception
	.globl	rt_frame_return
rt_frame_return:
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rbp
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp
	iretq

/*
 * SYSCALL entry (LSTAR). RFLAGS as masked by SFMASK is captured first, before any instruction can change it.
 * Builds an rt_frame on the syscall stack (vector RT_VEC_SYSCALL, rip = RCX, rflags = R11, rsp = user RSP),
 * calls rt_syscall, and returns with SYSRETQ using the (possibly modified) frame.
 */
	.globl	rt_syscall_entry
rt_syscall_entry:
	mov	%rsp, rt_sc_user_rsp(%rip)
	lea	rt_sc_stack_top(%rip), %rsp
	pushfq
	pop	rt_sc_entry_rflags(%rip)
	pushq	$0			/* ss */
	push	rt_sc_user_rsp(%rip)	/* rsp */
	push	%r11			/* rflags */
	pushq	$0			/* cs */
	push	%rcx			/* rip */
	pushq	$0			/* error code */
	pushq	$RT_VEC_SYSCALL
	push	%rax
	push	%rcx
	push	%rdx
	push	%rbx
	push	%rbp
	push	%rsi
	push	%rdi
	push	%r8
	push	%r9
	push	%r10
	push	%r11
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	mov	%rsp, %rdi
	cld
	call	rt_syscall
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%r11
	pop	%r10
	pop	%r9
	pop	%r8
	pop	%rdi
	pop	%rsi
	pop	%rbp
	pop	%rbx
	pop	%rdx
	pop	%rcx
	pop	%rax
	add	$16, %rsp
	pop	%rcx			/* return RIP */
	add	$8, %rsp
	pop	%r11			/* RFLAGS to restore */
	pop	%rsp			/* user RSP */
	sysretq

/*
 * int rt_try(void (*fn)(void *), void *arg): calls fn(arg) and returns -1; if an exception reaches
 * rt_exception while it runs, rt_exception calls rt_try_abort(code) and rt_try returns code instead.
 * Nests: the previous context is kept on the stack.
 */
	.globl	rt_try
rt_try:
	push	%rbp
	push	%rbx
	push	%r12
	push	%r13
	push	%r14
	push	%r15
	push	rt_try_sp(%rip)
	mov	%rsp, rt_try_sp(%rip)
	mov	%rdi, %rax
	mov	%rsi, %rdi
	call	*%rax
	mov	$-1, %eax
rt_try_out:
	pop	rt_try_sp(%rip)
	pop	%r15
	pop	%r14
	pop	%r13
	pop	%r12
	pop	%rbx
	pop	%rbp
	ret

/* void rt_try_abort(int code): unwind to the innermost rt_try (called at CPL 0 from a handler). */
	.globl	rt_try_abort
rt_try_abort:
	mov	rt_try_sp(%rip), %rsp
	mov	%edi, %eax
	mov	$RT_KDATA, %ecx
	mov	%ecx, %ds
	mov	%ecx, %es
	mov	%ecx, %ss
	jmp	rt_try_out

/* void rt_enter_user(void (*fn)(void *), void *arg, u64 user_rsp): IRETQ to fn at CPL 3. */
	.globl	rt_enter_user
rt_enter_user:
	pushq	$RT_UDATA
	push	%rdx
	pushq	$0x2
	pushq	$RT_UCODE
	push	%rdi
	mov	%rsi, %rdi
	iretq

/* Where a CPL-3 function returns to: leave CPL 3 through the INT 0x80 gate with RT_SYS_EXIT. */
	.globl	rt_user_exit
rt_user_exit:
	mov	$RT_SYS_EXIT, %eax
	int	$RT_VEC_INT80
	ud2

	.bss
	.align	16
	.globl	rt_try_sp, rt_sc_user_rsp, rt_sc_entry_rflags
rt_try_sp:	.quad 0
rt_sc_user_rsp:	.quad 0
rt_sc_entry_rflags:	.quad 0
	.align	4096
	.globl	rt_boot_stack, rt_boot_stack_top
rt_boot_stack:	.skip	32768
rt_boot_stack_top:
	.globl	rt_sc_stack, rt_sc_stack_top
rt_sc_stack:	.skip	8192
rt_sc_stack_top:
