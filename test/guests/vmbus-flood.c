/*
 * A hostile VMBus guest: with the SynIC set up as Linux's hv_vmbus does, it floods the root's channel server on
 * connection 4 with messages it must refuse (unknown types, truncated ones, OPENCHANNEL and GPADL bodies before
 * any contact, GPADL headers naming pages outside RAM), then asks for VMBus 5.3 as Linux does and must still
 * get a VERSION_RESPONSE: the server refused everything without dying, and the host (test/vmwp/vmbus-flood)
 * checks that its stderr got only a trickle of lines. Layouts: contract §6, include/linux/hyperv.h.
 */
#include "hv.h"

#define VMBUS_SINT		2
#define CALLBACK_VECTOR		0xf3
#define FLOOD		20000

#define CHANNELMSG_OPENCHANNEL		5
#define CHANNELMSG_GPADL_HEADER		8
#define CHANNELMSG_GPADL_BODY		9
#define CHANNELMSG_INITIATE_CONTACT	14
#define CHANNELMSG_VERSION_RESPONSE	15


static u8 hc_pg_mem[4096] __attribute__((aligned(4096)));
static u8 simp_mem[4096] __attribute__((aligned(4096)));
static u8 siefp_mem[4096] __attribute__((aligned(4096)));
static u8 monitor_mem[2][4096] __attribute__((aligned(4096)));
static struct post_message_input post_in __attribute__((aligned(4096)));
void *hv_hypercall_pg;


static volatile int interrupts;
static int on_interrupt(struct rt_frame *f) {
	if (f->vector != CALLBACK_VECTOR) return 0;
	interrupts++;
	wrmsr(0x80b, 0); /* x2APIC EOI (DEPRECATING_AEOI: SINT2 is not auto-EOI) */
	return 1;
}

static void put32(u32 off, u32 v) { for (int i = 0; i < 4; i++) post_in.payload[off + i] = (u8)(v >> (8 * i)); }
static void put64(u32 off, u64 v) { put32(off, (u32)v); put32(off + 4, (u32)(v >> 32)); }

/* A channel message on connection 4: msgtype at payload 0, then whatever fill() put there. */
static u64 post(u32 msgtype, u32 size) {
	post_in.connection_id = 4;
	post_in.reserved = 0;
	post_in.message_type = 1;
	post_in.payload_size = size;
	put32(0, msgtype);
	put32(4, 0);
	return hv_call(HVCALL_POST_MESSAGE, (u64)&post_in, 0);
}

void guest_main(void) {
	wrmsr(HV_X64_MSR_GUEST_OS_ID, LINUX_GUEST_ID);
	wrmsr(HV_X64_MSR_HYPERCALL, (u64)hc_pg_mem | 1);
	hv_hypercall_pg = hc_pg_mem;
	wrmsr(0x1b, rdmsr(0x1b) | 0xc00); /* x2APIC */
	wrmsr(0x80f, 0x1ff);
	rt_hook = on_interrupt;
	wrmsr(HV_X64_MSR_SIMP, (u64)simp_mem | 1);
	wrmsr(HV_X64_MSR_SIEFP, (u64)siefp_mem | 1);
	wrmsr(HV_X64_MSR_SINT0 + VMBUS_SINT, CALLBACK_VECTOR);
	wrmsr(HV_X64_MSR_SCONTROL, 1);
	__asm__ volatile("sti");

	/* The flood: every message is one the server must refuse; each hypercall still succeeds or is refused by status. */
	int bad_status = 0;
	for (int i = 0; i < FLOOD; i++) {
		rt_memset(post_in.payload, 0xff, sizeof post_in.payload);
		u64 r;
		switch (i % 5) {
		case 0: r = post(0x99, 16); break;			/* no such message type */
		case 1: r = post(CHANNELMSG_INITIATE_CONTACT, 12); break;	/* truncated */
		case 2: r = post(CHANNELMSG_OPENCHANNEL, 240); break;	/* before contact */
		case 3: r = post(CHANNELMSG_GPADL_BODY, 240); break;	/* a body with no header */
		default:						/* a header naming pages far outside RAM */
			rt_memset(post_in.payload, 0, sizeof post_in.payload);
			put32(8, 1); put32(12, 7); put32(16, 8); put32(20, 1);	/* relid, gpadl, range_buflen, rangecount */
			put32(24, 4096); put32(28, 0); put64(32, 0xfffffffff0UL);
			r = post(CHANNELMSG_GPADL_HEADER, 40);
			break;
		}
		if (r != 0 && r != 5) bad_status++; /* SUCCESS (the server read it) or INVALID_PARAMETER */
	}
	rt_check(bad_status == 0, "%d hostile messages answered with SUCCESS or INVALID_PARAMETER: %d others", FLOOD, bad_status);
	rt_check(interrupts == 0, "nothing was posted back for them: %d interrupts", interrupts);

	/* Now as Linux connects (vmbus_negotiate_version): INITIATE_CONTACT 5.3, target VP 0, msg_sint 2, monitor pages. */
	rt_memset(post_in.payload, 0, sizeof post_in.payload);
	put32(8, 0x00050003);
	put32(12, 0);
	post_in.payload[16] = VMBUS_SINT;
	put64(24, (u64)monitor_mem[0]);
	put64(32, (u64)monitor_mem[1]);
	u64 r = post(CHANNELMSG_INITIATE_CONTACT, 40);
	rt_check(r == 0, "INITIATE_CONTACT 5.3 posted: %lx", r);
	for (long spin = 0; spin < 10000000 && interrupts < 1; spin++) __asm__ volatile("pause");
	struct hv_message *slot = (struct hv_message *)(simp_mem + VMBUS_SINT * 256);
	u32 msgtype = slot->payload[0] | (slot->payload[1] << 8);
	rt_check(interrupts == 1 && slot->type == 1 && msgtype == CHANNELMSG_VERSION_RESPONSE && slot->payload_size >= 16,
		"a VERSION_RESPONSE arrives in the SINT2 slot: interrupts %d, type %x, msgtype %x, size %d", interrupts, slot->type, msgtype, slot->payload_size);
	u32 conn = slot->payload[12] | (slot->payload[13] << 8) | (slot->payload[14] << 16) | ((u32)slot->payload[15] << 24);
	rt_check(slot->payload[8] == 1 && slot->payload[9] == 0 && conn != 0, "version 5.3 supported, connection state 0, msg_conn_id %d", conn);
	u8 pending = slot->flags & 1;
	slot->type = 0;
	__asm__ volatile("mfence" ::: "memory");
	if (pending) wrmsr(HV_X64_MSR_EOM, 0);
}
