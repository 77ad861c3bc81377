// The VHDX header section: the file type identifier and the two headers (MS-VHDX 2.2). A header is 4 KiB,
// checksummed with CRC-32C; the valid one with the higher sequence number is current.
import { readU64LE } from './bytes.js';
import { vhdxChecksum } from './crc32c.js';
import { CorruptImageError } from './errors.js';
import { type Guid } from './guid.js';
import { FILE_ID_SIGNATURE, HEADER_SIZE, MAX_FILE_SIZE, MiB, SIG_HEAD } from './vhdx-constants.js';

export interface VhdxHeader {
  sequenceNumber: bigint;
  fileWriteGuid: Guid;
  dataWriteGuid: Guid;
  logGuid: Guid;
  logVersion: number;
  version: number;
  logLength: number;
  logOffset: number;
}

export function buildFileIdentifier(creator: string): Buffer {
  const b = Buffer.alloc(64 * 1024);
  b.write(FILE_ID_SIGNATURE, 0, 'latin1');
  b.write(creator.slice(0, 255), 8, 'utf16le');
  return b;
}

export function checkFileIdentifier(b: Uint8Array): void {
  if (Buffer.from(b.buffer, b.byteOffset, 8).toString('latin1') !== FILE_ID_SIGNATURE) {
    throw new CorruptImageError('vhdx: bad file signature (not a VHDX file)');
  }
}

export function buildHeader(h: VhdxHeader): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  b.writeUInt32LE(SIG_HEAD, 0);
  b.writeBigUInt64LE(h.sequenceNumber, 8);
  Buffer.from(h.fileWriteGuid).copy(b, 16);
  Buffer.from(h.dataWriteGuid).copy(b, 32);
  Buffer.from(h.logGuid).copy(b, 48);
  b.writeUInt16LE(h.logVersion, 64);
  b.writeUInt16LE(h.version, 66);
  b.writeUInt32LE(h.logLength, 68);
  b.writeBigUInt64LE(BigInt(h.logOffset), 72);
  b.writeUInt32LE(vhdxChecksum(b, 4), 4);
  return b;
}

/** Parses one header; returns an error string instead of throwing so the caller can fall back to the other. */
export function parseHeader(b: Buffer): VhdxHeader | string {
  if (b.readUInt32LE(0) !== SIG_HEAD) return 'bad signature';
  if (b.readUInt32LE(4) !== vhdxChecksum(b.subarray(0, HEADER_SIZE), 4)) return 'bad checksum';
  const h: VhdxHeader = {
    sequenceNumber: b.readBigUInt64LE(8),
    fileWriteGuid: Uint8Array.from(b.subarray(16, 32)),
    dataWriteGuid: Uint8Array.from(b.subarray(32, 48)),
    logGuid: Uint8Array.from(b.subarray(48, 64)),
    logVersion: b.readUInt16LE(64),
    version: b.readUInt16LE(66),
    logLength: b.readUInt32LE(68),
    logOffset: readU64LE(b, 72),
  };
  if (h.version !== 1) return `unsupported version ${h.version}`;
  if (h.logVersion !== 0) return `unsupported log version ${h.logVersion}`;
  if (h.logLength === 0 || h.logLength % MiB !== 0) return `bad log length ${h.logLength}`;
  if (h.logOffset < MiB || h.logOffset % MiB !== 0 || h.logOffset > MAX_FILE_SIZE) return `bad log offset ${h.logOffset}`;
  return h;
}

/** Picks the current header from the two slots; throws if neither is valid. */
export function chooseHeader(slots: [Buffer, Buffer]): { header: VhdxHeader; slot: 0 | 1 } {
  const a = parseHeader(slots[0]);
  const b = parseHeader(slots[1]);
  if (typeof a === 'string' && typeof b === 'string') {
    throw new CorruptImageError(`vhdx: no valid header (header 1: ${a}; header 2: ${b})`);
  }
  if (typeof a === 'string') return { header: b as VhdxHeader, slot: 1 };
  if (typeof b === 'string') return { header: a, slot: 0 };
  return b.sequenceNumber > a.sequenceNumber ? { header: b, slot: 1 } : { header: a, slot: 0 };
}
