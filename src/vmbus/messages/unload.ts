// UNLOAD and UNLOAD_RESPONSE (include/linux/hyperv.h: header-only messages; drivers/hv/channel_mgmt.c
// vmbus_initiate_unload): the guest leaves the bus (kexec, kdump, panic, module unload); the host closes every
// channel, forgets every GPADL and answers, after which the guest may INITIATE_CONTACT again.
import { CHANNELMSG_UNLOAD, CHANNELMSG_UNLOAD_RESPONSE, encodeHeaderOnly } from './header.js';

export function encodeUnload(): Uint8Array { return encodeHeaderOnly(CHANNELMSG_UNLOAD); }
export function encodeUnloadResponse(): Uint8Array { return encodeHeaderOnly(CHANNELMSG_UNLOAD_RESPONSE); }
