// Offers (include/linux/hyperv.h struct vmbus_channel_offer_channel, struct vmbus_channel_offer,
// struct vmbus_channel_rescind_offer, struct vmbus_channel_relid_released; drivers/hv/channel_mgmt.c
// vmbus_onoffer, vmbus_process_offer; linux-hyperv-guest-contract.md §6.4, §6.8).
import { CHANNELMSG_OFFERCHANNEL, newMessage, readU16, readU32, writeU16, writeU32 } from './header.js';
import { readGuid, writeGuid } from './guid.js';

export const OFFER_IF_TYPE = 8; // guid_t
export const OFFER_IF_INSTANCE = 24; // guid_t
export const OFFER_RESERVED1 = 40; // u64 (Hyper-V: interrupt latency)
export const OFFER_RESERVED2 = 48; // u64
export const OFFER_CHN_FLAGS = 56; // u16
export const OFFER_MMIO_MEGABYTES = 58; // u16
export const OFFER_USER_DEFINED = 60; // u8[120]
export const OFFER_USER_DEFINED_SIZE = 120;
export const OFFER_SUB_CHANNEL_INDEX = 180; // u16
export const OFFER_RESERVED3 = 182; // u16
export const OFFER_CHILD_RELID = 184; // u32
export const OFFER_MONITOR_ID = 188; // u8
export const OFFER_MONITOR_ALLOCATED = 189; // u8 bit 0
export const OFFER_DEDICATED_INTERRUPT = 190; // u16 bit 0
export const OFFER_CONNECTION_ID = 192; // u32, what the guest passes to HvSignalEvent
export const OFFER_SIZE = 196;
/** Linux keeps channels in a table of 2048 relids (MAX_CHANNEL_RELIDS); relid 0 is reserved. */
export const MAX_CHANNEL_RELIDS = 2048;

export interface OfferFields {
  classId: string;
  instanceId: string;
  flags: number;
  mmioMegabytes: number;
  userDefined: Uint8Array | null;
  subChannelIndex: number;
  childRelid: number;
  connectionId: number;
}

/** OFFERCHANNEL as the server sends it: no monitor page (monitor_allocated 0, monitorid 0xff), so Linux
 *  signals every channel by HvSignalEvent; dedicated interrupt as Hyper-V since Windows 8. */
export function encodeOffer(o: OfferFields): Uint8Array {
  const m = newMessage(CHANNELMSG_OFFERCHANNEL, OFFER_SIZE);
  writeGuid(m, OFFER_IF_TYPE, o.classId);
  writeGuid(m, OFFER_IF_INSTANCE, o.instanceId);
  writeU16(m, OFFER_CHN_FLAGS, o.flags);
  writeU16(m, OFFER_MMIO_MEGABYTES, o.mmioMegabytes);
  if (o.userDefined) m.set(o.userDefined.subarray(0, OFFER_USER_DEFINED_SIZE), OFFER_USER_DEFINED);
  writeU16(m, OFFER_SUB_CHANNEL_INDEX, o.subChannelIndex);
  writeU32(m, OFFER_CHILD_RELID, o.childRelid);
  m[OFFER_MONITOR_ID] = 0xff;
  m[OFFER_MONITOR_ALLOCATED] = 0;
  writeU16(m, OFFER_DEDICATED_INTERRUPT, 1);
  writeU32(m, OFFER_CONNECTION_ID, o.connectionId);
  return m;
}

export interface DecodedOffer extends OfferFields { monitorAllocated: boolean; dedicatedInterrupt: boolean }

export function decodeOffer(m: Uint8Array): DecodedOffer | null {
  if (m.length < OFFER_SIZE) return null;
  return {
    classId: readGuid(m, OFFER_IF_TYPE),
    instanceId: readGuid(m, OFFER_IF_INSTANCE),
    flags: readU16(m, OFFER_CHN_FLAGS),
    mmioMegabytes: readU16(m, OFFER_MMIO_MEGABYTES),
    userDefined: m.slice(OFFER_USER_DEFINED, OFFER_USER_DEFINED + OFFER_USER_DEFINED_SIZE),
    subChannelIndex: readU16(m, OFFER_SUB_CHANNEL_INDEX),
    childRelid: readU32(m, OFFER_CHILD_RELID),
    connectionId: readU32(m, OFFER_CONNECTION_ID),
    monitorAllocated: (m[OFFER_MONITOR_ALLOCATED] & 1) !== 0,
    dedicatedInterrupt: (readU16(m, OFFER_DEDICATED_INTERRUPT) & 1) !== 0,
  };
}
