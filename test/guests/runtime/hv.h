/*
 * The Hyper-V guest interface as the test guests use it, the way Linux does (TLFS; include/asm-generic/hyperv-tlfs.h,
 * arch/x86/include/asm/mshyperv.h): synthetic MSR numbers, hypercall codes and statuses, the SynIC message slot,
 * synthetic timer and HvPostMessage input layouts, and hv_call through the hypercall page. A guest that includes this defines
 * `void *hv_hypercall_pg` once it has enabled the page.
 */
#ifndef HYPATIA_GUEST_HV_H
#define HYPATIA_GUEST_HV_H
#include "rt.h"

#define HV_X64_MSR_GUEST_OS_ID		0x40000000
#define HV_X64_MSR_HYPERCALL		0x40000001
#define HV_X64_MSR_SCONTROL		0x40000080
#define HV_X64_MSR_SVERSION		0x40000081
#define HV_X64_MSR_SIEFP		0x40000082
#define HV_X64_MSR_SIMP			0x40000083
#define HV_X64_MSR_EOM			0x40000084
#define HV_X64_MSR_SINT0		0x40000090
#define HV_X64_MSR_VP_RUNTIME		0x40000010
#define HV_X64_MSR_TIME_REF_COUNT	0x40000020
#define HV_X64_MSR_STIMER0_CONFIG	0x400000b0	/* STIMERn_CONFIG = this + 2n, STIMERn_COUNT = that + 1 */
#define HV_X64_MSR_STIMER0_COUNT	0x400000b1

/* STIMERn_CONFIG bits and the timer's message (HVMSG_TIMER_EXPIRED, struct hv_timer_message_payload). */
#define HV_STIMER_ENABLE		(1UL << 0)
#define HV_STIMER_PERIODIC		(1UL << 1)
#define HV_STIMER_LAZY			(1UL << 2)
#define HV_STIMER_AUTOENABLE		(1UL << 3)
#define HV_STIMER_VECTOR(v)		((u64)(v) << 4)
#define HV_STIMER_DIRECT		(1UL << 12)
#define HV_STIMER_SINT(s)		((u64)(s) << 16)
#define HVMSG_TIMER_EXPIRED		0x80000010
struct hv_timer_message_payload { u32 timer_index, reserved; u64 expiration_time, delivery_time; };

#define HVCALL_POST_MESSAGE		0x005c
#define HVCALL_SIGNAL_EVENT		0x005d
#define HV_HYPERCALL_FAST_BIT		(1UL << 16)

#define HV_STATUS_SUCCESS			0
#define HV_STATUS_INVALID_PARAMETER		5
#define HV_STATUS_INVALID_CONNECTION_ID		18

/* What Linux writes to GUEST_OS_ID (open source, Linux 6.1). */
#define LINUX_GUEST_ID	0x8100000601770000UL

/* A SynIC message slot (struct hv_message): header, then up to 240 payload bytes. */
struct hv_message {
	volatile u32 type;
	u8 payload_size;
	volatile u8 flags;
	u8 rsvd[2];
	u64 sender;
	u8 payload[240];
};

/* HvCallPostMessage input (struct hv_input_post_message). */
struct post_message_input { u32 connection_id, reserved, message_type, payload_size; u8 payload[240]; };

extern void *hv_hypercall_pg;

/* hv_do_hypercall: RCX control, RDX input, R8 output, status in RAX; RCX, RDX, R8-R11 clobbered. */
static inline u64 hv_call(u64 control, u64 in, u64 out) {
	u64 status;
	register u64 r8 __asm__("r8") = out;
	__asm__ volatile("call *%[pg]"
		: "=a"(status), "+c"(control), "+d"(in), "+r"(r8)
		: [pg] "m"(hv_hypercall_pg)
		: "cc", "memory", "r9", "r10", "r11");
	return status;
}

#endif
