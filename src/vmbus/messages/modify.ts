// Retargeting a channel's interrupts (include/linux/hyperv.h struct vmbus_channel_modifychannel,
// struct vmbus_channel_modifychannel_response; drivers/hv/channel.c vmbus_send_modifychannel: from 4.1, with a
// response the guest waits for from 5.3).
import { CHANNELMSG_MODIFYCHANNEL, CHANNELMSG_MODIFYCHANNEL_RESPONSE, newMessage, readU32, writeU32 } from './header.js';

export const MODIFY_CHILD_RELID = 8;
export const MODIFY_TARGET_VP = 12;
export const MODIFY_SIZE = 16;
export const MODIFY_RESPONSE_CHILD_RELID = 8;
export const MODIFY_RESPONSE_STATUS = 12; // u32, 0 = success
export const MODIFY_RESPONSE_SIZE = 16;

export function decodeModifyChannel(m: Uint8Array): { childRelid: number; targetVp: number } | null {
  if (m.length < MODIFY_SIZE) return null;
  return { childRelid: readU32(m, MODIFY_CHILD_RELID), targetVp: readU32(m, MODIFY_TARGET_VP) };
}
export function encodeModifyChannel(childRelid: number, targetVp: number): Uint8Array {
  const m = newMessage(CHANNELMSG_MODIFYCHANNEL, MODIFY_SIZE);
  writeU32(m, MODIFY_CHILD_RELID, childRelid);
  writeU32(m, MODIFY_TARGET_VP, targetVp);
  return m;
}
export function encodeModifyChannelResponse(childRelid: number, status: number): Uint8Array {
  const m = newMessage(CHANNELMSG_MODIFYCHANNEL_RESPONSE, MODIFY_RESPONSE_SIZE);
  writeU32(m, MODIFY_RESPONSE_CHILD_RELID, childRelid);
  writeU32(m, MODIFY_RESPONSE_STATUS, status);
  return m;
}
export function decodeModifyChannelResponse(m: Uint8Array): { childRelid: number; status: number } | null {
  if (m.length < MODIFY_RESPONSE_SIZE) return null;
  return { childRelid: readU32(m, MODIFY_RESPONSE_CHILD_RELID), status: readU32(m, MODIFY_RESPONSE_STATUS) };
}
