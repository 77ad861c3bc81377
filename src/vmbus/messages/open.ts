// Opening and closing a channel (include/linux/hyperv.h struct vmbus_channel_open_channel,
// _open_result, _close_channel; drivers/hv/channel.c __vmbus_open, vmbus_close_internal;
// linux-hyperv-guest-contract.md §6.6).
import { CHANNELMSG_OPENCHANNEL, CHANNELMSG_OPENCHANNEL_RESULT, newMessage, readU32, writeU32 } from './header.js';

export const OPEN_CHILD_RELID = 8;
export const OPEN_OPENID = 12; // Linux: = child_relid; echoed in the result
export const OPEN_RING_GPADL = 16;
export const OPEN_TARGET_VP = 20;
export const OPEN_DOWNSTREAM_PAGE_OFFSET = 24; // pages of the guest -> host ring, its control page included
export const OPEN_USER_DATA = 28; // u8[120]
export const OPEN_USER_DATA_SIZE = 120;
export const OPEN_SIZE = 148;
export const OPEN_RESULT_CHILD_RELID = 8;
export const OPEN_RESULT_OPENID = 12;
export const OPEN_RESULT_STATUS = 16; // u32, 0 = success
export const OPEN_RESULT_SIZE = 20;

export interface OpenChannel {
  childRelid: number;
  openId: number;
  ringGpadl: number;
  targetVp: number;
  downstreamPageOffset: number;
  /** A view into the message: copy what you keep. */
  userData: Uint8Array;
}

export function decodeOpenChannel(m: Uint8Array): OpenChannel | null {
  if (m.length < OPEN_SIZE) return null;
  return {
    childRelid: readU32(m, OPEN_CHILD_RELID),
    openId: readU32(m, OPEN_OPENID),
    ringGpadl: readU32(m, OPEN_RING_GPADL),
    targetVp: readU32(m, OPEN_TARGET_VP),
    downstreamPageOffset: readU32(m, OPEN_DOWNSTREAM_PAGE_OFFSET),
    userData: m.subarray(OPEN_USER_DATA, OPEN_USER_DATA + OPEN_USER_DATA_SIZE),
  };
}

export function encodeOpenChannel(o: Omit<OpenChannel, 'userData'> & { userData?: Uint8Array }): Uint8Array {
  const m = newMessage(CHANNELMSG_OPENCHANNEL, OPEN_SIZE);
  writeU32(m, OPEN_CHILD_RELID, o.childRelid);
  writeU32(m, OPEN_OPENID, o.openId);
  writeU32(m, OPEN_RING_GPADL, o.ringGpadl);
  writeU32(m, OPEN_TARGET_VP, o.targetVp);
  writeU32(m, OPEN_DOWNSTREAM_PAGE_OFFSET, o.downstreamPageOffset);
  if (o.userData) m.set(o.userData.subarray(0, OPEN_USER_DATA_SIZE), OPEN_USER_DATA);
  return m;
}

export function encodeOpenResult(childRelid: number, openId: number, status: number): Uint8Array {
  const m = newMessage(CHANNELMSG_OPENCHANNEL_RESULT, OPEN_RESULT_SIZE);
  writeU32(m, OPEN_RESULT_CHILD_RELID, childRelid);
  writeU32(m, OPEN_RESULT_OPENID, openId);
  writeU32(m, OPEN_RESULT_STATUS, status);
  return m;
}
export function decodeOpenResult(m: Uint8Array): { childRelid: number; openId: number; status: number } | null {
  if (m.length < OPEN_RESULT_SIZE) return null;
  return { childRelid: readU32(m, OPEN_RESULT_CHILD_RELID), openId: readU32(m, OPEN_RESULT_OPENID), status: readU32(m, OPEN_RESULT_STATUS) };
}
