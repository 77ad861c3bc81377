/*
 * Test-guest runtime: a freestanding 64-bit kernel in miniature. It owns the GDT (kernel and user segments,
 * a 64-bit TSS with RSP0 and IST1..IST3), the IDT (every vector goes to rt_exception, which records what the
 * processor pushed), 4-level page tables it builds itself, the COM1 UART and the debug-exit port.
 *
 * Checks print TAP-like lines over COM1: "ok N - what: details" or "not ok N - what: details".
 */
#ifndef RT_H
#define RT_H

#include "rt-asm.h"

typedef unsigned long u64;
typedef long s64;
typedef unsigned int u32;
typedef unsigned short u16;
typedef unsigned char u8;

/* What the interrupt stubs leave on the stack (lowest address first). */
struct rt_frame {
	u64 r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
	u64 vector, err;
	u64 rip, cs, rflags, rsp, ss;
};

/* The last exception rt_exception saw. */
struct rt_exc {
	u64 vector, err, rip, cs, rflags, rsp, ss, cr2;
	u64 frame;	/* address of the processor-pushed frame (its RIP slot) */
	u64 top;	/* the stack top the processor pushed from: address just above the SS slot */
	u64 count;	/* exceptions seen since start */
};
extern volatile struct rt_exc rt_exc;

/* Return value of rt_try/rt_user when fn completed without an exception. */
#define RT_NONE (-1)

/* Optional hook: rt_exception calls it first; returning nonzero resumes the interrupted code with IRETQ. */
extern int (*volatile rt_hook)(struct rt_frame *f);

/* Output and exit. */
void rt_putc(char c);
void rt_puts(const char *s);
void rt_printf(const char *fmt, ...);
void rt_check(int ok, const char *fmt, ...);
void rt_info(const char *fmt, ...);
__attribute__((noreturn)) void rt_exit(int code);
extern int rt_failures;

/* The test body each guest provides. */
void guest_main(void);

/* Run fn(arg) at CPL 0; returns RT_NONE, or the vector of an exception it raised (details in rt_exc). */
int rt_try(void (*fn)(void *), void *arg);
/* Run fn(arg) at CPL 3 on the user stack; returns RT_NONE when fn returns, or the vector of an exception. */
int rt_user(void (*fn)(void *), void *arg);
__attribute__((noreturn)) void rt_try_abort(int code);

/* System-call bookkeeping: INT 0x80 and SYSCALL both land in rt_syscall, which records the last call of
 * each kind (cs/ss: what the frame holds; cpl_cs/cpl_ss: the handler's own selectors). */
struct rt_sc {
	u64 count, vector, rip, cs, ss, rflags_saved, rflags_entry, rsp, frame, top, rdi, cpl_cs, cpl_ss;
};
extern volatile struct rt_sc rt_sc_int80, rt_sc_syscall;
extern u64 rt_sc_entry_rflags;

/* Descriptor tables. */
extern u64 rt_gdt[];
extern u8 rt_idt[];
extern u8 rt_tss[];
void rt_set_gate(int vec, u64 handler, int ist, int dpl, int type, int present);
u64 rt_stub(int vec);
void rt_gate_present(int vec, int present);
void rt_gate_ist(int vec, int ist);
void rt_gate_dpl(int vec, int dpl);
u64 rt_ist_top(int n);	/* top of IST stack n (1..3) */
u64 rt_rsp0_top(void);

/* Paging. Page-table pages come from a pool of identity-mapped physical memory. */
#define PTE_P	0x1UL
#define PTE_W	0x2UL
#define PTE_U	0x4UL
#define PTE_A	0x20UL
#define PTE_D	0x40UL
#define PTE_PS	0x80UL
#define PTE_NX	(1UL << 63)
#define PTE_ADDR 0x000ffffffffff000UL
u64 rt_alloc_page(void);	/* a zeroed 4 KiB page, identity-mapped */
/* The entry that maps va at `level` (1: 4 KiB PTE, 2: PDE, 3: PDPTE), creating missing tables above it. */
volatile u64 *rt_entry(u64 va, int level);
void rt_map(u64 va, u64 pa, u64 flags, int level);	/* level 1: 4 KiB, 2: 2 MiB (PS), 3: 1 GiB (PS) */
/* A free virtual range for tests, far from the identity map: 4 GiB and up, 1 GiB-aligned slots. */
#define RT_TEST_VA(n) (0x100000000UL + (u64)(n) * 0x40000000UL)

/* Memory and register helpers. */
void *rt_memset(void *d, int c, u64 n);
void *rt_memcpy(void *d, const void *s, u64 n);

static inline u64 read_cr0(void) { u64 v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline u64 read_cr2(void) { u64 v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline u64 read_cr3(void) { u64 v; __asm__ volatile("mov %%cr3, %0" : "=r"(v)); return v; }
static inline u64 read_cr4(void) { u64 v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(u64 v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr2(u64 v) { __asm__ volatile("mov %0, %%cr2" : : "r"(v) : "memory"); }
static inline void write_cr3(u64 v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(u64 v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(u64 va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline u64 rdmsr(u32 msr) {
	u32 lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((u64)hi << 32) | lo;
}
static inline void wrmsr(u32 msr, u64 v) {
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}
static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port) { u8 v; __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port)); return v; }
static inline u64 read_rflags(void) { u64 v; __asm__ volatile("pushfq; pop %0" : "=r"(v)); return v; }
static inline u16 read_cs(void) { u16 v; __asm__ volatile("mov %%cs, %0" : "=r"(v)); return v; }
static inline u16 read_ss(void) { u16 v; __asm__ volatile("mov %%ss, %0" : "=r"(v)); return v; }
static inline void cpuid(u32 leaf, u32 sub, u32 *a, u32 *b, u32 *c, u32 *d) {
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline u64 peek64(u64 va) { return *(volatile u64 *)va; }
static inline void poke64(u64 va, u64 v) { *(volatile u64 *)va = v; }
static inline u8 peek8(u64 va) { return *(volatile u8 *)va; }
static inline void poke8(u64 va, u8 v) { *(volatile u8 *)va = v; }

#define MSR_EFER	0xc0000080
#define MSR_STAR	0xc0000081
#define MSR_LSTAR	0xc0000082
#define MSR_SFMASK	0xc0000084
#define EFER_SCE	(1UL << 0)
#define EFER_NXE	(1UL << 11)
#define CR0_WP		(1UL << 16)

#define RFLAGS_TF	(1UL << 8)
#define RFLAGS_IF	(1UL << 9)
#define RFLAGS_DF	(1UL << 10)
#define RFLAGS_AC	(1UL << 18)

/*
 * Check that rt_try/rt_user returned exception `vec` with error code `err` (RT_ANY: not checked) raised at
 * `rip` (0: not checked); prints one check line named `what` with what was observed.
 */
#define RT_ANY (~0UL)
void rt_expect(int got, int vec, u64 err, u64 rip, const char *what);
/* Declare `void name(void *)` and define it as the assembly `body` is the assembly `body` (it must end with ret). */
#define RT_ASM_FN(name, body) \
	void name(void *); \
	__asm__(".text\n.p2align 4\n" #name ":\n" body "\n")

#endif
