// GPADL replies and teardown (include/linux/hyperv.h struct vmbus_channel_gpadl_created, _gpadl_teardown,
// _gpadl_torndown; drivers/hv/channel.c __vmbus_establish_gpadl, vmbus_teardown_gpadl;
// linux-hyperv-guest-contract.md §6.5). GPADL_HEADER and GPADL_BODY are laid out and assembled in ../gpadl.ts.
import { CHANNELMSG_GPADL_CREATED, CHANNELMSG_GPADL_TEARDOWN, CHANNELMSG_GPADL_TORNDOWN, newMessage, readU32, writeU32 } from './header.js';

export const GPADL_CREATED_CHILD_RELID = 8;
export const GPADL_CREATED_GPADL = 12;
export const GPADL_CREATED_STATUS = 16; // u32 creation_status, 0 = ok
export const GPADL_CREATED_SIZE = 20;
export const GPADL_TEARDOWN_CHILD_RELID = 8;
export const GPADL_TEARDOWN_GPADL = 12;
export const GPADL_TEARDOWN_SIZE = 16;
export const GPADL_TORNDOWN_GPADL = 8;
export const GPADL_TORNDOWN_SIZE = 12;

export function encodeGpadlCreated(childRelid: number, gpadl: number, status: number): Uint8Array {
  const m = newMessage(CHANNELMSG_GPADL_CREATED, GPADL_CREATED_SIZE);
  writeU32(m, GPADL_CREATED_CHILD_RELID, childRelid);
  writeU32(m, GPADL_CREATED_GPADL, gpadl);
  writeU32(m, GPADL_CREATED_STATUS, status);
  return m;
}
export function decodeGpadlCreated(m: Uint8Array): { childRelid: number; gpadl: number; status: number } | null {
  if (m.length < GPADL_CREATED_SIZE) return null;
  return { childRelid: readU32(m, GPADL_CREATED_CHILD_RELID), gpadl: readU32(m, GPADL_CREATED_GPADL), status: readU32(m, GPADL_CREATED_STATUS) };
}

export function encodeGpadlTeardown(childRelid: number, gpadl: number): Uint8Array {
  const m = newMessage(CHANNELMSG_GPADL_TEARDOWN, GPADL_TEARDOWN_SIZE);
  writeU32(m, GPADL_TEARDOWN_CHILD_RELID, childRelid);
  writeU32(m, GPADL_TEARDOWN_GPADL, gpadl);
  return m;
}
export function decodeGpadlTeardown(m: Uint8Array): { childRelid: number; gpadl: number } | null {
  if (m.length < GPADL_TEARDOWN_SIZE) return null;
  return { childRelid: readU32(m, GPADL_TEARDOWN_CHILD_RELID), gpadl: readU32(m, GPADL_TEARDOWN_GPADL) };
}

export function encodeGpadlTorndown(gpadl: number): Uint8Array {
  const m = newMessage(CHANNELMSG_GPADL_TORNDOWN, GPADL_TORNDOWN_SIZE);
  writeU32(m, GPADL_TORNDOWN_GPADL, gpadl);
  return m;
}
export function decodeGpadlTorndown(m: Uint8Array): { gpadl: number } | null {
  return m.length < GPADL_TORNDOWN_SIZE ? null : { gpadl: readU32(m, GPADL_TORNDOWN_GPADL) };
}
