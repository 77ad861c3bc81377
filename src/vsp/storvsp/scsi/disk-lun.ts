// A SCSI direct-access logical unit over a Disk (SBC-3): decodes a CDB, moves data between the disk and the
// initiator's buffer through a scratch area in chunks, and reports GOOD or CHECK CONDITION with sense.
// Everything in the CDB and the data-out comes from the guest and is checked before the disk sees it.
import type { Disk } from '../../../storage/index.js';
import { be16, be24, be32, be64, put32, put64 } from './big-endian.js';
import { CommandResult, Outcome, type DataBuffer } from './command.js';
import { Asc, Op, SAI_READ_CAPACITY_16, ScsiStatus, SenseKey } from './constants.js';
import { standardInquiry, vpdPage, type VpdFacts } from './inquiry.js';
import { modeSense, PageControl } from './mode-sense.js';
import { writeFixedSense } from './sense.js';

export interface DiskLunOptions {
  /** Unit serial number (VPD 0x80/0x83); printable ASCII, at most 32 characters. */
  serial: string;
  /** The largest transfer the controller takes, in bytes (what storvsp announces). */
  maxTransferBytes: number;
}

export interface DiskLunStats {
  reads: number; writes: number; bytesRead: number; bytesWritten: number;
  flushes: number; unmaps: number; blocksUnmapped: number; checkConditions: number; diskErrors: number;
}

const MAX_UNMAP_DESCRIPTORS = 64;
/** UNMAP discards at most this many bytes per command, so one guest command cannot hold the VP for long. */
const MAX_UNMAP_BYTES = 1 << 30;
const UNMAP_HEADER = 8;
const UNMAP_DESCRIPTOR = 16;

/** The CDB length an operation code's group fixes (SPC-4 4.3.2); 6 for groups without a fixed length. */
export function cdbGroupLength(op: number): number {
  switch (op >>> 5) {
    case 0: return 6;
    case 1: case 2: return 10;
    case 4: return 16;
    case 5: return 12;
    default: return 6;
  }
}

export class DiskLun {
  readonly blockSize: number;
  readonly blocks: number;
  readonly readOnly: boolean;
  readonly stats: DiskLunStats = { reads: 0, writes: 0, bytesRead: 0, bytesWritten: 0, flushes: 0, unmaps: 0, blocksUnmapped: 0, checkConditions: 0, diskErrors: 0 };
  private readonly vpd: VpdFacts;
  /** The last disk error, for inspect(). */
  private lastError: string | null = null;

  /** `scratch` is the controller's transfer area (at least 64 KiB, a multiple of the block size). */
  constructor(readonly disk: Disk, private readonly scratch: Uint8Array, options: DiskLunOptions) {
    this.blockSize = disk.logicalSectorSize;
    this.blocks = Math.floor(disk.capacity / this.blockSize);
    this.readOnly = disk.readOnly;
    const maxBlocks = Math.floor(options.maxTransferBytes / this.blockSize);
    let granularity = 0;
    try {
      const bs = disk.info().blockSize;
      if (bs !== null && bs % this.blockSize === 0) granularity = bs / this.blockSize;
    } catch { /* info is descriptive only */ }
    this.vpd = {
      serial: options.serial,
      blocksPerPhysical: Math.max(1, Math.floor(disk.physicalSectorSize / this.blockSize)),
      maxTransferBlocks: maxBlocks,
      unmap: !this.readOnly,
      maxUnmapBlocks: Math.floor(MAX_UNMAP_BYTES / this.blockSize),
      maxUnmapDescriptors: MAX_UNMAP_DESCRIPTORS,
      unmapGranularity: granularity,
      maxWriteSameBlocks: maxBlocks,
    };
  }

  /** Runs one command. `cdb` holds at least `cdbLength` (1..16) bytes. */
  execute(cdb: Uint8Array, cdbLength: number, data: DataBuffer, r: CommandResult): void {
    r.reset();
    // A CDB shorter than its operation code's group says would have its fields read from stale bytes.
    if (cdbLength < cdbGroupLength(cdb[0])) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    switch (cdb[0]) {
      case Op.TEST_UNIT_READY:
      case Op.START_STOP_UNIT:
      case Op.PREVENT_ALLOW_MEDIUM_REMOVAL:
        return;
      case Op.REQUEST_SENSE: // autosense comes with every error, so nothing is ever pending: NO SENSE
        return this.dataIn(data, r, writeFixedSense(this.scratch, SenseKey.NO_SENSE, Asc.NONE), cdb[4]);
      case Op.INQUIRY:
        return this.inquiry(cdb, data, r);
      case Op.MODE_SENSE_6:
      case Op.MODE_SENSE_10:
        return this.modeSense(cdb, data, r);
      case Op.READ_CAPACITY_10: {
        const s = this.scratch;
        put32(s, 0, this.blocks - 1 > 0xffffffff ? 0xffffffff : this.blocks - 1); // all ones: use READ CAPACITY(16)
        put32(s, 4, this.blockSize);
        return this.dataIn(data, r, 8, 8);
      }
      case Op.SERVICE_ACTION_IN_16:
        if ((cdb[1] & 0x1f) !== SAI_READ_CAPACITY_16) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
        return this.readCapacity16(cdb, data, r);
      case Op.READ_6: {
        const n = cdb[4] === 0 ? 256 : cdb[4]; // SBC-3: a READ(6) of 0 blocks means 256
        return this.read((be24(cdb, 1) & 0x1fffff), n, data, r);
      }
      case Op.READ_10: return this.read(be32(cdb, 2), be16(cdb, 7), data, r);
      case Op.READ_12: return this.read(be32(cdb, 2), be32(cdb, 6), data, r);
      case Op.READ_16: return this.read(be64(cdb, 2), be32(cdb, 10), data, r);
      case Op.WRITE_6: {
        const n = cdb[4] === 0 ? 256 : cdb[4];
        return this.write(be24(cdb, 1) & 0x1fffff, n, false, data, r);
      }
      case Op.WRITE_10: return this.write(be32(cdb, 2), be16(cdb, 7), (cdb[1] & 0x08) !== 0, data, r);
      case Op.WRITE_12: return this.write(be32(cdb, 2), be32(cdb, 6), (cdb[1] & 0x08) !== 0, data, r);
      case Op.WRITE_16: return this.write(be64(cdb, 2), be32(cdb, 10), (cdb[1] & 0x08) !== 0, data, r);
      case Op.VERIFY_10: // BYTCHK 0 only: the medium is always readable, so verification always passes
        if ((cdb[1] & 0x06) !== 0) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
        this.inRange(be32(cdb, 2), be16(cdb, 7), r);
        return;
      case Op.VERIFY_16:
        if ((cdb[1] & 0x06) !== 0) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
        this.inRange(be64(cdb, 2), be32(cdb, 10), r);
        return;
      case Op.SYNCHRONIZE_CACHE_10:
        return this.synchronize(be32(cdb, 2), be16(cdb, 7), r);
      case Op.SYNCHRONIZE_CACHE_16:
        return this.synchronize(be64(cdb, 2), be32(cdb, 10), r);
      case Op.WRITE_SAME_10:
        return this.writeSame(cdb, be32(cdb, 2), be16(cdb, 7), data, r);
      case Op.WRITE_SAME_16:
        return this.writeSame(cdb, be64(cdb, 2), be32(cdb, 10), data, r);
      case Op.UNMAP:
        return this.unmap(cdb, data, r);
      default:
        // MODE SELECT included: nothing on the mode pages is changeable.
        return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_COMMAND_OPERATION_CODE);
    }
  }

  check(r: CommandResult, key: SenseKey, asc: Asc): void {
    r.outcome = Outcome.CheckCondition;
    r.status = ScsiStatus.CHECK_CONDITION;
    r.senseLength = writeFixedSense(r.sense, key, asc);
    r.transferred = 0;
    this.stats.checkConditions++;
  }

  /** Delivers `length` bytes of the scratch area, cut to the allocation length and the initiator's buffer. */
  private dataIn(data: DataBuffer, r: CommandResult, length: number, allocation: number): void {
    const n = Math.min(length, allocation, data.length);
    if (n > 0 && !data.deliver(0, this.scratch.subarray(0, n))) { r.outcome = Outcome.TransferFailed; return; }
    r.transferred = n;
  }

  private inquiry(cdb: Uint8Array, data: DataBuffer, r: CommandResult): void {
    const allocation = be16(cdb, 3);
    if ((cdb[1] & 0x01) === 0) {
      if (cdb[2] !== 0) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
      return this.dataIn(data, r, standardInquiry(this.scratch, true), allocation);
    }
    const n = vpdPage(this.scratch, cdb[2], this.vpd);
    if (n < 0) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    this.dataIn(data, r, n, allocation);
  }

  private modeSense(cdb: Uint8Array, data: DataBuffer, r: CommandResult): void {
    const ten = cdb[0] === Op.MODE_SENSE_10;
    const pc = (cdb[2] >>> 6) as PageControl;
    if (pc === PageControl.Saved) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.SAVING_PARAMETERS_NOT_SUPPORTED);
    const n = modeSense(this.scratch, ten, (cdb[1] & 0x08) !== 0, pc, cdb[2] & 0x3f, cdb[3],
      { readOnly: this.readOnly, blocks: this.blocks, blockSize: this.blockSize });
    if (n < 0) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    this.dataIn(data, r, n, ten ? be16(cdb, 7) : cdb[4]);
  }

  private readCapacity16(cdb: Uint8Array, data: DataBuffer, r: CommandResult): void {
    const s = this.scratch;
    s.fill(0, 0, 32);
    put64(s, 0, this.blocks - 1);
    put32(s, 8, this.blockSize);
    s[13] = Math.log2(this.vpd.blocksPerPhysical) & 0x0f; // logical blocks per physical block exponent
    if (this.vpd.unmap) s[14] = 0x80; // LBPME: thin provisioned, UNMAP described by VPD 0xB0/0xB2
    this.dataIn(data, r, 32, be32(cdb, 10));
  }

  /** True when blocks [lba, lba + count) lie on the disk; otherwise sets LBA OUT OF RANGE. */
  private inRange(lba: number, count: number, r: CommandResult): boolean {
    if (lba + count > this.blocks) { this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.LBA_OUT_OF_RANGE); return false; }
    return true;
  }

  private read(lba: number, count: number, data: DataBuffer, r: CommandResult): void {
    if (!this.inRange(lba, count, r)) return;
    const bytes = count * this.blockSize;
    if (bytes > data.length) { r.outcome = Outcome.Overrun; return; }
    const chunk = this.scratch.length;
    let done = 0;
    try {
      while (done < bytes) {
        const n = Math.min(chunk, bytes - done);
        const view = this.scratch.subarray(0, n);
        this.disk.read(lba * this.blockSize + done, view);
        if (!data.deliver(done, view)) { r.outcome = Outcome.TransferFailed; r.transferred = done; return; }
        done += n;
      }
    } catch (e) {
      this.diskError(e);
      return this.check(r, SenseKey.MEDIUM_ERROR, Asc.UNRECOVERED_READ_ERROR);
    }
    this.stats.reads++;
    this.stats.bytesRead += bytes;
    r.transferred = bytes;
  }

  private write(lba: number, count: number, fua: boolean, data: DataBuffer, r: CommandResult): void {
    if (this.readOnly) return this.check(r, SenseKey.DATA_PROTECT, Asc.WRITE_PROTECTED);
    if (!this.inRange(lba, count, r)) return;
    const bytes = count * this.blockSize;
    if (bytes > data.length) { r.outcome = Outcome.Overrun; return; }
    const chunk = this.scratch.length;
    let done = 0;
    try {
      while (done < bytes) {
        const n = Math.min(chunk, bytes - done);
        const view = this.scratch.subarray(0, n);
        if (!data.fetch(done, view)) { r.outcome = Outcome.TransferFailed; r.transferred = done; return; }
        this.disk.write(lba * this.blockSize + done, view);
        done += n;
      }
      if (fua) { this.disk.flush(); this.stats.flushes++; }
    } catch (e) {
      this.diskError(e);
      return this.check(r, SenseKey.MEDIUM_ERROR, Asc.WRITE_ERROR);
    }
    this.stats.writes++;
    this.stats.bytesWritten += bytes;
    r.transferred = bytes;
  }

  /** SYNCHRONIZE CACHE: the whole disk is flushed whatever the range (the host's fsync has no narrower form). */
  private synchronize(lba: number, count: number, r: CommandResult): void {
    if (!this.inRange(lba, count, r)) return;
    if (this.readOnly) return;
    try {
      this.disk.flush();
    } catch (e) {
      this.diskError(e);
      return this.check(r, SenseKey.MEDIUM_ERROR, Asc.WRITE_ERROR);
    }
    this.stats.flushes++;
  }

  /**
   * WRITE SAME: one block of data-out (or zeros with NDOB) written over the range. The UNMAP bit is a hint we
   * do not take: with LBPRZ clear an unmapped block need not read back as the pattern, so we write it.
   */
  private writeSame(cdb: Uint8Array, lba: number, count: number, data: DataBuffer, r: CommandResult): void {
    if (this.readOnly) return this.check(r, SenseKey.DATA_PROTECT, Asc.WRITE_PROTECTED);
    const ndob = cdb[0] === Op.WRITE_SAME_16 && (cdb[1] & 0x01) !== 0;
    // WSNZ is set: 0 blocks is refused; ANCHOR/LBDATA/PBDATA are not supported.
    if (count === 0 || count > this.vpd.maxWriteSameBlocks || (cdb[1] & 0x16) !== 0) {
      return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_CDB);
    }
    if (!this.inRange(lba, count, r)) return;
    const bs = this.blockSize;
    const s = this.scratch;
    if (ndob) s.fill(0, 0, bs);
    else {
      if (data.length < bs) { r.outcome = Outcome.Overrun; return; }
      if (!data.fetch(0, s.subarray(0, bs))) { r.outcome = Outcome.TransferFailed; return; }
    }
    const perChunk = Math.min(count, Math.floor(s.length / bs));
    for (let i = 1; i < perChunk; i++) s.copyWithin(i * bs, 0, bs);
    try {
      for (let done = 0; done < count;) {
        const n = Math.min(perChunk, count - done);
        this.disk.write((lba + done) * bs, s.subarray(0, n * bs));
        done += n;
      }
    } catch (e) {
      this.diskError(e);
      return this.check(r, SenseKey.MEDIUM_ERROR, Asc.WRITE_ERROR);
    }
    this.stats.writes++;
    this.stats.bytesWritten += count * bs;
    r.transferred = ndob ? 0 : bs;
  }

  /** UNMAP (SBC-3 5.28): each block descriptor's range reaches the disk's discard. */
  private unmap(cdb: Uint8Array, data: DataBuffer, r: CommandResult): void {
    if (this.readOnly) return this.check(r, SenseKey.DATA_PROTECT, Asc.WRITE_PROTECTED);
    const listLength = be16(cdb, 7);
    if (listLength === 0) return; // nothing to do (SBC-3: not an error)
    if (listLength < UNMAP_HEADER || listLength > UNMAP_HEADER + MAX_UNMAP_DESCRIPTORS * UNMAP_DESCRIPTOR) {
      return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.PARAMETER_LIST_LENGTH_ERROR);
    }
    if (data.length < listLength) { r.outcome = Outcome.Overrun; return; }
    const s = this.scratch;
    if (!data.fetch(0, s.subarray(0, listLength))) { r.outcome = Outcome.TransferFailed; return; }
    const descBytes = be16(s, 2);
    if (descBytes % UNMAP_DESCRIPTOR !== 0 || UNMAP_HEADER + descBytes > listLength) {
      return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.PARAMETER_LIST_LENGTH_ERROR);
    }
    const n = descBytes / UNMAP_DESCRIPTOR;
    let total = 0;
    // Check every descriptor before discarding anything: a bad one fails the command with nothing done.
    for (let i = 0; i < n; i++) {
      const d = UNMAP_HEADER + i * UNMAP_DESCRIPTOR;
      const lba = be64(s, d), count = be32(s, d + 8);
      if (lba + count > this.blocks) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.LBA_OUT_OF_RANGE);
      total += count;
    }
    if (total > this.vpd.maxUnmapBlocks) return this.check(r, SenseKey.ILLEGAL_REQUEST, Asc.INVALID_FIELD_IN_PARAMETER_LIST);
    try {
      for (let i = 0; i < n; i++) {
        const d = UNMAP_HEADER + i * UNMAP_DESCRIPTOR;
        const count = be32(s, d + 8);
        if (count !== 0) this.disk.discard(be64(s, d) * this.blockSize, count * this.blockSize);
      }
    } catch (e) {
      this.diskError(e);
      return this.check(r, SenseKey.MEDIUM_ERROR, Asc.WRITE_ERROR);
    }
    this.stats.unmaps++;
    this.stats.blocksUnmapped += total;
    r.transferred = listLength;
  }

  private diskError(e: unknown): void {
    this.stats.diskErrors++;
    this.lastError = e instanceof Error ? e.message : String(e);
  }

  inspect(): Record<string, unknown> {
    return {
      path: this.disk.path, format: this.disk.format, readOnly: this.readOnly, blocks: this.blocks,
      blockSize: this.blockSize, serial: this.vpd.serial, ...this.stats, lastError: this.lastError,
    };
  }
}
