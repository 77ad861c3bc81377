/*
 * CPUID as the guest sees it. The guest prints every leaf it reads ("cpuid LEAF SUB EAX EBX ECX EDX", hex);
 * the host-side test compares them with the CPUID table the hypervisor configured for the partition.
 */
#include "rt.h"

static void show(u32 leaf, u32 sub) {
	u32 a, b, c, d;
	cpuid(leaf, sub, &a, &b, &c, &d);
	rt_printf("cpuid %x %x %x %x %x %x\n", leaf, sub, a, b, c, d);
}

static volatile u32 user_regs[4];
static volatile u32 user_leaf;
RT_ASM_FN(u_cpuid,
	"push %rbx\n mov user_leaf(%rip), %eax\n xor %ecx, %ecx\n cpuid\n"
	"mov %eax, user_regs(%rip)\n mov %ebx, user_regs+4(%rip)\n mov %ecx, user_regs+8(%rip)\n"
	"mov %edx, user_regs+12(%rip)\n pop %rbx\n ret");

static u32 min(u32 a, u32 b) { return a < b ? a : b; }

void guest_main(void) {
	u32 a, b, c, d;
	cpuid(0, 0, &a, &b, &c, &d);
	u32 max_basic = a;
	for (u32 leaf = 0; leaf <= min(max_basic, 0x1f); leaf++) {
		u32 subs = 1;
		if (leaf == 4 || leaf == 0xb || leaf == 0xd || leaf == 0x1f) subs = 4;
		if (leaf == 7) { cpuid(7, 0, &a, &b, &c, &d); subs = min(a, 3) + 1; }
		for (u32 s = 0; s < subs; s++) show(leaf, s);
	}
	cpuid(0x40000000, 0, &a, &b, &c, &d);
	if (a >= 0x40000000 && a <= 0x400000ff)
		for (u32 leaf = 0x40000000; leaf <= min(a, 0x4000000f); leaf++) show(leaf, 0);
	cpuid(0x80000000, 0, &a, &b, &c, &d);
	u32 max_ext = a;
	if (max_ext >= 0x80000000)
		for (u32 leaf = 0x80000000; leaf <= min(max_ext, 0x80000021); leaf++) show(leaf, 0);
	rt_printf("cpuid-end\n");

	/* Initial APIC id of the boot processor. */
	cpuid(1, 0, &a, &b, &c, &d);
	rt_check((b >> 24) == 0, "CPUID.1:EBX[31:24] (initial APIC id) of VP 0 is 0: %x", b >> 24);
	/* CPUID is not privileged: CPL 3 sees the same values. */
	u32 k0[4];
	cpuid(1, 0, &k0[0], &k0[1], &k0[2], &k0[3]);
	user_leaf = 1;
	int r = rt_user(u_cpuid, 0);
	rt_check(r == RT_NONE && user_regs[0] == k0[0] && user_regs[1] == k0[1] && user_regs[2] == k0[2] && user_regs[3] == k0[3],
		"CPUID at CPL 3 returns what CPL 0 sees for leaf 1: %x %x %x %x", user_regs[0], user_regs[1], user_regs[2], user_regs[3]);
}
