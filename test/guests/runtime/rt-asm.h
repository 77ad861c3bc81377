/* Constants shared by the runtime's C and assembly halves. */
#ifndef RT_ASM_H
#define RT_ASM_H

/* GDT selectors. STAR[47:32] = RT_KCODE (SYSCALL: CS = KCODE, SS = KCODE + 8);
 * STAR[63:48] = RT_UCODE32 (SYSRET64: CS = UCODE32 + 16 = UCODE, SS = UCODE32 + 8 = UDATA). */
#define RT_KCODE	0x08
#define RT_KDATA	0x10
#define RT_UCODE32	0x18
#define RT_UDATA	0x23
#define RT_UCODE	0x2b
#define RT_TSS		0x30	/* 16-byte descriptor: 0x30 and 0x38 */
#define RT_SEL_NP_DATA	0x40	/* data segment, DPL 0, not present */
#define RT_SEL_RO_DATA	0x48	/* read-only data segment, DPL 0 */
#define RT_SEL_TSS2	0x50	/* a second 64-bit TSS (0x50 and 0x58) for TSS-limit tests */
#define RT_SEL_NP_STACK	0x60	/* writable data, DPL 0, not present (for SS loads) */
#define RT_GDT_LIMIT	0x67

#define RT_VEC_INT80	0x80	/* DPL-3 interrupt gate: system calls from CPL 3 */
#define RT_VEC_SYSCALL	0x100	/* pseudo vector of frames built by the SYSCALL entry */
#define RT_SYS_EXIT	0x3c	/* leave CPL 3 and return from rt_user */

#endif
