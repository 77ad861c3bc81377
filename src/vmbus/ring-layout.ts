// The VMBus ring buffer layout (include/linux/hyperv.h struct hv_ring_buffer; linux-hyperv-guest-contract.md §7):
// one direction is a 4 KiB control page followed by the data area; indices are byte offsets into the data area,
// multiples of 8, wrapping at its size. Each packet is followed by an 8-byte trailer (the writer's previous
// write index in the upper 32 bits).

export const RING_HEADER_SIZE = 4096;
// Byte offsets in the control page.
export const RING_WRITE_INDEX = 0; // u32, the producer's
export const RING_READ_INDEX = 4; // u32, the consumer's
export const RING_INTERRUPT_MASK = 8; // u32, consumer: "draining, don't signal me"
export const RING_PENDING_SEND_SZ = 12; // u32, producer: bytes it waits for
export const RING_FEATURE_BITS = 64; // u32
export const FEAT_PENDING_SEND_SZ = 1;
export const RING_TRAILER_SIZE = 8;
