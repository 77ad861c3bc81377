// The integration-component (IC) message framing shared by heartbeat, shutdown, time sync and KVP
// (Linux include/linux/hyperv.h: struct vmbuspipe_hdr, icmsg_hdr, icmsg_negotiate; drivers/hv/channel_mgmt.c
// vmbus_prep_negotiate_resp; contract §8.2). Every IC packet is an in-band VMBus packet whose payload is
//   vmbuspipe_hdr (8: u32 flags, u32 msgsize) + icmsg_hdr (20) + the message.
// The host asks, the guest answers by editing the host's buffer in place and sending it back with the same
// length, so every parser here takes an untrusted buffer and returns null instead of throwing.

/** sizeof(struct vmbuspipe_hdr). Linux ignores its contents; OpenVMM writes flags 1 (data) and the rest's size. */
export const PIPE_HDR_SIZE = 8;
export const PIPE_FLAG_DATA = 1;
/** sizeof(struct icmsg_hdr). */
export const ICMSG_HDR_SIZE = 20;
/** ICMSG_HDR in Linux: where the message body starts in the payload. */
export const IC_BODY = PIPE_HDR_SIZE + ICMSG_HDR_SIZE;

/** Byte offsets of struct icmsg_hdr fields inside the payload (after the pipe header). */
export const IcHdr = {
  frameMajor: PIPE_HDR_SIZE + 0,
  frameMinor: PIPE_HDR_SIZE + 2,
  msgType: PIPE_HDR_SIZE + 4,
  msgMajor: PIPE_HDR_SIZE + 6,
  msgMinor: PIPE_HDR_SIZE + 8,
  msgSize: PIPE_HDR_SIZE + 10,
  status: PIPE_HDR_SIZE + 12,
  transactionId: PIPE_HDR_SIZE + 16,
  flags: PIPE_HDR_SIZE + 17,
} as const;

/** icmsgtype values (ICMSGTYPE_*). */
export const IcMsgType = {
  NEGOTIATE: 0,
  HEARTBEAT: 1,
  KVPEXCHANGE: 2,
  SHUTDOWN: 3,
  TIMESYNC: 4,
  VSS: 5,
  FCOPY: 7,
} as const;

/** icflags (ICMSGHDRFLAG_*). The host sends TRANSACTION|REQUEST; Linux answers TRANSACTION|RESPONSE. */
export const IcFlag = { TRANSACTION: 1, REQUEST: 2, RESPONSE: 4 } as const;

/** Status codes (include/uapi/linux/hyperv.h). */
export const HV_S_OK = 0;
export const HV_E_FAIL = 0x80004005;
/** KVP: "no more items" / "not found". */
export const HV_S_CONT = 0x80070103;

/** Linux refuses a negotiate message with more than this many versions in either list. */
export const IC_MAX_VERSION_COUNT = 100;
/** struct icmsg_negotiate before the version array: u16 icframe_vercnt, u16 icmsg_vercnt, u32 reserved. */
export const NEGOTIATE_FIXED_SIZE = 8;

export interface IcVersion { readonly major: number; readonly minor: number }

export function icVersion(major: number, minor: number): IcVersion { return { major, minor }; }
export function formatVersion(v: IcVersion): string { return `${v.major}.${v.minor}`; }
export function sameVersion(a: IcVersion, b: IcVersion): boolean { return a.major === b.major && a.minor === b.minor; }

/** The header of an IC packet as received; `length` is the whole payload's length. */
export interface IcHeader {
  readonly frame: IcVersion;
  readonly msgType: number;
  readonly msg: IcVersion;
  readonly msgSize: number;
  readonly status: number;
  readonly transactionId: number;
  readonly flags: number;
  readonly length: number;
}

function view(p: Uint8Array): DataView { return new DataView(p.buffer, p.byteOffset, p.byteLength); }

/** Parse the pipe + IC header, or null when the payload is too short to hold them. */
export function parseIcHeader(payload: Uint8Array): IcHeader | null {
  if (payload.byteLength < IC_BODY) return null;
  const v = view(payload);
  return {
    frame: { major: v.getUint16(IcHdr.frameMajor, true), minor: v.getUint16(IcHdr.frameMinor, true) },
    msgType: v.getUint16(IcHdr.msgType, true),
    msg: { major: v.getUint16(IcHdr.msgMajor, true), minor: v.getUint16(IcHdr.msgMinor, true) },
    msgSize: v.getUint16(IcHdr.msgSize, true),
    status: v.getUint32(IcHdr.status, true),
    transactionId: payload[IcHdr.transactionId],
    flags: payload[IcHdr.flags],
    length: payload.byteLength,
  };
}

export interface IcHeaderFields {
  readonly frame: IcVersion;
  readonly msgType: number;
  readonly msg: IcVersion;
  readonly transactionId: number;
  readonly flags: number;
  readonly status?: number;
}

/**
 * A zeroed IC packet payload of `IC_BODY + bodySize` bytes with both headers written (icmsgsize = bodySize,
 * which must fit in u16). The caller writes the body at IC_BODY.
 */
export function buildIcPacket(h: IcHeaderFields, bodySize: number): Uint8Array {
  const out = new Uint8Array(IC_BODY + bodySize);
  const v = view(out);
  v.setUint32(0, PIPE_FLAG_DATA, true);
  v.setUint32(4, ICMSG_HDR_SIZE + bodySize, true);
  v.setUint16(IcHdr.frameMajor, h.frame.major, true);
  v.setUint16(IcHdr.frameMinor, h.frame.minor, true);
  v.setUint16(IcHdr.msgType, h.msgType, true);
  v.setUint16(IcHdr.msgMajor, h.msg.major, true);
  v.setUint16(IcHdr.msgMinor, h.msg.minor, true);
  v.setUint16(IcHdr.msgSize, bodySize & 0xffff, true);
  v.setUint32(IcHdr.status, (h.status ?? HV_S_OK) >>> 0, true);
  out[IcHdr.transactionId] = h.transactionId & 0xff;
  out[IcHdr.flags] = h.flags & 0xff;
  return out;
}

/** The host's NEGOTIATE request: framework versions, then service versions (struct icmsg_negotiate). */
export function buildNegotiate(frameworks: readonly IcVersion[], services: readonly IcVersion[], transactionId: number): Uint8Array {
  const count = frameworks.length + services.length;
  const p = buildIcPacket({
    frame: icVersion(1, 0), msgType: IcMsgType.NEGOTIATE, msg: icVersion(1, 0), transactionId,
    flags: IcFlag.TRANSACTION | IcFlag.REQUEST,
  }, NEGOTIATE_FIXED_SIZE + 4 * count);
  const v = view(p);
  v.setUint16(IC_BODY, frameworks.length, true);
  v.setUint16(IC_BODY + 2, services.length, true);
  let o = IC_BODY + NEGOTIATE_FIXED_SIZE;
  for (const ver of [...frameworks, ...services]) {
    v.setUint16(o, ver.major, true);
    v.setUint16(o + 2, ver.minor, true);
    o += 4;
  }
  return p;
}

/** What the guest chose: both versions, or `refused` when it matched none (it answers with counts 0). */
export type NegotiateAnswer =
  | { readonly refused: false; readonly framework: IcVersion; readonly service: IcVersion }
  | { readonly refused: true };

/**
 * Parse the guest's NEGOTIATE response (vmbus_prep_negotiate_resp: counts 1/1 and entries [0] framework,
 * [1] service; counts 0/0 when nothing matched). Null when malformed: too short, other counts, or a chosen
 * version the host did not offer (a guest may only pick from the host's lists).
 */
export function parseNegotiateAnswer(payload: Uint8Array, frameworks: readonly IcVersion[], services: readonly IcVersion[]): NegotiateAnswer | null {
  if (payload.byteLength < IC_BODY + NEGOTIATE_FIXED_SIZE) return null;
  const v = view(payload);
  const fwCount = v.getUint16(IC_BODY, true);
  const svcCount = v.getUint16(IC_BODY + 2, true);
  if (fwCount === 0 && svcCount === 0) return { refused: true };
  if (fwCount !== 1 || svcCount !== 1) return null;
  if (payload.byteLength < IC_BODY + NEGOTIATE_FIXED_SIZE + 8) return null;
  const o = IC_BODY + NEGOTIATE_FIXED_SIZE;
  const framework = icVersion(v.getUint16(o, true), v.getUint16(o + 2, true));
  const service = icVersion(v.getUint16(o + 4, true), v.getUint16(o + 6, true));
  if (!frameworks.some((f) => sameVersion(f, framework))) return null;
  if (!services.some((s) => sameVersion(s, service))) return null;
  return { refused: false, framework, service };
}

/** Read a u64 at `offset` as a JS number (exact below 2^53; the callers' counters stay far below). */
export function readU64(p: Uint8Array, offset: number): number {
  const v = view(p);
  return v.getUint32(offset + 4, true) * 0x1_0000_0000 + v.getUint32(offset, true);
}

/** Write a non-negative integer below 2^53 as a u64. */
export function writeU64(p: Uint8Array, offset: number, value: number): void {
  const v = view(p);
  const hi = Math.floor(value / 0x1_0000_0000);
  v.setUint32(offset, value - hi * 0x1_0000_0000, true);
  v.setUint32(offset + 4, hi, true);
}

export function readU32(p: Uint8Array, offset: number): number { return view(p).getUint32(offset, true); }
export function writeU32(p: Uint8Array, offset: number, value: number): void { view(p).setUint32(offset, value >>> 0, true); }
