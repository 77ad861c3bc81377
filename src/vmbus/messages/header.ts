// The VMBus channel message header and message types (include/linux/hyperv.h enum vmbus_channel_message_type,
// struct vmbus_channel_message_header; linux-hyperv-guest-contract.md §6.3). Every channel message starts with
// {u32 msgtype, u32 padding} and travels as the payload of one SynIC message (at most 240 bytes), message type 1.

export const CHANNELMSG_OFFERCHANNEL = 1;
export const CHANNELMSG_RESCIND_CHANNELOFFER = 2;
export const CHANNELMSG_REQUESTOFFERS = 3;
export const CHANNELMSG_ALLOFFERS_DELIVERED = 4;
export const CHANNELMSG_OPENCHANNEL = 5;
export const CHANNELMSG_OPENCHANNEL_RESULT = 6;
export const CHANNELMSG_CLOSECHANNEL = 7;
export const CHANNELMSG_GPADL_HEADER = 8;
export const CHANNELMSG_GPADL_BODY = 9;
export const CHANNELMSG_GPADL_CREATED = 10;
export const CHANNELMSG_GPADL_TEARDOWN = 11;
export const CHANNELMSG_GPADL_TORNDOWN = 12;
export const CHANNELMSG_RELID_RELEASED = 13;
export const CHANNELMSG_INITIATE_CONTACT = 14;
export const CHANNELMSG_VERSION_RESPONSE = 15;
export const CHANNELMSG_UNLOAD = 16;
export const CHANNELMSG_UNLOAD_RESPONSE = 17;
export const CHANNELMSG_TL_CONNECT_REQUEST = 21;
export const CHANNELMSG_MODIFYCHANNEL = 22;
export const CHANNELMSG_TL_CONNECT_RESULT = 23;
export const CHANNELMSG_MODIFYCHANNEL_RESPONSE = 24;
export const CHANNELMSG_COUNT = 25;

export const MESSAGE_HEADER_SIZE = 8;
export const MESSAGE_TYPE = 0; // u32 msgtype
/** A SynIC message payload holds at most 240 bytes (struct hv_message). */
export const MAX_MESSAGE_SIZE = 240;
/** The SynIC message type VMBus uses for channel messages (Linux treats any non-zero non-timer type as one). */
export const HVMSG_CHANNEL = 1;
/** VMBus messages and channel events use SINT 2 (VMBUS_MESSAGE_SINT). */
export const VMBUS_MESSAGE_SINT = 2;
/** Connection ids the guest posts channel messages on: 1 before 5.0 and after VERSION_RESPONSE; 4 for
 *  INITIATE_CONTACT with 5.x (drivers/hv/hyperv_vmbus.h VMBUS_MESSAGE_CONNECTION_ID, _ID_4). */
export const VMBUS_MESSAGE_CONNECTION_ID = 1;
export const VMBUS_MESSAGE_CONNECTION_ID_4 = 4;

const NAMES: Record<number, string> = {
  1: 'OFFERCHANNEL', 2: 'RESCIND_CHANNELOFFER', 3: 'REQUESTOFFERS', 4: 'ALLOFFERS_DELIVERED', 5: 'OPENCHANNEL',
  6: 'OPENCHANNEL_RESULT', 7: 'CLOSECHANNEL', 8: 'GPADL_HEADER', 9: 'GPADL_BODY', 10: 'GPADL_CREATED',
  11: 'GPADL_TEARDOWN', 12: 'GPADL_TORNDOWN', 13: 'RELID_RELEASED', 14: 'INITIATE_CONTACT', 15: 'VERSION_RESPONSE',
  16: 'UNLOAD', 17: 'UNLOAD_RESPONSE', 21: 'TL_CONNECT_REQUEST', 22: 'MODIFYCHANNEL', 23: 'TL_CONNECT_RESULT',
  24: 'MODIFYCHANNEL_RESPONSE',
};

/** The message type's name for logs ('type 99' for unknown ones). */
export function messageName(type: number): string { return NAMES[type] ?? `type ${type}`; }

/** The size of each message as Linux 6.1 sends or expects it (sizeof the struct, header included); a
 *  received message shorter than this is refused. GPADL header/body carry variable PFN lists after this. */
export const MESSAGE_SIZE: Readonly<Record<number, number>> = {
  1: 196, 2: 12, 3: 8, 4: 8, 5: 148, 6: 20, 7: 12, 8: 28, 9: 16, 10: 20, 11: 16, 12: 12, 13: 12, 14: 40, 15: 16,
  16: 8, 17: 8, 21: 40, 22: 16, 23: 40, 24: 16,
};

export function readU32(m: Uint8Array, at: number): number {
  return (m[at] | (m[at + 1] << 8) | (m[at + 2] << 16) | (m[at + 3] << 24)) >>> 0;
}
export function writeU32(m: Uint8Array, at: number, v: number): void {
  m[at] = v & 0xff; m[at + 1] = (v >>> 8) & 0xff; m[at + 2] = (v >>> 16) & 0xff; m[at + 3] = (v >>> 24) & 0xff;
}
export function readU16(m: Uint8Array, at: number): number { return m[at] | (m[at + 1] << 8); }
export function writeU16(m: Uint8Array, at: number, v: number): void { m[at] = v & 0xff; m[at + 1] = (v >>> 8) & 0xff; }
/** u64 as a double: guest physical addresses (< 2^52) are exact. */
export function readU64(m: Uint8Array, at: number): number { return readU32(m, at + 4) * 2 ** 32 + readU32(m, at); }
export function writeU64(m: Uint8Array, at: number, v: number): void {
  writeU32(m, at, v % 2 ** 32);
  writeU32(m, at + 4, Math.floor(v / 2 ** 32));
}

/** The message type of a received message, or -1 when it is too short to hold a header. */
export function messageType(m: Uint8Array): number { return m.length < MESSAGE_HEADER_SIZE ? -1 : readU32(m, MESSAGE_TYPE); }

/** A zeroed message of `size` bytes with its header's type set. */
export function newMessage(type: number, size: number): Uint8Array {
  const m = new Uint8Array(size);
  writeU32(m, MESSAGE_TYPE, type);
  return m;
}

/** A header-only message (REQUESTOFFERS, ALLOFFERS_DELIVERED, UNLOAD, UNLOAD_RESPONSE). */
export function encodeHeaderOnly(type: number): Uint8Array { return newMessage(type, MESSAGE_HEADER_SIZE); }

/** Messages whose only field is u32 child_relid @8: RESCIND_CHANNELOFFER, CLOSECHANNEL, RELID_RELEASED. */
export const RELID_MESSAGE_CHILD_RELID = 8;
export function encodeRelidMessage(type: number, relid: number): Uint8Array {
  const m = newMessage(type, 12);
  writeU32(m, RELID_MESSAGE_CHILD_RELID, relid);
  return m;
}
