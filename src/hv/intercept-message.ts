// Intercept messages: what the hypervisor tells the root when a child's VP does something only the root can
// answer. The 256-byte hv_message (TLFS "SynIC Messages"; layouts as in Linux include/hyperv/hvhdk.h:
// hv_message_header, hv_x64_intercept_message_header, hv_x64_io_port_intercept_message,
// hv_x64_memory_intercept_message, hv_x64_msr_intercept_message) lives in a per-VP page of the hypervisor's
// memory, like Hyper-V's intercept message page. One message object per VP, reused: no allocation per access.
//
// Delivery is synchronous: the VP is suspended inside the access while the root's handler runs. Because the
// hypervisor has already decoded the access, it also passes the access size and written data beside the
// TLFS layout (`size`, `data`), and the handler completes the access by setting `value` (reads) or asks for
// the VP to stay suspended (`suspend()`), which ends the current HvCallDispatchVp with an intercept event.

export const HvMessageType = {
  NONE: 0x00000000,
  UNMAPPED_GPA: 0x80000000,
  GPA_INTERCEPT: 0x80000001,
  UNRECOVERABLE_EXCEPTION: 0x80000021,
  X64_IO_PORT_INTERCEPT: 0x80010000,
  X64_MSR_INTERCEPT: 0x80010001,
  /** EOI of a level-triggered interrupt (hv_x64_apic_eoi_message: u32 vp_index, u32 interrupt_vector). */
  X64_APIC_EOI: 0x80010004,
  X64_HALT: 0x80010007,
} as const;

export const InterceptAccessType = { READ: 0, WRITE: 1, EXECUTE: 2 } as const;

/** Byte offsets inside the 256-byte message. */
export const MessageLayout = {
  SIZE: 256,
  type: 0,
  payloadSize: 4,
  flags: 5,
  sender: 8,
  PAYLOAD: 16,
  // hv_x64_intercept_message_header (payload offset 0)
  vpIndex: 16,
  instructionLength: 20,
  accessType: 21,
  executionState: 22,
  csBase: 24,
  csLimit: 32,
  csSelector: 36,
  csAttributes: 38,
  rip: 40,
  rflags: 48,
  HEADER_END: 56,
  // hv_x64_io_port_intercept_message
  ioPort: 56,
  ioAccessInfo: 58,
  ioInstructionByteCount: 59,
  ioRax: 64,
  ioInstructionBytes: 72,
  ioRcx: 120,
  ioRsi: 128,
  ioRdi: 136,
  IO_END: 144,
  // hv_x64_memory_intercept_message
  memCacheType: 56,
  memInstructionByteCount: 60,
  memAccessInfo: 61,
  memGva: 64,
  memGpa: 72,
  memInstructionBytes: 80,
  MEM_END: 96,
  // hv_x64_msr_intercept_message
  msrNumber: 56,
  msrRdx: 64,
  msrRax: 72,
  MSR_END: 80,
  // hv_x64_apic_eoi_message (no intercept header: vp_index at 16, then the vector)
  eoiVector: 20,
  APIC_EOI_END: 24,
} as const;

/** HV_CACHE_TYPE_UNCACHED: unmapped GPAs are device space. */
const CACHE_TYPE_UNCACHED = 0;

export class InterceptMessage {
  /** The TLFS message bytes (a view of the VP's intercept message page). */
  readonly bytes: Uint8Array;
  private readonly dv: DataView;

  // Decoded copy of the fields a handler needs most (read these instead of parsing `bytes` on hot paths).
  type = 0;
  vpIndex = 0;
  accessType = 0;
  /** Port (I/O), GPA (memory) or MSR number. */
  port = 0;
  gpa = 0;
  msr = 0;
  /** Access size in bytes (1, 2, 4; 8 for MSRs). */
  size = 0;
  /** Data written (low 32 bits; MSR writes also dataHi). */
  data = 0;
  dataHi = 0;
  /** X64_APIC_EOI: the vector the guest EOIed. */
  vector = 0;

  // The root's answer.
  /** Value returned by a read (low 32 bits; MSR reads also valueHi). Defaults to all-ones. */
  value = -1;
  valueHi = -1;
  /** MSR access: raise #GP in the guest instead of completing. */
  injectGp = false;
  private suspendRequested = false;

  constructor(buffer: ArrayBuffer, byteOffset: number) {
    this.bytes = new Uint8Array(buffer, byteOffset, MessageLayout.SIZE);
    this.dv = new DataView(buffer, byteOffset, MessageLayout.SIZE);
  }

  /** Keep the VP suspended after this intercept: the running HvCallDispatchVp returns with an intercept event. */
  suspend(): void {
    this.suspendRequested = true;
  }

  get suspended(): boolean {
    return this.suspendRequested;
  }

  /** Prepare for a new delivery (hypervisor side). */
  begin(type: number, vpIndex: number, accessType: number, payloadEnd: number): DataView {
    this.type = type;
    this.vpIndex = vpIndex;
    this.accessType = accessType;
    this.value = -1;
    this.valueHi = -1;
    this.injectGp = false;
    this.suspendRequested = false;
    this.port = 0; this.gpa = 0; this.msr = 0; this.size = 0; this.data = 0; this.dataHi = 0; this.vector = 0;
    const dv = this.dv;
    this.bytes.fill(0);
    dv.setUint32(MessageLayout.type, type >>> 0, true);
    dv.setUint8(MessageLayout.payloadSize, payloadEnd - MessageLayout.PAYLOAD);
    dv.setUint32(MessageLayout.vpIndex, vpIndex, true);
    dv.setUint8(MessageLayout.accessType, accessType);
    return dv;
  }

  setIo(port: number, size: number, isString: boolean, rep: boolean, data: number): void {
    this.port = port;
    this.size = size;
    this.data = data;
    const dv = this.dv;
    dv.setUint16(MessageLayout.ioPort, port, true);
    dv.setUint8(MessageLayout.ioAccessInfo, size | (isString ? 8 : 0) | (rep ? 16 : 0));
  }

  setMemory(gpa: number, size: number, data: number): void {
    this.gpa = gpa;
    this.size = size;
    this.data = data;
    const dv = this.dv;
    dv.setUint32(MessageLayout.memCacheType, CACHE_TYPE_UNCACHED, true);
    dv.setUint32(MessageLayout.memGpa, gpa >>> 0, true);
    dv.setUint32(MessageLayout.memGpa + 4, Math.floor(gpa / 4294967296), true);
  }

  setMsr(msr: number, lo: number, hi: number): void {
    this.msr = msr;
    this.size = 8;
    this.data = lo;
    this.dataHi = hi;
    const dv = this.dv;
    dv.setUint32(MessageLayout.msrNumber, msr >>> 0, true);
    dv.setUint32(MessageLayout.msrRax, lo >>> 0, true);
    dv.setUint32(MessageLayout.msrRdx, hi >>> 0, true);
  }

  /** HvMessageTypeX64ApicEoi: a level-triggered `vector` was EOIed on VP `vpIndex`. */
  beginApicEoi(vpIndex: number, vector: number): void {
    this.begin(HvMessageType.X64_APIC_EOI, vpIndex, 0, MessageLayout.APIC_EOI_END);
    this.vector = vector;
    this.dv.setUint32(MessageLayout.eoiVector, vector >>> 0, true);
  }

  /** The message as JSON (for tracing and inspection). */
  inspect(): Record<string, unknown> {
    return {
      type: '0x' + (this.type >>> 0).toString(16), vpIndex: this.vpIndex, accessType: this.accessType,
      port: this.port, gpa: this.gpa, msr: this.msr, size: this.size, data: this.data >>> 0, vector: this.vector,
      rip: '0x' + this.dv.getBigUint64(MessageLayout.rip, true).toString(16),
    };
  }
}
