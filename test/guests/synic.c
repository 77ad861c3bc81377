/*
 * The SynIC from inside a guest, the way Linux 6.1's hv_vmbus sets it up (drivers/hv/hv.c hv_synic_enable_regs:
 * SIMP, SIEFP, SINT2 = vector 0xF3 unmasked, SCONTROL) and consumes it (vmbus_on_msg_dpc: read the SINT2 slot,
 * clear its type, write EOM only when MessagePending was set; vmbus_chan_sched: test-and-clear SIEF bits).
 * The test's root (test/support/synic-root.ts) answers HvPostMessage on connection 4 by posting payload[0]
 * messages back to SINT2, and HvSignalEvent on connection 0x2001 flag f by signalling SIEF flag f + 2.
 * Register numbers and layouts: TLFS, include/asm-generic/hyperv-tlfs.h.
 */
#include "hv.h"

#define VMBUS_SINT		2
#define CALLBACK_VECTOR		0xf3


static u8 hc_pg_mem[4096] __attribute__((aligned(4096)));
static u8 simp_mem[4096] __attribute__((aligned(4096)));
static u8 siefp_mem[4096] __attribute__((aligned(4096)));
static struct post_message_input post_in __attribute__((aligned(4096)));
void *hv_hypercall_pg;


static volatile int interrupts;
static int on_interrupt(struct rt_frame *f) {
	if (f->vector != CALLBACK_VECTOR) return 0;
	interrupts++;
	wrmsr(0x80b, 0); /* x2APIC EOI: hint DEPRECATING_AEOI is set, so SINT2 is not auto-EOI */
	return 1;
}

static void wait_interrupts(int n) {
	for (long spin = 0; spin < 10000000 && interrupts < n; spin++) __asm__ volatile("pause");
}

static void wr_sint_bad(void *arg) { (void)arg; wrmsr(HV_X64_MSR_SINT0 + VMBUS_SINT, 0x0f); }

static u64 post(u32 connection, u32 type, u32 size, u8 first) {
	rt_memset(&post_in, 0, sizeof post_in);
	post_in.connection_id = connection;
	post_in.message_type = type;
	post_in.payload_size = size;
	post_in.payload[0] = first;
	return hv_call(HVCALL_POST_MESSAGE, (u64)&post_in, 0);
}

void guest_main(void) {
	u32 a, b, c, d;
	cpuid(0x40000003, 0, &a, &b, &c, &d);
	rt_check((a >> 2) & 1, "CPUID 0x40000003 EAX bit 2 (SynIC MSRs available): eax=%x", a);
	rt_check(((b >> 4) & 3) == 3, "CPUID 0x40000003 EBX bits 4, 5 (PostMessages, SignalEvents): ebx=%x", b);

	wrmsr(HV_X64_MSR_GUEST_OS_ID, LINUX_GUEST_ID);
	wrmsr(HV_X64_MSR_HYPERCALL, (u64)hc_pg_mem | 1);
	hv_hypercall_pg = hc_pg_mem;
	wrmsr(0x1b, rdmsr(0x1b) | 0xc00); /* x2APIC */
	wrmsr(0x80f, 0x1ff);
	rt_hook = on_interrupt;

	rt_check(rdmsr(HV_X64_MSR_SVERSION) == 1, "SVERSION is 1");
	rt_check(rdmsr(HV_X64_MSR_SINT0 + VMBUS_SINT) == 0x10000, "SINT2 resets masked: %lx", rdmsr(HV_X64_MSR_SINT0 + VMBUS_SINT));
	rt_check(rt_try(wr_sint_bad, 0) == 13, "#GP(0) unmasking SINT2 with vector 15");

	/* hv_synic_enable_regs */
	wrmsr(HV_X64_MSR_SIMP, (rdmsr(HV_X64_MSR_SIMP) & 0xfff) | (u64)simp_mem | 1);
	wrmsr(HV_X64_MSR_SIEFP, (rdmsr(HV_X64_MSR_SIEFP) & 0xfff) | (u64)siefp_mem | 1);
	wrmsr(HV_X64_MSR_SINT0 + VMBUS_SINT, CALLBACK_VECTOR);
	wrmsr(HV_X64_MSR_SCONTROL, rdmsr(HV_X64_MSR_SCONTROL) | 1);
	rt_check(rdmsr(HV_X64_MSR_SCONTROL) == 1 && rdmsr(HV_X64_MSR_SIMP) == ((u64)simp_mem | 1), "SCONTROL and SIMP read back");

	/* Ask the root for three messages; they arrive one at a time through the slot protocol. */
	__asm__ volatile("cli");
	u64 r = post(4, 1, 1, 3);
	rt_check(r == 0, "HvPostMessage to connection 4 succeeds: %lx", r);
	struct hv_message *slot = (struct hv_message *)(simp_mem + VMBUS_SINT * 256);
	int in_order = 1, pending_ok = 1, got = 0;
	__asm__ volatile("sti");
	for (int i = 0; i < 3; i++) {
		wait_interrupts(i + 1);
		if (slot->type != 1 || slot->payload_size != 2 || slot->payload[0] != 0xa0 + i || slot->payload[1] != i) in_order = 0;
		else got++;
		u8 pending = slot->flags & 1;
		if (pending != (i < 2)) pending_ok = 0;
		/* vmbus_signal_eom: free the slot, and write EOM only when something waits behind it. */
		slot->type = 0;
		__asm__ volatile("mfence" ::: "memory");
		if (pending) wrmsr(HV_X64_MSR_EOM, 0);
	}
	rt_check(got == 3 && in_order, "three messages from the root, in order, in the SINT2 slot: %d", got);
	rt_check(pending_ok, "MessagePending set while more were queued, clear on the last");
	rt_check(interrupts == 3, "one 0xF3 interrupt per message: %d", interrupts);

	/* HvSignalEvent as vmbus_set_event issues it (fast); the root answers with SIEF flag f + 2. */
	r = hv_call(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, 0x2001 | (5UL << 32), 0);
	rt_check(r == 0, "fast HvSignalEvent on connection 0x2001 flag 5 succeeds: %lx", r);
	wait_interrupts(4);
	volatile u8 *flags = siefp_mem + VMBUS_SINT * 256;
	rt_check(interrupts == 4 && flags[0] == (1 << 7), "the root's event sets SIEF slot 2 flag 7 with one interrupt: %d %x", interrupts, flags[0]);

	/* What Linux's vmbus_post_msg relies on. */
	r = post(9, 1, 4, 0);
	rt_check(r == HV_STATUS_INVALID_CONNECTION_ID, "HvPostMessage to an unknown connection -> INVALID_CONNECTION_ID: %lx", r);
	r = post(4, 1, 241, 0);
	rt_check(r == HV_STATUS_INVALID_PARAMETER, "HvPostMessage with 241 bytes -> INVALID_PARAMETER: %lx", r);
	r = hv_call(HVCALL_SIGNAL_EVENT | HV_HYPERCALL_FAST_BIT, 0x2002, 0);
	rt_check(r == HV_STATUS_INVALID_CONNECTION_ID, "HvSignalEvent to an unknown connection -> INVALID_CONNECTION_ID: %lx", r);
	rt_check(interrupts == 4, "refused calls raise nothing: %d", interrupts);
}
