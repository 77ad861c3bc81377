// Test-only surgery on VHDX files: read and rewrite headers, region tables, BAT entries and log entries with
// valid checksums, to build dirty (log-needing) and hostile images.
import * as fs from 'node:fs';
import { randomGuid, type Guid } from '../../src/storage/guid.js';
import { HEADER_OFFSETS, HEADER_SIZE, REGION_TABLE_OFFSETS, REGION_TABLE_SIZE } from '../../src/storage/vhdx-constants.js';
import { buildHeader, chooseHeader, type VhdxHeader } from '../../src/storage/vhdx-header.js';
import { buildLogEntry, type LogOp } from '../../src/storage/vhdx-log.js';
import { parseRegionTable } from '../../src/storage/vhdx-region.js';

export function readAt(file: string, offset: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    fs.readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    fs.closeSync(fd);
  }
}

export function writeAt(file: string, offset: number, data: Uint8Array): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.writeSync(fd, data, 0, data.length, offset);
  } finally {
    fs.closeSync(fd);
  }
}

export function currentHeader(file: string): { header: VhdxHeader; slot: 0 | 1 } {
  return chooseHeader([readAt(file, HEADER_OFFSETS[0], HEADER_SIZE), readAt(file, HEADER_OFFSETS[1], HEADER_SIZE)]);
}

/** Writes a new current header (sequence number + 1, other slot) with the given changes. */
export function updateHeader(file: string, changes: Partial<VhdxHeader>): void {
  const { header, slot } = currentHeader(file);
  writeAt(file, HEADER_OFFSETS[slot ^ 1], buildHeader({ ...header, ...changes, sequenceNumber: header.sequenceNumber + 1n }));
}

export function regions(file: string): { batOffset: number; metadataOffset: number } {
  const t = parseRegionTable(readAt(file, REGION_TABLE_OFFSETS[0], REGION_TABLE_SIZE), fs.statSync(file).size);
  if (typeof t === 'string') throw new Error(t);
  return { batOffset: t.bat.offset, metadataOffset: t.metadata.offset };
}

/** Writes one log entry at the start of the log and points the header at it: the image now needs replay. */
export function writeDirtyLog(file: string, ops: LogOp[], o: { flushedFileOffset?: number; lastFileOffset?: number; corrupt?: boolean } = {}): Guid {
  const { header } = currentHeader(file);
  const size = fs.statSync(file).size;
  const logGuid = randomGuid();
  const entry = buildLogEntry({
    logGuid, sequenceNumber: 77n, tail: 0, flushedFileOffset: o.flushedFileOffset ?? size,
    lastFileOffset: o.lastFileOffset ?? size, ops,
  });
  if (o.corrupt) entry[entry.length - 100] ^= 0xff;
  writeAt(file, header.logOffset, entry);
  updateHeader(file, { logGuid });
  return logGuid;
}
