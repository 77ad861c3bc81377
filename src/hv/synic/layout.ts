// SynIC register numbers, register layouts and the message/event page layouts (TLFS "Synthetic Interrupt
// Controller"; numbers as in Linux include/asm-generic/hyperv-tlfs.h and the guest contract §2, §4).

export const SynicMsr = {
  SCONTROL: 0x40000080,
  SVERSION: 0x40000081,
  SIEFP: 0x40000082,
  SIMP: 0x40000083,
  EOM: 0x40000084,
  SINT0: 0x40000090,
  SINT15: 0x4000009f,
} as const;

/** The SynIC MSR range (0x40000085..0x4000008F are unused and #GP). */
export const SYNIC_MSR_FIRST = SynicMsr.SCONTROL;
export const SYNIC_MSR_LAST = SynicMsr.SINT15;

export const SINT_COUNT = 16;
/** SVERSION: the SynIC version this hypervisor implements (TLFS: 1). */
export const SYNIC_VERSION = 1;

/** HV_X64_MSR_SCONTROL: bit 0 enable, the rest reserved. */
export const Scontrol = { ENABLE: 1, RESERVED_LO: ~1 } as const;

/** SIMP / SIEFP: bit 0 enable, bits 11:1 reserved, bits 63:12 the GPA page. */
export const SynicPageMsr = { ENABLE: 1, RESERVED_LO: 0xffe } as const;

/**
 * SINTn: bits 7:0 vector, 16 masked, 17 auto-EOI, 18 polling; bits 15:8, 31:19 and the high half reserved.
 * The reset value is masked with vector 0.
 */
export const Sint = {
  VECTOR_MASK: 0xff,
  MASKED: 1 << 16,
  AUTO_EOI: 1 << 17,
  POLLING: 1 << 18,
  RESERVED_LO: ~(0xff | (1 << 16) | (1 << 17) | (1 << 18)),
  RESET: 1 << 16,
  /** Vectors 0-15 are exceptions, never a SINT's interrupt. */
  MIN_VECTOR: 16,
} as const;

/** hv_message (256 bytes, one slot per SINT): header then up to 240 bytes of payload. */
export const SlotLayout = {
  SIZE: 256,
  messageType: 0,
  payloadSize: 4,
  messageFlags: 5,
  /** u64 sender (port id); Linux ignores it. */
  sender: 8,
  payload: 16,
  MAX_PAYLOAD: 240,
  /** message_flags bit 0: more messages are queued behind this one (the guest must write EOM). */
  FLAG_PENDING: 1,
} as const;

/** Event-flag slots: 256 bytes = 2048 flags per SINT. */
export const EVENT_FLAGS_PER_SINT = 2048;

/** Message types: 0 is an empty slot; types with bit 31 set belong to the hypervisor (timers, intercepts). */
export const HvMessageTypeNone = 0;
export const HV_MESSAGE_TYPE_HYPERVISOR_BIT = 0x80000000;

/** HvCallPostMessage input (256 bytes): connection id, reserved, message type, payload size, payload. */
export const PostMessageIn = {
  connectionId: 0,
  reserved: 4,
  messageType: 8,
  payloadSize: 12,
  payload: 16,
  SIZE: 256,
} as const;

/** HvCallSignalEvent input (8 bytes, usually fast): connection id, u16 flag number, u16 reserved. */
export const SignalEventIn = {
  connectionId: 0,
  flagNumber: 4,
  reserved: 6,
  SIZE: 8,
} as const;

/** Connection ids are 24 bits (the high byte of the field is reserved). */
export const CONNECTION_ID_MASK = 0x00ffffff;

/** Messages a SINT may queue behind a full slot before a post reports HV_STATUS_INSUFFICIENT_BUFFERS. */
export const MAX_QUEUED_PER_SINT = 64;

/**
 * Synthetic timers (TLFS "Synthetic Timers"): four per VP, each a CONFIG/COUNT MSR pair from 0x400000B0
 * (STIMERn_CONFIG = 0x400000B0 + 2n, STIMERn_COUNT = CONFIG + 1).
 */
export const StimerMsr = { FIRST: 0x400000b0, LAST: 0x400000b7 } as const;
export const STIMER_COUNT = 4;

/**
 * STIMERn_CONFIG: bit 0 enable, 1 periodic, 2 lazy, 3 auto-enable, 11:4 APIC vector (direct mode), 12 direct
 * mode, 19:16 SINTx (message mode); bits 15:13, 31:20 and the high half are RsvdZ.
 */
export const StimerConfig = {
  ENABLE: 1,
  PERIODIC: 2,
  LAZY: 4,
  AUTO_ENABLE: 8,
  VECTOR_SHIFT: 4,
  VECTOR_MASK: 0xff,
  DIRECT_MODE: 1 << 12,
  SINTX_SHIFT: 16,
  SINTX_MASK: 0xf,
  RESERVED_LO: ~0xf1fff,
} as const;

/** HvMessageTypeTimerExpired: a synthetic timer's message-mode expiry. */
export const HvMessageTypeTimerExpired = 0x80000010;

/** hv_timer_message_payload: u32 timer index, u32 reserved, u64 expiration time, u64 delivery time (100 ns). */
export const TimerMessagePayload = {
  timerIndex: 0,
  reserved: 4,
  expirationTime: 8,
  deliveryTime: 16,
  SIZE: 24,
} as const;
