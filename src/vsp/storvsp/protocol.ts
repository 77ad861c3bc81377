// The storvsc/storvsp wire protocol (Linux drivers/scsi/storvsc_drv.c; linux-hyperv-guest-contract.md §9):
// the 64-byte vstor_packet {u32 operation, u32 flags, u32 status, 52-byte union} and the vmscsi_request in
// its union, in the sizes of the Win8-and-later protocols (vmscsi_size_delta 0), which are all Linux 6.1
// offers. Offsets are from the start of the vstor_packet.

/** The storvsc device class (include/linux/hyperv.h HV_SCSI_GUID). */
export const STORVSC_CLASS_ID = 'ba6163d9-04a1-4d29-b605-72e2ffb1dc7f';

export const VSTOR_PACKET_SIZE = 64;

export const enum VstorOperation {
  COMPLETE_IO = 1,
  REMOVE_DEVICE = 2,
  EXECUTE_SRB = 3,
  RESET_LUN = 4,
  RESET_ADAPTER = 5,
  RESET_BUS = 6,
  BEGIN_INITIALIZATION = 7,
  END_INITIALIZATION = 8,
  QUERY_PROTOCOL_VERSION = 9,
  QUERY_PROPERTIES = 10,
  ENUMERATE_BUS = 11,
  FCHBA_DATA = 12,
  CREATE_SUB_CHANNELS = 13,
}

// vstor_packet header.
export const VP_OPERATION = 0;
export const VP_FLAGS = 4;
export const VP_STATUS = 8;
/** REQUEST_COMPLETION_FLAG in vstor_packet.flags. */
export const REQUEST_COMPLETION_FLAG = 1;

// vmstorage_protocol_version {u16 major_minor, u16 revision} @12.
export const VP_VERSION = 12;
export const VP_REVISION = 14;
/** Protocol versions (major << 8 | minor) a Linux 6.1 guest offers, newest first: Win10, Win8.1, Win8. */
export const VMSTOR_PROTO_VERSION_WIN10 = 0x0602;
export const VMSTOR_PROTO_VERSION_WIN8_1 = 0x0600;
export const VMSTOR_PROTO_VERSION_WIN8 = 0x0501;
export const SUPPORTED_VERSIONS: readonly number[] = [VMSTOR_PROTO_VERSION_WIN10, VMSTOR_PROTO_VERSION_WIN8_1, VMSTOR_PROTO_VERSION_WIN8];

// vmstorage_channel_properties {u32 reserved, u16 max_channel_cnt, u16 reserved1, u32 flags,
// u32 max_transfer_bytes, u64 reserved2} @12.
export const VP_PROP_MAX_CHANNEL_COUNT = 16;
export const VP_PROP_FLAGS = 20;
export const VP_PROP_MAX_TRANSFER_BYTES = 24;
/** STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL in the properties' flags (we leave it clear: no sub-channels). */
export const STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL = 1;

// vmscsi_request @12 (52 bytes: the Win8 size).
export const SRB_LENGTH = 12;
export const SRB_SRB_STATUS = 14;
export const SRB_SCSI_STATUS = 15;
export const SRB_PORT = 16;
export const SRB_PATH_ID = 17;
export const SRB_TARGET_ID = 18;
export const SRB_LUN = 19;
export const SRB_CDB_LENGTH = 20;
export const SRB_SENSE_INFO_LENGTH = 21;
export const SRB_DATA_IN = 22;
export const SRB_DATA_TRANSFER_LENGTH = 24;
/** The CDB (16 bytes) in a request, the sense data (20 bytes) in a completion: the same union. */
export const SRB_CDB = 28;
export const SRB_SENSE_DATA = 28;
export const SRB_SRB_FLAGS = 52;
/** sizeof(struct vmscsi_request) for Win8 and later: what storvsc puts in vm_srb.length. */
export const VMSCSI_REQUEST_SIZE = 0x34;
export const MAX_CDB_LENGTH = 16;
/** POST_WIN7_STORVSC_SENSE_BUFFER_SIZE. */
export const SENSE_BUFFER_SIZE = 0x14;

/** vm_srb.data_in: storvsc_request_type. */
export const enum SrbDirection { WRITE = 0, READ = 1, UNKNOWN = 2 }

/** SRB status codes (the subset storvsc's error handling distinguishes). */
export const enum SrbStatus {
  SUCCESS = 0x01,
  ABORTED = 0x02,
  ERROR = 0x04,
  INVALID_REQUEST = 0x06,
  DATA_OVERRUN = 0x12,
  INVALID_LUN = 0x20,
  /** ORed in when sense_data holds sense for a CHECK CONDITION. */
  AUTOSENSE_VALID = 0x80,
}

/** NT statuses in vstor_packet.status. */
export const STATUS_SUCCESS = 0;
/** A protocol version we do not speak (Linux then offers the next older one). */
export const STATUS_REVISION_MISMATCH = 0xc0000059;
/** An operation out of order (e.g. EXECUTE_SRB before END_INITIALIZATION). */
export const STATUS_INVALID_DEVICE_STATE = 0xc0000184;
/** An operation we do not implement. */
export const STATUS_NOT_SUPPORTED = 0xc00000bb;

/** Linux's transaction ids for init and reset packets (VMBUS_RQST_INIT / VMBUS_RQST_RESET), low/high halves. */
export const RQST_INIT_LO = 0xfffffffd;
export const RQST_RESET_LO = 0xfffffffc;
export const RQST_HI = 0xffffffff;

export function u16(b: Uint8Array, at: number): number { return b[at] | (b[at + 1] << 8); }
export function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}
export function put16(b: Uint8Array, at: number, v: number): void { b[at] = v & 0xff; b[at + 1] = (v >>> 8) & 0xff; }
export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff; b[at + 1] = (v >>> 8) & 0xff; b[at + 2] = (v >>> 16) & 0xff; b[at + 3] = (v >>> 24) & 0xff;
}
