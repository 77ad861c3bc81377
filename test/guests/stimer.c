/*
 * The synthetic timers (STIMER0-3) from inside a guest, programmed the way Linux 6.1's hyperv_timer.c does
 * (CONFIG = enable | auto-enable | direct mode at vector 0xED, or message mode on SINT2; COUNT = reference time
 * now + delta) and in the other modes the TLFS describes. Times are reference time (TIME_REF_COUNT, 100 ns);
 * the test runs with --clock virtual, so a halted VP reaches each expiry exactly and the checks can be exact.
 * Register numbers and layouts: TLFS "Synthetic Timers", include/asm-generic/hyperv-tlfs.h.
 */
#include "hv.h"

#define VMBUS_SINT		2
#define SINT_VECTOR		0xf3
#define SINT3_VECTOR		0xf4
#define STIMER0_VECTOR		0xed	/* HYPERV_STIMER0_VECTOR */
/* The handler reads the time a few dozen instructions after the interrupt: under 2 us of virtual time. */
#define HANDLER_SLACK		20

#define CONFIG(n)	(HV_X64_MSR_STIMER0_CONFIG + 2 * (n))
#define COUNT(n)	(HV_X64_MSR_STIMER0_COUNT + 2 * (n))

static u8 simp_mem[4096] __attribute__((aligned(4096)));
static u8 siefp_mem[4096] __attribute__((aligned(4096)));
void *hv_hypercall_pg;

static volatile int direct_irqs, sint_irqs, sint3_irqs;
static volatile u64 direct_at[8];

static u64 now(void) { return rdmsr(HV_X64_MSR_TIME_REF_COUNT); }

static int on_interrupt(struct rt_frame *f) {
	if (f->vector == STIMER0_VECTOR) {
		u64 t = now();
		if (direct_irqs < 8) direct_at[direct_irqs] = t;
		direct_irqs++;
	} else if (f->vector == SINT_VECTOR) {
		sint_irqs++;
	} else if (f->vector == SINT3_VECTOR) {
		sint3_irqs++;
	} else {
		return 0;
	}
	wrmsr(0x80b, 0); /* x2APIC EOI */
	return 1;
}

/* Halt until *counter reaches n (each wake-up is an interrupt). */
static void wait_for(volatile int *counter, int n) {
	while (*counter < n) __asm__ volatile("sti; hlt; cli" ::: "memory");
	__asm__ volatile("sti");
}

/* Run (not halt) until reference time `t`. */
static void spin_until(u64 t) {
	while (now() < t) __asm__ volatile("pause");
}

static struct hv_message *slot(int sint) { return (struct hv_message *)(simp_mem + sint * 256); }
static struct hv_timer_message_payload *timer_msg(int sint) { return (struct hv_timer_message_payload *)slot(sint)->payload; }

/* vmbus_signal_eom: free the slot, and write EOM only when something waits behind it. */
static void consume(int sint) {
	u8 pending = slot(sint)->flags & 1;
	slot(sint)->type = 0;
	__asm__ volatile("mfence" ::: "memory");
	if (pending) wrmsr(HV_X64_MSR_EOM, 0);
}

static u64 gp_msr, gp_value;
static void wr_gp(void *arg) { (void)arg; wrmsr((u32)gp_msr, gp_value); }
static void rd_gp(void *arg) { (void)arg; (void)rdmsr((u32)gp_msr); }
static int wr_faults(u32 msr, u64 v) { gp_msr = msr; gp_value = v; return rt_try(wr_gp, 0) == 13; }

void guest_main(void) {
	u32 a, b, c, d;
	cpuid(0x40000003, 0, &a, &b, &c, &d);
	rt_check((a >> 3) & 1, "CPUID 0x40000003 EAX bit 3 (synthetic timers available): eax=%x", a);
	rt_check((d >> 19) & 1, "CPUID 0x40000003 EDX bit 19 (direct-mode timers available): edx=%x", d);

	wrmsr(0x1b, rdmsr(0x1b) | 0xc00); /* x2APIC */
	wrmsr(0x80f, 0x1ff);
	rt_hook = on_interrupt;
	/* hv_synic_enable_regs */
	wrmsr(HV_X64_MSR_SIMP, (u64)simp_mem | 1);
	wrmsr(HV_X64_MSR_SIEFP, (u64)siefp_mem | 1);
	wrmsr(HV_X64_MSR_SINT0 + VMBUS_SINT, SINT_VECTOR);
	wrmsr(HV_X64_MSR_SCONTROL, 1);

	int zero = 1;
	for (int n = 0; n < 4; n++) if (rdmsr(CONFIG(n)) != 0 || rdmsr(COUNT(n)) != 0) zero = 0;
	rt_check(zero, "STIMER0-3 CONFIG and COUNT reset to 0");

	rt_check(wr_faults(CONFIG(0), 1UL << 13), "#GP(0) writing CONFIG bit 13 (reserved)");
	rt_check(wr_faults(CONFIG(0), 1UL << 20), "#GP(0) writing CONFIG bit 20 (reserved)");
	rt_check(wr_faults(CONFIG(0), 1UL << 40), "#GP(0) writing CONFIG bit 40 (reserved)");
	rt_check(wr_faults(CONFIG(1), HV_STIMER_DIRECT | HV_STIMER_VECTOR(15) | HV_STIMER_ENABLE), "#GP(0) direct mode with vector 15");
	gp_msr = 0x400000b8;
	rt_check(rt_try(rd_gp, 0) == 13, "#GP(0) reading 0x400000B8 (no fifth timer)");
	rt_check(rdmsr(CONFIG(0)) == 0 && rdmsr(CONFIG(1)) == 0, "refused writes change nothing");

	wrmsr(CONFIG(2), HV_STIMER_ENABLE | HV_STIMER_SINT(0));
	rt_check(rdmsr(CONFIG(2)) == 0, "a message-mode timer enabled with SINTx 0 reads back disabled: %lx", rdmsr(CONFIG(2)));
	wrmsr(CONFIG(2), 0);

	/* Linux's clockevent: direct mode, auto-enable, one-shot COUNT = now + delta; the VP halts meanwhile. */
	wrmsr(CONFIG(0), HV_STIMER_ENABLE | HV_STIMER_AUTOENABLE | HV_STIMER_DIRECT | HV_STIMER_VECTOR(STIMER0_VECTOR));
	u64 run0 = rdmsr(HV_X64_MSR_VP_RUNTIME);
	u64 due = now() + 10000;
	wrmsr(COUNT(0), due);
	wait_for(&direct_irqs, 1);
	u64 ran = rdmsr(HV_X64_MSR_VP_RUNTIME) - run0;
	rt_check(direct_at[0] >= due && direct_at[0] <= due + HANDLER_SLACK,
		"direct one-shot, vector 0xED arrives at COUNT (1 ms later): due %ld, handler at %ld", due, direct_at[0]);
	rt_check(ran < 1000, "the VP halted through the wait: VP runtime grew %ld of 10000", ran);
	rt_check((rdmsr(CONFIG(0)) & HV_STIMER_ENABLE) == 0 && rdmsr(COUNT(0)) == due,
		"a fired one-shot timer clears enable and keeps COUNT: config %lx", rdmsr(CONFIG(0)));

	/* A COUNT already past fires at the next instruction boundary. */
	wrmsr(COUNT(0), now() - 100);
	int at_once = direct_irqs;
	rt_check(at_once == 2, "a one-shot COUNT already past fires right after the WRMSR: %d", at_once);

	/* COUNT = 0 disables (Linux's hv_ce_shutdown); auto-enable set enable on the non-zero write before it. */
	wrmsr(COUNT(0), now() + 1000);
	u64 cfg_armed = rdmsr(CONFIG(0));
	wrmsr(COUNT(0), 0);
	u64 cfg_off = rdmsr(CONFIG(0));
	spin_until(now() + 3000);
	rt_check((cfg_armed & 1) == 1 && (cfg_off & 1) == 0 && direct_irqs == 2,
		"auto-enable sets enable on a COUNT write, COUNT 0 clears it and nothing fires: %lx %lx %d", cfg_armed, cfg_off, direct_irqs);

	/* Direct periodic: COUNT is the period; expiries are exactly one period apart. */
	wrmsr(CONFIG(0), 0);
	wrmsr(COUNT(0), 5000);
	u64 start = now();
	wrmsr(CONFIG(0), HV_STIMER_ENABLE | HV_STIMER_PERIODIC | HV_STIMER_DIRECT | HV_STIMER_VECTOR(STIMER0_VECTOR));
	wait_for(&direct_irqs, 7);
	wrmsr(CONFIG(0), 0);
	int spaced = 1;
	for (int i = 3; i < 7; i++) if (direct_at[i] - direct_at[i - 1] != 5000) spaced = 0;
	rt_check(spaced && direct_at[2] >= start + 5000 && direct_at[2] <= start + 5000 + HANDLER_SLACK + 10,
		"direct periodic, five expiries 5000 apart, the first one period after enable: %ld %ld %ld %ld %ld (start %ld)",
		direct_at[2], direct_at[3], direct_at[4], direct_at[5], direct_at[6], start);
	spin_until(now() + 12000);
	rt_check(direct_irqs == 7, "CONFIG 0 stops a periodic timer: %d", direct_irqs);

	/* Message mode (Linux without direct mode): HVMSG_TIMER_EXPIRED in SINT2's slot, delivered on time. */
	due = now() + 10000;
	wrmsr(CONFIG(1), HV_STIMER_AUTOENABLE | HV_STIMER_SINT(VMBUS_SINT));
	wrmsr(COUNT(1), due);
	wait_for(&sint_irqs, 1);
	struct hv_message *m = slot(VMBUS_SINT);
	struct hv_timer_message_payload *p = timer_msg(VMBUS_SINT);
	rt_check(m->type == HVMSG_TIMER_EXPIRED && m->payload_size == 24 && p->timer_index == 1 && p->reserved == 0,
		"message one-shot, HVMSG_TIMER_EXPIRED, 24 bytes, timer 1: type %x size %d index %d", m->type, m->payload_size, p->timer_index);
	rt_check(p->expiration_time == due && p->delivery_time == due,
		"message one-shot, expiration and delivery times are COUNT: due %ld exp %ld del %ld", due, p->expiration_time, p->delivery_time);
	rt_check((rdmsr(CONFIG(1)) & 1) == 0, "the message-mode one-shot disabled itself");
	consume(VMBUS_SINT);

	/* Message periodic: every period a message, consumed before the next. */
	start = now();
	wrmsr(CONFIG(1), HV_STIMER_PERIODIC | HV_STIMER_SINT(VMBUS_SINT));
	wrmsr(COUNT(1), 3000);
	wrmsr(CONFIG(1), HV_STIMER_ENABLE | HV_STIMER_PERIODIC | HV_STIMER_SINT(VMBUS_SINT));
	u64 exp[3], del[3];
	for (int i = 0; i < 3; i++) {
		wait_for(&sint_irqs, 2 + i);
		exp[i] = p->expiration_time;
		del[i] = p->delivery_time;
		consume(VMBUS_SINT);
	}
	wrmsr(CONFIG(1), 0);
	rt_check(exp[0] >= start + 3000 && exp[0] <= start + 3010 && exp[1] == exp[0] + 3000 && exp[2] == exp[1] + 3000
		&& del[0] == exp[0] && del[1] == exp[1] && del[2] == exp[2],
		"message periodic, expirations one period apart, each delivered on time: %ld/%ld %ld/%ld %ld/%ld", exp[0], del[0], exp[1], del[1], exp[2], del[2]);

	/* A busy slot, timer 3's expiry waits behind timer 2's unconsumed message until the guest's EOM. */
	u64 due2 = now() + 2000;
	wrmsr(CONFIG(2), HV_STIMER_AUTOENABLE | HV_STIMER_SINT(VMBUS_SINT));
	wrmsr(COUNT(2), due2);
	wait_for(&sint_irqs, 5);
	u64 due3 = now() + 2000;
	wrmsr(CONFIG(3), HV_STIMER_AUTOENABLE | HV_STIMER_SINT(VMBUS_SINT));
	wrmsr(COUNT(3), due3);
	spin_until(due3 + 5000);
	rt_check(m->type == HVMSG_TIMER_EXPIRED && p->timer_index == 2 && p->expiration_time == due2 && (m->flags & 1) == 1 && sint_irqs == 5,
		"busy slot, timer 2's message stays, MessagePending is set, no interrupt: index %d flags %x irqs %d", p->timer_index, m->flags, sint_irqs);
	rt_check((rdmsr(CONFIG(3)) & 1) == 1, "the waiting one-shot is still enabled");
	m->type = 0;
	__asm__ volatile("mfence" ::: "memory");
	u64 before = now();
	wrmsr(HV_X64_MSR_EOM, 0);
	u64 after = now();
	rt_check(m->type == HVMSG_TIMER_EXPIRED && p->timer_index == 3 && p->expiration_time == due3
		&& p->delivery_time >= before && p->delivery_time <= after && sint_irqs == 6,
		"EOM delivers the waiting expiry: expiration %ld (due %ld), delivery %ld in [%ld, %ld], irqs %d",
		p->expiration_time, due3, p->delivery_time, before, after, sint_irqs);
	rt_check((rdmsr(CONFIG(3)) & 1) == 0, "delivered, the one-shot disables itself");
	consume(VMBUS_SINT);

	/* A masked SINT receives nothing: the expiry waits until the guest unmasks it. */
	u64 due4 = now() + 1000;
	wrmsr(CONFIG(2), HV_STIMER_AUTOENABLE | HV_STIMER_SINT(3));
	wrmsr(COUNT(2), due4);
	spin_until(due4 + 2000);
	rt_check(slot(3)->type == 0 && sint3_irqs == 0, "a timer on masked SINT3 delivers nothing");
	before = now();
	wrmsr(HV_X64_MSR_SINT0 + 3, SINT3_VECTOR);
	rt_check(slot(3)->type == HVMSG_TIMER_EXPIRED && timer_msg(3)->timer_index == 2 && timer_msg(3)->expiration_time == due4
		&& timer_msg(3)->delivery_time >= before && sint3_irqs == 1,
		"unmasking SINT3 delivers the waiting expiry with vector 0xF4: exp %ld del %ld irqs %d",
		timer_msg(3)->expiration_time, timer_msg(3)->delivery_time, sint3_irqs);
	consume(3);
}
