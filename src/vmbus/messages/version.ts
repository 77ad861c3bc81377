// Version negotiation (include/linux/hyperv.h struct vmbus_channel_initiate_contact and
// struct vmbus_channel_version_response; drivers/hv/connection.c vmbus_negotiate_version;
// linux-hyperv-guest-contract.md §6.2).
import { CHANNELMSG_INITIATE_CONTACT, CHANNELMSG_VERSION_RESPONSE, newMessage, readU32, readU64, writeU32, writeU64 } from './header.js';

// INITIATE_CONTACT, 40 bytes.
export const INITIATE_VERSION_REQUESTED = 8; // u32 (major << 16) | minor
export const INITIATE_TARGET_VCPU = 12; // u32 VP index that gets the host's messages
export const INITIATE_MSG_SINT = 16; // u8 (>= 5.0; union with the u64 interrupt_page before 5.0)
export const INITIATE_MSG_VTL = 17; // u8
export const INITIATE_INTERRUPT_PAGE = 16; // u64 GPA (< 5.0)
export const INITIATE_MONITOR_PAGE1 = 24; // u64 GPA
export const INITIATE_MONITOR_PAGE2 = 32; // u64 GPA
export const INITIATE_CONTACT_SIZE = 40;
// VERSION_RESPONSE, 16 bytes.
export const VERSION_RESPONSE_SUPPORTED = 8; // u8
export const VERSION_RESPONSE_CONNECTION_STATE = 9; // u8, 0 = success
export const VERSION_RESPONSE_MSG_CONN_ID = 12; // u32, used by the guest from 5.0 on
export const VERSION_RESPONSE_SIZE = 16;

export const VERSION_WIN8 = 0x00020004; // 2.4
export const VERSION_WIN8_1 = 0x00030000;
export const VERSION_WIN10 = 0x00040000;
export const VERSION_WIN10_V4_1 = 0x00040001; // MODIFYCHANNEL
export const VERSION_WIN10_V5 = 0x00050000; // connection id 4, msg_conn_id, no interrupt page
export const VERSION_WIN10_V5_1 = 0x00050001;
export const VERSION_WIN10_V5_2 = 0x00050002;
export const VERSION_WIN10_V5_3 = 0x00050003; // MODIFYCHANNEL_RESPONSE
/** The versions the server accepts, newest first: exactly those Linux 6.1 tries (vmbus_versions[]). */
export const SUPPORTED_VERSIONS: readonly number[] = [
  VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1, VERSION_WIN10_V5, VERSION_WIN10_V4_1, VERSION_WIN10,
  VERSION_WIN8_1, VERSION_WIN8,
];

export function versionText(v: number): string { return `${v >>> 16}.${v & 0xffff}`; }

export interface InitiateContact {
  version: number;
  targetVcpu: number;
  /** >= 5.0: the SINT the guest wants messages on (Linux: 2); before 5.0 the low byte of the interrupt page GPA. */
  msgSint: number;
  interruptPage: number;
  monitorPage1: number;
  monitorPage2: number;
}

export function decodeInitiateContact(m: Uint8Array): InitiateContact | null {
  if (m.length < INITIATE_CONTACT_SIZE) return null;
  return {
    version: readU32(m, INITIATE_VERSION_REQUESTED),
    targetVcpu: readU32(m, INITIATE_TARGET_VCPU),
    msgSint: m[INITIATE_MSG_SINT],
    interruptPage: readU64(m, INITIATE_INTERRUPT_PAGE),
    monitorPage1: readU64(m, INITIATE_MONITOR_PAGE1),
    monitorPage2: readU64(m, INITIATE_MONITOR_PAGE2),
  };
}

/** INITIATE_CONTACT as Linux sends it: msg_sint 2 from 5.0 on, else the interrupt page GPA. */
export function encodeInitiateContact(c: { version: number; targetVcpu: number; interruptPage?: number; monitorPage1?: number; monitorPage2?: number }): Uint8Array {
  const m = newMessage(CHANNELMSG_INITIATE_CONTACT, INITIATE_CONTACT_SIZE);
  writeU32(m, INITIATE_VERSION_REQUESTED, c.version);
  writeU32(m, INITIATE_TARGET_VCPU, c.targetVcpu);
  if (c.version >= VERSION_WIN10_V5) m[INITIATE_MSG_SINT] = 2;
  else writeU64(m, INITIATE_INTERRUPT_PAGE, c.interruptPage ?? 0);
  writeU64(m, INITIATE_MONITOR_PAGE1, c.monitorPage1 ?? 0);
  writeU64(m, INITIATE_MONITOR_PAGE2, c.monitorPage2 ?? 0);
  return m;
}

export interface VersionResponse { supported: boolean; connectionState: number; msgConnId: number }

export function encodeVersionResponse(supported: boolean, msgConnId: number): Uint8Array {
  const m = newMessage(CHANNELMSG_VERSION_RESPONSE, VERSION_RESPONSE_SIZE);
  m[VERSION_RESPONSE_SUPPORTED] = supported ? 1 : 0;
  m[VERSION_RESPONSE_CONNECTION_STATE] = 0;
  writeU32(m, VERSION_RESPONSE_MSG_CONN_ID, msgConnId);
  return m;
}

export function decodeVersionResponse(m: Uint8Array): VersionResponse | null {
  if (m.length < VERSION_RESPONSE_SIZE) return null;
  return { supported: m[VERSION_RESPONSE_SUPPORTED] !== 0, connectionState: m[VERSION_RESPONSE_CONNECTION_STATE], msgConnId: readU32(m, VERSION_RESPONSE_MSG_CONN_ID) };
}
