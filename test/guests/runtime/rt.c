/*
 * Test-guest runtime, C half: descriptor tables, page tables, exception recording, serial output, exit.
 * Written from the Intel SDM (vol. 3: 3.4.5 segment descriptors, 5.8.8 SYSCALL/SYSRET, 6.14 64-bit IDT and
 * interrupt stack frames, 7.7 the 64-bit TSS, 4.5 4-level paging).
 */
#include "rt.h"

typedef __builtin_va_list va_list;
#define va_start(ap, last) __builtin_va_start(ap, last)
#define va_arg(ap, t) __builtin_va_arg(ap, t)
#define va_end(ap) __builtin_va_end(ap)

volatile struct rt_exc rt_exc;
volatile struct rt_sc rt_sc_int80, rt_sc_syscall;
int (*volatile rt_hook)(struct rt_frame *f);
int rt_failures;
static int checks;
static int handler_depth;

extern u8 rt_isr_stubs[];
extern void rt_syscall_entry(void);
extern void rt_user_exit(void);
extern void rt_enter_user(void (*fn)(void *), void *arg, u64 user_rsp);
extern u64 rt_try_sp;

u64 rt_gdt[13] __attribute__((aligned(16)));
u8 rt_idt[256 * 16] __attribute__((aligned(4096)));
u8 rt_tss[104 * 2] __attribute__((aligned(128)));
static u8 ist_stacks[3][8192] __attribute__((aligned(4096)));
static u8 rsp0_stack[16384] __attribute__((aligned(4096)));
static u8 user_stack[16384] __attribute__((aligned(4096)));

/* ------------------------------------------------------------------ memory helpers */

void *rt_memset(void *d, int c, u64 n) {
	volatile u8 *p = d;
	for (u64 k = 0; k < n; k++) p[k] = (u8)c;
	return d;
}

void *rt_memcpy(void *d, const void *s, u64 n) {
	volatile u8 *p = d;
	const volatile u8 *q = s;
	for (u64 k = 0; k < n; k++) p[k] = q[k];
	return d;
}

/* The compiler may emit calls to these for aggregate copies and initialisers. */
void *memset(void *d, int c, u64 n) { return rt_memset(d, c, n); }
void *memcpy(void *d, const void *s, u64 n) { return rt_memcpy(d, s, n); }

/* ------------------------------------------------------------------ serial and exit */

#define COM1 0x3f8

void rt_putc(char c) {
	/* Poll LSR.THRE (bit 5) before each byte, as a driver for a 16550 must. */
	for (int spin = 0; spin < 100000; spin++)
		if (inb(COM1 + 5) & 0x20) break;
	outb(COM1, (u8)c);
}

void rt_puts(const char *s) {
	while (*s) rt_putc(*s++);
}

static void put_hex(u64 v, int min_digits) {
	char buf[17];
	int n = 0;
	do {
		buf[n++] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v != 0 || n < min_digits);
	while (n > 0) rt_putc(buf[--n]);
}

static void put_dec(s64 v) {
	/* Powers of ten by repeated subtraction: no division instruction needed. */
	static const u64 pow10[] = { 1000000000000000000UL, 100000000000000000UL, 10000000000000000UL,
		1000000000000000UL, 100000000000000UL, 10000000000000UL, 1000000000000UL, 100000000000UL,
		10000000000UL, 1000000000UL, 100000000UL, 10000000UL, 1000000UL, 100000UL, 10000UL, 1000UL,
		100UL, 10UL, 1UL };
	u64 u = (u64)v;
	if (v < 0) { rt_putc('-'); u = (u64)0 - u; }
	int started = 0;
	for (int k = 0; k < 19; k++) {
		int d = 0;
		while (u >= pow10[k]) { u -= pow10[k]; d++; }
		if (d != 0 || started || k == 18) { rt_putc((char)('0' + d)); started = 1; }
	}
}

static void vprint(const char *fmt, va_list ap) {
	for (; *fmt; fmt++) {
		if (*fmt != '%') { rt_putc(*fmt); continue; }
		fmt++;
		int lng = 0;
		if (*fmt == 'l') { lng = 1; fmt++; }
		switch (*fmt) {
		case 'x': put_hex(lng ? va_arg(ap, u64) : va_arg(ap, u32), 1); break;
		case 'd': put_dec(lng ? va_arg(ap, s64) : va_arg(ap, int)); break;
		case 's': rt_puts(va_arg(ap, const char *)); break;
		case 'c': rt_putc((char)va_arg(ap, int)); break;
		case '%': rt_putc('%'); break;
		default: rt_putc('?'); break;
		}
	}
}

void rt_printf(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
}

void rt_check(int ok, const char *fmt, ...) {
	va_list ap;
	checks++;
	if (!ok) rt_failures++;
	rt_puts(ok ? "ok " : "not ok ");
	put_dec(checks);
	rt_puts(" - ");
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	rt_putc('\n');
}

void rt_info(const char *fmt, ...) {
	va_list ap;
	rt_puts("# ");
	va_start(ap, fmt);
	vprint(fmt, ap);
	va_end(ap);
	rt_putc('\n');
}

void rt_exit(int code) {
	/* isa-debug-exit convention: a byte written to port 0xf4 ends the machine. */
	outb(0xf4, (u8)code);
	for (;;) __asm__ volatile("cli; hlt");
}

/* ------------------------------------------------------------------ descriptor tables */

static u64 seg_desc(u32 base, u32 limit, u32 access, u32 flags) {
	return (limit & 0xffffUL) | ((u64)(base & 0xffffff) << 16) | ((u64)(access & 0xff) << 40) |
		((u64)((limit >> 16) & 0xf) << 48) | ((u64)(flags & 0xf) << 52) | ((u64)(base >> 24) << 56);
}

static void tss_desc(int index, u64 base, u32 limit) {
	rt_gdt[index] = seg_desc((u32)base, limit, 0x89, 0);	/* P, DPL 0, type 9: available 64-bit TSS */
	rt_gdt[index + 1] = base >> 32;
}

u64 rt_stub(int vec) {
	return (u64)rt_isr_stubs + (u64)vec * 16;
}

void rt_set_gate(int vec, u64 handler, int ist, int dpl, int type, int present) {
	volatile u32 *g = (volatile u32 *)(rt_idt + vec * 16);
	g[0] = (u32)(handler & 0xffff) | ((u32)RT_KCODE << 16);
	g[1] = (u32)(ist & 7) | ((u32)type << 8) | ((u32)dpl << 13) | ((u32)(present ? 1 : 0) << 15) |
		(u32)(handler & 0xffff0000UL);
	g[2] = (u32)(handler >> 32);
	g[3] = 0;
}

void rt_gate_present(int vec, int present) {
	volatile u32 *g = (volatile u32 *)(rt_idt + vec * 16);
	g[1] = (g[1] & ~0x8000u) | (present ? 0x8000u : 0);
}

void rt_gate_ist(int vec, int ist) {
	volatile u32 *g = (volatile u32 *)(rt_idt + vec * 16);
	g[1] = (g[1] & ~7u) | (u32)(ist & 7);
}

void rt_gate_dpl(int vec, int dpl) {
	volatile u32 *g = (volatile u32 *)(rt_idt + vec * 16);
	g[1] = (g[1] & ~0x6000u) | ((u32)(dpl & 3) << 13);
}

u64 rt_ist_top(int n) {
	return (u64)ist_stacks[n - 1] + sizeof ist_stacks[0];
}

u64 rt_rsp0_top(void) {
	return (u64)rsp0_stack + sizeof rsp0_stack;
}

static void tss_set64(u8 *tss, int off, u64 v) {
	volatile u32 *p = (volatile u32 *)(tss + off);	/* RSPn are only 4-byte aligned */
	p[0] = (u32)v;
	p[1] = (u32)(v >> 32);
}

static void setup_tables(void) {
	rt_gdt[0] = 0;
	rt_gdt[1] = seg_desc(0, 0xfffff, 0x9b, 0xa);	/* 0x08 kernel code: 64-bit (L), G */
	rt_gdt[2] = seg_desc(0, 0xfffff, 0x93, 0xc);	/* 0x10 kernel data */
	rt_gdt[3] = seg_desc(0, 0xfffff, 0xfb, 0xc);	/* 0x18 user code, 32-bit (SYSRET base) */
	rt_gdt[4] = seg_desc(0, 0xfffff, 0xf3, 0xc);	/* 0x20 user data */
	rt_gdt[5] = seg_desc(0, 0xfffff, 0xfb, 0xa);	/* 0x28 user code, 64-bit */
	rt_memset(rt_tss, 0, sizeof rt_tss);
	tss_set64(rt_tss, 4, rt_rsp0_top());
	for (int n = 1; n <= 3; n++) tss_set64(rt_tss, 0x24 + (n - 1) * 8, rt_ist_top(n));
	*(volatile u16 *)(rt_tss + 0x66) = 104;		/* I/O map base beyond the limit: no bitmap */
	tss_desc(6, (u64)rt_tss, 103);			/* 0x30 */
	rt_gdt[8] = seg_desc(0, 0xfffff, 0x13, 0xc);	/* 0x40 data, not present */
	rt_gdt[9] = seg_desc(0, 0xfffff, 0x91, 0xc);	/* 0x48 read-only data */
	tss_desc(10, (u64)rt_tss + 104, 103);		/* 0x50 second TSS */
	rt_gdt[12] = seg_desc(0, 0xfffff, 0x13, 0xc);	/* 0x60 writable data, not present */

	struct { u16 limit; u64 base; } __attribute__((packed)) gdtr = { RT_GDT_LIMIT, (u64)rt_gdt };
	__asm__ volatile("lgdt %0" : : "m"(gdtr));
	/* Reload CS with a far return, then the data segments. */
	__asm__ volatile(
		"pushq %0\n"
		"lea 1f(%%rip), %%rax\n"
		"pushq %%rax\n"
		"lretq\n"
		"1:\n"
		"mov %1, %%eax\n"
		"mov %%eax, %%ds\n"
		"mov %%eax, %%es\n"
		"mov %%eax, %%ss\n"
		"xor %%eax, %%eax\n"
		"mov %%eax, %%fs\n"
		"mov %%eax, %%gs\n"
		: : "i"(RT_KCODE), "i"(RT_KDATA) : "rax", "memory");
	__asm__ volatile("ltr %w0" : : "r"(RT_TSS));

	for (int v = 0; v < 256; v++) rt_set_gate(v, rt_stub(v), 0, 0, 0xe, 1);
	rt_gate_ist(8, 1);		/* #DF always gets a good stack */
	rt_gate_dpl(3, 3);		/* INT3 usable from CPL 3 */
	rt_gate_dpl(RT_VEC_INT80, 3);	/* system calls */
	struct { u16 limit; u64 base; } __attribute__((packed)) idtr = { 256 * 16 - 1, (u64)rt_idt };
	__asm__ volatile("lidt %0" : : "m"(idtr));
}

/* ------------------------------------------------------------------ paging */

/* Physical pool for page tables and test frames: 16 MiB .. 40 MiB, identity-mapped (40 .. 48 MiB is left
 * for large-page frames that guests address directly). */
#define POOL_START 0x1000000UL
#define POOL_END   0x2800000UL
static u64 pool_next = POOL_START;
static u64 pml4;

u64 rt_alloc_page(void) {
	if (pool_next >= POOL_END) { rt_puts("not ok - page pool exhausted\n"); rt_exit(1); }
	u64 p = pool_next;
	pool_next += 4096;
	volatile u64 *q = (volatile u64 *)p;
	for (int k = 0; k < 512; k++) q[k] = 0;
	return p;
}

volatile u64 *rt_entry(u64 va, int level) {
	volatile u64 *table = (volatile u64 *)pml4;
	for (int l = 4; ; l--) {
		int idx = (int)((va >> (12 + 9 * (l - 1))) & 0x1ff);
		volatile u64 *e = &table[idx];
		if (l == level) return e;
		if (!(*e & PTE_P) || (*e & PTE_PS)) *e = rt_alloc_page() | PTE_P | PTE_W | PTE_U;
		table = (volatile u64 *)(*e & PTE_ADDR);
	}
}

void rt_map(u64 va, u64 pa, u64 flags, int level) {
	volatile u64 *e = rt_entry(va, level);
	*e = pa | flags | (level > 1 ? PTE_PS : 0);
	invlpg(va);
}

static void setup_paging(void) {
	pml4 = rt_alloc_page();
	/* Identity map of the first GiB with 2 MiB pages, user-accessible so CPL-3 tests can run from the image. */
	for (u64 a = 0; a < 0x40000000UL; a += 0x200000UL) {
		volatile u64 *e = rt_entry(a, 2);
		*e = a | PTE_P | PTE_W | PTE_U | PTE_PS;
	}
	wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE | EFER_SCE);
	write_cr3(pml4);
	write_cr0(read_cr0() | CR0_WP);
}

/* ------------------------------------------------------------------ exceptions and system calls */

void rt_syscall(struct rt_frame *f);

void rt_exception(struct rt_frame *f) {
	if (f->vector == RT_VEC_INT80) { rt_syscall(f); return; }
	handler_depth++;
	rt_exc.vector = f->vector;
	rt_exc.err = f->err;
	rt_exc.rip = f->rip;
	rt_exc.cs = f->cs;
	rt_exc.rflags = f->rflags;
	rt_exc.rsp = f->rsp;
	rt_exc.ss = f->ss;
	rt_exc.cr2 = read_cr2();
	rt_exc.frame = (u64)&f->rip;
	rt_exc.top = (u64)&f->ss + 8;
	rt_exc.count++;
	if (handler_depth == 1 && rt_hook && rt_hook(f)) { handler_depth--; return; }
	if (rt_try_sp != 0) { handler_depth = 0; rt_try_abort((int)f->vector); }
	rt_printf("not ok - unexpected exception %ld err=%lx rip=%lx cs=%lx rsp=%lx cr2=%lx\n",
		f->vector, f->err, f->rip, f->cs, f->rsp, rt_exc.cr2);
	rt_exit(3);
}

void rt_syscall(struct rt_frame *f) {
	volatile struct rt_sc *sc = f->vector == RT_VEC_SYSCALL ? &rt_sc_syscall : &rt_sc_int80;
	sc->count++;
	sc->vector = f->vector;
	sc->rip = f->rip;
	sc->rflags_saved = f->rflags;
	sc->rflags_entry = f->vector == RT_VEC_SYSCALL ? rt_sc_entry_rflags : read_rflags();
	sc->rsp = f->rsp;
	sc->frame = (u64)&f->rip;
	sc->top = (u64)&f->ss + 8;
	sc->rdi = f->rdi;
	sc->cs = f->cs;
	sc->ss = f->ss;
	sc->cpl_cs = read_cs();
	sc->cpl_ss = read_ss();
	if (f->rax == RT_SYS_EXIT) { handler_depth = 0; rt_try_abort(RT_NONE); }
	f->rax = f->rdi + 1;	/* echo, so callers can see the return path */
}

struct ucall { void (*fn)(void *); void *arg; u64 sp; };

static void user_thunk(void *p) {
	struct ucall *u = p;
	rt_enter_user(u->fn, u->arg, u->sp);
}

int rt_user(void (*fn)(void *), void *arg) {
	u64 *sp = (u64 *)(user_stack + sizeof user_stack);
	*--sp = (u64)rt_user_exit;	/* fn's return address; RSP is 8 mod 16 at entry as the ABI wants */
	struct ucall u = { fn, arg, (u64)sp };
	return rt_try(user_thunk, &u);
}

static void setup_syscall(void) {
	wrmsr(MSR_STAR, ((u64)RT_UCODE32 << 48) | ((u64)RT_KCODE << 32));
	wrmsr(MSR_LSTAR, (u64)rt_syscall_entry);
	wrmsr(MSR_SFMASK, RFLAGS_TF | RFLAGS_IF | RFLAGS_DF | RFLAGS_AC);
}

void rt_main(void) {
	setup_tables();
	setup_paging();
	setup_syscall();
	rt_puts("# hypatia test guest\n");
	guest_main();
	rt_printf("# done: %d checks, %d failed\n", checks, rt_failures);
	rt_exit(rt_failures ? 1 : 0);
}

void rt_expect(int got, int vec, u64 err, u64 rip, const char *what) {
	int ok = got == vec && (err == RT_ANY || rt_exc.err == err) && (rip == 0 || rt_exc.rip == rip);
	if (got < 0) {
		rt_check(0, "%s: no exception (want vector %d)", what, vec);
		return;
	}
	if (ok) {
		rt_check(1, "%s: vector=%d err=%lx rip=%lx", what, got, rt_exc.err, rt_exc.rip);
		return;
	}
	rt_check(0, "%s: vector=%d err=%lx rip=%lx cr2=%lx, want vector=%d err=%lx rip=%lx", what, got, rt_exc.err,
		rt_exc.rip, rt_exc.cr2, vec, err, rip);
}
