// The VHDX log (MS-VHDX 2.3): a circular buffer of entries, each a 4 KiB-aligned header with descriptors followed
// by data sectors, checksummed with CRC-32C. Metadata updates are written here first, flushed, then applied;
// an image whose writer died is made consistent by replaying the active sequence of entries on open.
import { readU64LE } from './bytes.js';
import { vhdxChecksum } from './crc32c.js';
import { CorruptImageError } from './errors.js';
import { guidEquals, type Guid } from './guid.js';
import { LOG_PROTECTED_END, LOG_SECTOR, MAX_FILE_SIZE, SIG_DATA, SIG_DESC, SIG_LOGE, SIG_ZERO } from './vhdx-constants.js';

const ENTRY_HEADER_SIZE = 64;
const DESCRIPTOR_SIZE = 32;

/** One 4 KiB sector to write at a file offset (a multiple of 4 KiB), or a zeroed range. */
export type LogOp = { kind: 'data'; offset: number; data: Uint8Array } | { kind: 'zero'; offset: number; length: number };

export interface LogEntry {
  position: number;
  length: number;
  sequenceNumber: bigint;
  tail: number;
  flushedFileOffset: number;
  lastFileOffset: number;
  ops: LogOp[];
}

function descriptorSectors(count: number): number {
  return Math.ceil((ENTRY_HEADER_SIZE + count * DESCRIPTOR_SIZE) / LOG_SECTOR);
}

/** How many data sectors fit in one entry of a log of `logLength` bytes. */
export function maxDataSectorsPerEntry(logLength: number): number {
  const sectors = logLength / LOG_SECTOR;
  let n = sectors - 1;
  while (n > 0 && descriptorSectors(n) + n > sectors) n--;
  return n;
}

export function buildLogEntry(p: { logGuid: Guid; sequenceNumber: bigint; tail: number; flushedFileOffset: number; lastFileOffset: number; ops: LogOp[] }): Buffer {
  const dataOps = p.ops.filter((o) => o.kind === 'data');
  const descBytes = descriptorSectors(p.ops.length) * LOG_SECTOR;
  const length = descBytes + dataOps.length * LOG_SECTOR;
  const b = Buffer.alloc(length);
  b.writeUInt32LE(SIG_LOGE, 0);
  b.writeUInt32LE(length, 8);
  b.writeUInt32LE(p.tail, 12);
  b.writeBigUInt64LE(p.sequenceNumber, 16);
  b.writeUInt32LE(p.ops.length, 24);
  Buffer.from(p.logGuid).copy(b, 32);
  b.writeBigUInt64LE(BigInt(p.flushedFileOffset), 48);
  b.writeBigUInt64LE(BigInt(p.lastFileOffset), 56);
  const seqHigh = Number(p.sequenceNumber >> 32n);
  const seqLow = Number(p.sequenceNumber & 0xffffffffn);
  let dataPos = descBytes;
  p.ops.forEach((op, i) => {
    const d = ENTRY_HEADER_SIZE + i * DESCRIPTOR_SIZE;
    if (op.kind === 'zero') {
      b.writeUInt32LE(SIG_ZERO, d);
      b.writeBigUInt64LE(BigInt(op.length), d + 8);
    } else {
      if (op.data.length !== LOG_SECTOR) throw new Error('log data sectors are 4 KiB');
      const src = Buffer.from(op.data.buffer, op.data.byteOffset, LOG_SECTOR);
      b.writeUInt32LE(SIG_DESC, d);
      b.writeUInt32LE(src.readUInt32LE(4092), d + 4);
      src.copy(b, d + 8, 0, 8);
      b.writeUInt32LE(SIG_DATA, dataPos);
      b.writeUInt32LE(seqHigh, dataPos + 4);
      src.copy(b, dataPos + 8, 8, 4092);
      b.writeUInt32LE(seqLow, dataPos + 4092);
      dataPos += LOG_SECTOR;
    }
    b.writeBigUInt64LE(BigInt(op.offset), d + 16);
    b.writeBigUInt64LE(p.sequenceNumber, d + 24);
  });
  b.writeUInt32LE(vhdxChecksum(b, 4), 4);
  return b;
}

/**
 * Parses the entry at `position` of the log (`log` is the whole log region); null if there is no valid entry
 * there (wrong signature or GUID, bad checksum, torn write).
 */
export function parseLogEntry(log: Buffer, position: number, logGuid: Guid): LogEntry | null {
  if (position + LOG_SECTOR > log.length) return null;
  const h = log.subarray(position);
  if (h.readUInt32LE(0) !== SIG_LOGE) return null;
  const length = h.readUInt32LE(8);
  const tail = h.readUInt32LE(12);
  const sequenceNumber = h.readBigUInt64LE(16);
  const count = h.readUInt32LE(24);
  if (length < LOG_SECTOR || length % LOG_SECTOR !== 0 || position + length > log.length) return null;
  if (tail % LOG_SECTOR !== 0 || tail >= log.length || sequenceNumber === 0n) return null;
  if (!guidEquals(h.subarray(32, 48), logGuid)) return null;
  const descBytes = descriptorSectors(count) * LOG_SECTOR;
  if (descBytes > length) return null;
  const entry = h.subarray(0, length);
  if (entry.readUInt32LE(4) !== vhdxChecksum(entry, 4)) return null;
  const ops: LogOp[] = [];
  let dataPos = descBytes;
  for (let i = 0; i < count; i++) {
    const d = ENTRY_HEADER_SIZE + i * DESCRIPTOR_SIZE;
    const sig = entry.readUInt32LE(d);
    const offset = readU64LE(entry, d + 16);
    if (entry.readBigUInt64LE(d + 24) !== sequenceNumber) return null;
    if (sig === SIG_ZERO) {
      ops.push({ kind: 'zero', offset, length: readU64LE(entry, d + 8) });
    } else if (sig === SIG_DESC) {
      if (dataPos + LOG_SECTOR > length) return null;
      const s = entry.subarray(dataPos, dataPos + LOG_SECTOR);
      if (s.readUInt32LE(0) !== SIG_DATA || s.readUInt32LE(4) !== Number(sequenceNumber >> 32n) ||
        s.readUInt32LE(4092) !== Number(sequenceNumber & 0xffffffffn)) return null;
      const data = Buffer.alloc(LOG_SECTOR);
      entry.copy(data, 0, d + 8, d + 16);
      s.copy(data, 8, 8, 4092);
      data.writeUInt32LE(entry.readUInt32LE(d + 4), 4092);
      ops.push({ kind: 'data', offset, data });
      dataPos += LOG_SECTOR;
    } else {
      return null;
    }
  }
  return {
    position, length, sequenceNumber, tail,
    flushedFileOffset: readU64LE(entry, 48), lastFileOffset: readU64LE(entry, 56), ops,
  };
}

/**
 * Finds the active sequence of the log: among all runs of consecutive valid entries (sequence numbers increasing
 * by one, each following the previous in the circular log), the one whose head has the highest sequence number
 * and whose head's tail points at an entry of the run. Returns its entries from tail to head, or [] if there is
 * nothing to replay.
 */
export function findActiveSequence(log: Buffer, logGuid: Guid): LogEntry[] {
  const cache = new Map<number, LogEntry | null>();
  const at = (pos: number): LogEntry | null => {
    if (!cache.has(pos)) cache.set(pos, parseLogEntry(log, pos, logGuid));
    return cache.get(pos)!;
  };
  let best: LogEntry[] = [];
  for (let start = 0; start < log.length; start += LOG_SECTOR) {
    const first = at(start);
    if (!first) continue;
    const run: LogEntry[] = [first];
    let pos = (start + first.length) % log.length;
    while (run.length < log.length / LOG_SECTOR) {
      const next = at(pos);
      if (!next || next.sequenceNumber !== run[run.length - 1].sequenceNumber + 1n || pos === start) break;
      run.push(next);
      pos = (pos + next.length) % log.length;
    }
    const head = run[run.length - 1];
    const tailIdx = run.findIndex((e) => e.position === head.tail);
    if (tailIdx < 0) continue;
    const seq = run.slice(tailIdx);
    if (best.length === 0 || head.sequenceNumber > best[best.length - 1].sequenceNumber) best = seq;
  }
  return best;
}

/**
 * Checks the operations of a sequence against the file before anything is applied: no writes into the headers
 * or the log, nothing past the last file offset, no absurd sizes. Throws CorruptImageError.
 */
export function validateSequence(seq: LogEntry[], fileSize: number, logOffset: number, logLength: number): void {
  const head = seq[seq.length - 1];
  if (head.lastFileOffset > MAX_FILE_SIZE || head.flushedFileOffset > MAX_FILE_SIZE) {
    throw new CorruptImageError(`vhdx: log entry ${head.sequenceNumber} has an absurd file offset`);
  }
  if (fileSize < head.flushedFileOffset) {
    throw new CorruptImageError(`vhdx: file is ${fileSize} bytes but the log says ${head.flushedFileOffset} were flushed (truncated file)`);
  }
  const limit = Math.max(head.lastFileOffset, fileSize);
  for (const e of seq) {
    for (const op of e.ops) {
      const len = op.kind === 'data' ? LOG_SECTOR : op.length;
      const what = `vhdx: log entry ${e.sequenceNumber}`;
      if (op.offset % LOG_SECTOR !== 0 || len % LOG_SECTOR !== 0) throw new CorruptImageError(`${what} has an unaligned descriptor`);
      if (op.offset < LOG_PROTECTED_END) throw new CorruptImageError(`${what} writes into the header section`);
      if (op.offset + len > limit) throw new CorruptImageError(`${what} writes past the end of the file`);
      if (op.offset < logOffset + logLength && op.offset + len > logOffset) throw new CorruptImageError(`${what} writes into the log itself`);
    }
  }
}
