/*
 * Self-modifying code as the guest sees it: x86 keeps instruction fetch coherent with stores to the same
 * physical memory (Intel SDM vol. 3, 11.6 "Self-Modifying Code"; a jump or call between the store and the
 * execution is all software has to do for stores through another linear address, 8.1.3).
 */
#include "rt.h"

int smc_imm(void);
int smc_next(void);
int smc_far(int v);
int smc_loop(void);
__asm__(".text\n.p2align 4\n"
	"smc_imm: mov $1, %eax\n ret\n"
	/* Patch the immediate of the very next instruction, in the same decoded block. */
	"smc_next: incb 1f+1(%rip)\n 1: mov $0, %eax\n ret\n"
	/* Patch an instruction a few instructions further on in the same block. */
	"smc_far: mov %dil, 2f+1(%rip)\n nop\n add $0, %ecx\n xor %edx, %edx\n nop\n 2: mov $0, %eax\n ret\n"
	/* Patch an instruction that already ran, then loop back to it. */
	"smc_loop: movl $0, 3f+1(%rip)\n xor %ecx, %ecx\n mov $4, %edx\n"
	"3: mov $0, %eax\n add %eax, %ecx\n incl 3b+1(%rip)\n dec %edx\n jnz 3b\n mov %ecx, %eax\n ret\n");

static u8 code_a[4096] __attribute__((aligned(4096)));
static u8 code_b[8192] __attribute__((aligned(4096)));

typedef int (*fn0)(void);

static void emit_mov_ret(volatile u8 *p, u32 imm) {
	p[0] = 0xb8;
	p[1] = (u8)imm; p[2] = (u8)(imm >> 8); p[3] = (u8)(imm >> 16); p[4] = (u8)(imm >> 24);
	p[5] = 0xc3;
}

static void rep_movsb(void *d, const void *s, u64 n) {
	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
}

static void rep_stosb(void *d, u8 v, u64 n) {
	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(v) : "memory");
}

void guest_main(void) {
	/* 1. Patch an immediate in .text, call again; repeatedly. */
	int ok = 1, got = 0, want = 0;
	got = smc_imm();
	ok = got == 1;
	for (u32 k = 1; k <= 5 && ok; k++) {
		*(volatile u32 *)((u64)smc_imm + 1) = k * 3;
		got = smc_imm();
		want = (int)(k * 3);
		ok = got == want;
	}
	rt_check(ok, "patched immediate is executed on the next call (5 rounds): got=%d want=%d", got, want);

	/* 2. The very next instruction in the same block. */
	int a = smc_next(), b = smc_next(), c = smc_next();
	rt_check(a == 1 && b == 2 && c == 3, "store to the next instruction's immediate takes effect: %d %d %d", a, b, c);
	a = smc_far(0x21); b = smc_far(0x42); c = smc_far(0x7f);
	rt_check(a == 0x21 && b == 0x42 && c == 0x7f, "store to an instruction later in the same block takes effect: %x %x %x", a, b, c);
	a = smc_loop();
	rt_check(a == 0 + 1 + 2 + 3, "loop that patches an instruction it already executed: sum=%d (want 6)", a);

	/* 3. A second virtual alias of the same physical page. */
	u64 alias = RT_TEST_VA(0);
	rt_map(alias, (u64)code_a, PTE_P | PTE_W, 1);
	emit_mov_ret(code_a, 0x11);
	a = ((fn0)code_a)();
	*(volatile u32 *)(alias + 1) = 0x22;	/* write through the alias */
	b = ((fn0)code_a)();			/* execute through the original */
	*(volatile u32 *)((u64)code_a + 1) = 0x33;
	c = ((fn0)alias)();			/* and the other way round */
	*(volatile u32 *)(alias + 1) = 0x44;
	int d = ((fn0)alias)();
	rt_check(a == 0x11 && b == 0x22 && c == 0x33 && d == 0x44,
		"code patched through another virtual alias of its physical page: %x %x %x %x", a, b, c, d);

	/* 4. Code overwritten by string instructions. */
	emit_mov_ret(code_a + 0x100, 0x55);
	a = ((fn0)(code_a + 0x100))();
	u8 repl[6];
	emit_mov_ret(repl, 0x66);
	rep_movsb(code_a + 0x100, repl, 6);
	b = ((fn0)(code_a + 0x100))();
	rep_stosb(code_a + 0x101, 0x77, 4);
	c = ((fn0)(code_a + 0x100))();
	rt_check(a == 0x55 && b == 0x66 && c == 0x77777777, "code overwritten by REP MOVSB / REP STOSB: %x %x %x", a, b, c);

	/* 5. An instruction that straddles two pages, patched in its second page. */
	u8 *straddle = code_b + 4096 - 3;	/* B8 and two immediate bytes in page 0, two bytes + RET in page 1 */
	emit_mov_ret(straddle, 0x12345678);
	a = ((fn0)straddle)();
	code_b[4096 + 1] = 0xab;		/* highest immediate byte, second page */
	b = ((fn0)straddle)();
	u64 alias2 = RT_TEST_VA(1);
	rt_map(alias2, (u64)code_b + 4096, PTE_P | PTE_W, 1);
	poke8(alias2 + 0, 0xcd);		/* third immediate byte, through an alias of the second page */
	c = ((fn0)straddle)();
	rt_check(a == 0x12345678 && (u32)b == 0xab345678u && (u32)c == 0xabcd5678u,
		"page-straddling instruction patched in its second page (direct and via alias): %x %x %x", a, b, c);

	/* 6. A page that held code is reused for new code after its old blocks ran. */
	for (u32 k = 0; k < 64; k++) emit_mov_ret(code_a + 0x200 + k * 8, k);
	ok = 1;
	for (u32 k = 0; k < 64; k++) ok &= ((fn0)(code_a + 0x200 + k * 8))() == (int)k;
	for (u32 k = 0; k < 64; k++) emit_mov_ret(code_a + 0x200 + k * 8, 1000 + k);
	for (u32 k = 0; k < 64; k++) ok &= ((fn0)(code_a + 0x200 + k * 8))() == (int)(1000 + k);
	rt_check(ok, "64 small functions rewritten in place all return their new values");
}
