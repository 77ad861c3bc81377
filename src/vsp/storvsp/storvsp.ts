// storvsp: the synthetic SCSI controller a Linux guest's hv_storvsc drives over one VMBus channel. The guest
// runs the init handshake (BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION until we accept one,
// QUERY_PROPERTIES, END_INITIALIZATION), then sends EXECUTE_SRB packets: in-band for commands without data,
// GPA-direct for commands with data (one page range over the guest's buffer). Each gets one COMPLETE_IO with
// the same transaction id carrying the SRB status, the SCSI status, the bytes moved and the sense data.
// Disk I/O is synchronous (the Disk API is), so a request completes before the next packet is read; a
// completion the full ring cannot take waits in order for `writable`.
import type { ChannelOffer, IncomingPacket, PageRange, Vsp, VspChannel } from '../../vmbus/index.js';
import { PACKET_FLAG_COMPLETION_REQUESTED, PACKET_TYPE_COMP, PACKET_TYPE_DATA_USING_GPA_DIRECT, RingStatus } from '../../vmbus/index.js';
import {
  MAX_CDB_LENGTH, put16, put32, SENSE_BUFFER_SIZE, SRB_CDB, SRB_CDB_LENGTH, SRB_DATA_TRANSFER_LENGTH, SRB_LUN,
  SRB_PATH_ID, SRB_SCSI_STATUS, SRB_SENSE_DATA, SRB_SENSE_INFO_LENGTH, SRB_SRB_STATUS, SRB_TARGET_ID,
  SrbStatus, STATUS_INVALID_DEVICE_STATE, STATUS_NOT_SUPPORTED, STATUS_REVISION_MISMATCH, STATUS_SUCCESS,
  STORVSC_CLASS_ID, SUPPORTED_VERSIONS, u16, u32, VP_FLAGS, VP_OPERATION, VP_PROP_FLAGS,
  VP_PROP_MAX_CHANNEL_COUNT, VP_PROP_MAX_TRANSFER_BYTES, VP_STATUS, VP_VERSION, VSTOR_PACKET_SIZE, VstorOperation,
} from './protocol.js';
import { ArrayDataBuffer, CommandResult, Outcome, ScsiController, type ControllerDisk, type DataBuffer } from './scsi/index.js';

/** What storvsp tells the guest it may send in one request (openvmm's value; Linux: max_sectors 512, 65 SG entries). */
export const DEFAULT_MAX_TRANSFER_BYTES = 0x40000;

export interface StorvspOptions {
  /** The disks, as LUNs 0..n-1. */
  disks: readonly ControllerDisk[];
  /** The controller's instance GUID (unique in the VM). */
  instanceId: string;
  maxTransferBytes?: number;
  /** Where refused guest input is reported (one line each); default: nowhere (it is counted either way). */
  log?: (line: string) => void;
}

/**
 * Completions held while the guest does not drain its ring. Linux never has more requests outstanding than its
 * ring holds (hundreds); past this a guest is not reading its completions, and new requests are refused
 * unexecuted so it cannot grow host memory without bound.
 */
export const MAX_PENDING_COMPLETIONS = 4096;

const enum InitState { Closed, WaitBegin, WaitVersion, WaitProperties, WaitEnd, Ready }
const STATE_NAMES = ['closed', 'wait-begin', 'wait-version', 'wait-properties', 'wait-end', 'ready'];

/** The guest's buffer for one request: its GPA-direct ranges, read and written through the channel. */
class GuestBuffer implements DataBuffer {
  channel: VspChannel | null = null;
  ranges: readonly PageRange[] = [];
  length = 0;
  fetch(offset: number, dest: Uint8Array): boolean { return this.channel !== null && this.channel.readGuest(this.ranges, offset, dest); }
  deliver(offset: number, src: Uint8Array): boolean { return this.channel !== null && this.channel.writeGuest(this.ranges, offset, src); }
}

interface Pending { transIdLo: number; transIdHi: number; payload: Uint8Array }

export class Storvsp implements Vsp {
  readonly offer: ChannelOffer;
  readonly controller: ScsiController;
  private readonly maxTransferBytes: number;
  private readonly log: ((line: string) => void) | null;
  private channel: VspChannel | null = null;
  private state = InitState.Closed;
  private version = 0;
  // Reused per request: the reply, the CDB, the guest buffer, the SCSI result.
  private readonly reply = new Uint8Array(VSTOR_PACKET_SIZE);
  private readonly cdb = new Uint8Array(MAX_CDB_LENGTH);
  private readonly guestBuffer = new GuestBuffer();
  private readonly noData = new ArrayDataBuffer(new Uint8Array(0));
  private readonly result = new CommandResult();
  /** Completions the ring had no room for, oldest first. */
  private readonly pending: Pending[] = [];
  readonly counters = { packets: 0, srbs: 0, refused: 0, errors: 0, ringFull: 0, opens: 0 };

  constructor(options: StorvspOptions) {
    this.maxTransferBytes = options.maxTransferBytes ?? DEFAULT_MAX_TRANSFER_BYTES;
    this.controller = new ScsiController(options.disks, this.maxTransferBytes);
    this.offer = { classId: STORVSC_CLASS_ID, instanceId: options.instanceId, name: 'storvsp' };
    this.log = options.log ?? null;
  }

  open(channel: VspChannel, _userData: Uint8Array): boolean {
    if (this.channel !== null) return false; // one channel: no sub-channels are offered
    this.channel = channel;
    this.guestBuffer.channel = channel;
    this.state = InitState.WaitBegin;
    this.version = 0;
    this.pending.length = 0;
    this.counters.opens++;
    return true;
  }

  close(channel: VspChannel): void {
    if (channel !== this.channel) return;
    this.channel = null;
    this.guestBuffer.channel = null;
    this.state = InitState.Closed;
    this.pending.length = 0;
    // The guest may not have flushed (driver unload, reset): what it wrote still reaches the host's files.
    try { this.controller.flush(); } catch (e) { this.refuse(`flush at close failed: ${(e as Error).message}`); }
  }

  writable(channel: VspChannel): void {
    if (channel === this.channel) this.drain();
  }

  packet(channel: VspChannel, p: IncomingPacket): void {
    if (channel !== this.channel) return;
    this.counters.packets++;
    const v = p.payload;
    if (v.length < VSTOR_PACKET_SIZE) return this.refuse(`packet of ${v.length} bytes, shorter than a vstor_packet (64)`);
    const op = u32(v, VP_OPERATION);
    if (this.pending.length >= MAX_PENDING_COMPLETIONS) return this.refuse(`operation ${op} refused: ${this.pending.length} completions wait for the guest to read its ring`);
    const reply = this.reply;
    reply.set(v.subarray(0, VSTOR_PACKET_SIZE));
    put32(reply, VP_OPERATION, VstorOperation.COMPLETE_IO);
    put32(reply, VP_FLAGS, 0);
    let status = STATUS_SUCCESS;
    switch (op) {
      case VstorOperation.BEGIN_INITIALIZATION:
        if (this.state === InitState.Ready) status = STATUS_INVALID_DEVICE_STATE;
        else this.state = InitState.WaitVersion;
        break;
      case VstorOperation.QUERY_PROTOCOL_VERSION: {
        const version = u16(v, VP_VERSION);
        if (this.state !== InitState.WaitVersion) status = STATUS_INVALID_DEVICE_STATE;
        else if (!SUPPORTED_VERSIONS.includes(version)) status = STATUS_REVISION_MISMATCH;
        else { this.version = version; this.state = InitState.WaitProperties; }
        break;
      }
      case VstorOperation.QUERY_PROPERTIES:
        if (this.state !== InitState.WaitProperties) { status = STATUS_INVALID_DEVICE_STATE; break; }
        reply.fill(0, 12, VSTOR_PACKET_SIZE);
        put16(reply, VP_PROP_MAX_CHANNEL_COUNT, 0); // no sub-channels, and the multi-channel flag stays clear
        put32(reply, VP_PROP_FLAGS, 0);
        put32(reply, VP_PROP_MAX_TRANSFER_BYTES, this.maxTransferBytes);
        this.state = InitState.WaitEnd;
        break;
      case VstorOperation.END_INITIALIZATION:
        if (this.state !== InitState.WaitEnd) status = STATUS_INVALID_DEVICE_STATE;
        else this.state = InitState.Ready;
        break;
      case VstorOperation.EXECUTE_SRB:
        if (this.state !== InitState.Ready) { status = STATUS_INVALID_DEVICE_STATE; break; }
        this.executeSrb(v, p);
        break;
      case VstorOperation.RESET_BUS:
      case VstorOperation.RESET_ADAPTER:
      case VstorOperation.RESET_LUN:
        // Requests complete synchronously, so nothing is outstanding to abort.
        break;
      case VstorOperation.CREATE_SUB_CHANNELS: // not offered (QUERY_PROPERTIES says no multi-channel)
        status = STATUS_INVALID_DEVICE_STATE;
        break;
      default:
        status = STATUS_NOT_SUPPORTED;
        this.refuse(`operation ${op} not supported`);
    }
    if (status !== STATUS_SUCCESS) this.counters.errors++;
    put32(reply, VP_STATUS, status);
    if ((p.flags & PACKET_FLAG_COMPLETION_REQUESTED) !== 0) this.send(p.transIdLo, p.transIdHi, reply);
  }

  /** Runs the SRB in `v` and writes its outcome into the reply's vm_srb. */
  private executeSrb(v: Uint8Array, p: IncomingPacket): void {
    this.counters.srbs++;
    const reply = this.reply;
    const r = this.result;
    const cdbLength = v[SRB_CDB_LENGTH];
    const transfer = u32(v, SRB_DATA_TRANSFER_LENGTH);
    let data: DataBuffer | null = null;
    if (cdbLength === 0 || cdbLength > MAX_CDB_LENGTH) {
      this.refuse(`EXECUTE_SRB with cdb_length ${cdbLength}`);
    } else if (transfer === 0) {
      data = this.noData;
    } else if (p.type === PACKET_TYPE_DATA_USING_GPA_DIRECT && p.ranges !== null) {
      let room = 0;
      for (const range of p.ranges) room += range.byteCount;
      if (transfer <= room) {
        this.guestBuffer.ranges = p.ranges;
        this.guestBuffer.length = transfer;
        data = this.guestBuffer;
      } else this.refuse(`EXECUTE_SRB for ${transfer} bytes over ranges of ${room}`);
    } else {
      this.refuse(`EXECUTE_SRB for ${transfer} bytes without GPA-direct ranges`);
    }
    let srbStatus: number;
    if (data === null) {
      r.reset();
      srbStatus = SrbStatus.INVALID_REQUEST;
    } else {
      this.cdb.fill(0);
      this.cdb.set(v.subarray(SRB_CDB, SRB_CDB + cdbLength));
      this.controller.execute(v[SRB_PATH_ID], v[SRB_TARGET_ID], v[SRB_LUN], this.cdb, cdbLength, data, r);
      srbStatus = srbStatusOf(r.outcome);
    }
    reply[SRB_SCSI_STATUS] = r.status;
    put32(reply, SRB_DATA_TRANSFER_LENGTH, r.transferred);
    reply.fill(0, SRB_SENSE_DATA, SRB_SENSE_DATA + SENSE_BUFFER_SIZE);
    if (r.senseLength > 0) {
      const n = Math.min(r.senseLength, v[SRB_SENSE_INFO_LENGTH], SENSE_BUFFER_SIZE);
      reply.set(r.sense.subarray(0, n), SRB_SENSE_DATA);
      reply[SRB_SENSE_INFO_LENGTH] = n;
      if (n > 0) srbStatus |= SrbStatus.AUTOSENSE_VALID;
    } else {
      reply[SRB_SENSE_INFO_LENGTH] = 0;
    }
    reply[SRB_SRB_STATUS] = srbStatus;
    if (r.outcome === Outcome.TransferFailed) this.refuse(`SRB 0x${this.cdb[0].toString(16)}: guest buffer is not RAM`);
  }

  private send(lo: number, hi: number, payload: Uint8Array): void {
    const channel = this.channel;
    if (channel === null) return;
    if (this.pending.length === 0) {
      const s = channel.send(PACKET_TYPE_COMP, 0, lo, hi, payload);
      if (s === RingStatus.Ok || s === RingStatus.OkSignal) return;
      if (s !== RingStatus.Full) { this.refuse(`completion not sent: ring status ${s}`); return; }
    }
    this.counters.ringFull++;
    this.pending.push({ transIdLo: lo, transIdHi: hi, payload: payload.slice() });
  }

  private drain(): void {
    const channel = this.channel;
    while (channel !== null && this.pending.length > 0) {
      const next = this.pending[0];
      const s = channel.send(PACKET_TYPE_COMP, 0, next.transIdLo, next.transIdHi, next.payload);
      if (s === RingStatus.Full) return;
      this.pending.shift();
      if (s !== RingStatus.Ok && s !== RingStatus.OkSignal) this.refuse(`completion not sent: ring status ${s}`);
    }
  }

  private refuse(why: string): void {
    this.counters.refused++;
    if (this.log !== null) this.log(`storvsp: ${why}`);
  }

  inspect(): Record<string, unknown> {
    return {
      state: STATE_NAMES[this.state],
      version: this.version === 0 ? null : `${this.version >>> 8}.${this.version & 0xff}`,
      maxTransferBytes: this.maxTransferBytes,
      pendingCompletions: this.pending.length,
      ...this.counters,
      luns: this.controller.inspect(),
    };
  }
}

/** The SRB status storvsc's completion handling expects for each outcome (storvsc_handle_error). */
function srbStatusOf(o: Outcome): number {
  switch (o) {
    case Outcome.Good: return SrbStatus.SUCCESS;
    case Outcome.CheckCondition: return SrbStatus.ERROR; // + AUTOSENSE_VALID: Linux acts on the sense
    case Outcome.Overrun: return SrbStatus.DATA_OVERRUN;
    case Outcome.InvalidLun: return SrbStatus.INVALID_LUN;
    default: return SrbStatus.ERROR; // TransferFailed: no sense, so Linux fails the command (DID_ERROR)
  }
}
