// The VHDX region table (MS-VHDX 2.2.3): where the BAT and the metadata region live. Two copies, each 64 KiB
// and checksummed; entries for unknown regions marked required make the file unreadable to us.
import { readU64LE } from './bytes.js';
import { vhdxChecksum } from './crc32c.js';
import { CorruptImageError, UnsupportedImageError } from './errors.js';
import { formatGuid, guidEquals, type Guid } from './guid.js';
import { BAT_REGION_GUID, METADATA_REGION_GUID, MiB, REGION_TABLE_SIZE, SIG_REGI } from './vhdx-constants.js';

export interface RegionEntry { guid: Guid; offset: number; length: number; required: boolean }
export interface RegionTable { bat: RegionEntry; metadata: RegionEntry; entries: RegionEntry[] }

const MAX_ENTRIES = 2047;

export function buildRegionTable(entries: RegionEntry[]): Buffer {
  const b = Buffer.alloc(REGION_TABLE_SIZE);
  b.writeUInt32LE(SIG_REGI, 0);
  b.writeUInt32LE(entries.length, 8);
  entries.forEach((e, i) => {
    const o = 16 + i * 32;
    Buffer.from(e.guid).copy(b, o);
    b.writeBigUInt64LE(BigInt(e.offset), o + 16);
    b.writeUInt32LE(e.length, o + 24);
    b.writeUInt32LE(e.required ? 1 : 0, o + 28);
  });
  b.writeUInt32LE(vhdxChecksum(b, 4), 4);
  return b;
}

/** Parses one copy; returns an error string for a copy that fails signature or checksum. */
export function parseRegionTable(b: Buffer, fileSize: number): RegionTable | string {
  if (b.readUInt32LE(0) !== SIG_REGI) return 'bad signature';
  if (b.readUInt32LE(4) !== vhdxChecksum(b.subarray(0, REGION_TABLE_SIZE), 4)) return 'bad checksum';
  const count = b.readUInt32LE(8);
  if (count > MAX_ENTRIES) throw new CorruptImageError(`vhdx: region table has ${count} entries (at most ${MAX_ENTRIES})`);
  const entries: RegionEntry[] = [];
  let bat: RegionEntry | undefined;
  let metadata: RegionEntry | undefined;
  for (let i = 0; i < count; i++) {
    const o = 16 + i * 32;
    const e: RegionEntry = {
      guid: Uint8Array.from(b.subarray(o, o + 16)),
      offset: readU64LE(b, o + 16),
      length: b.readUInt32LE(o + 24),
      required: (b.readUInt32LE(o + 28) & 1) !== 0,
    };
    const name = guidEquals(e.guid, BAT_REGION_GUID) ? 'BAT' : guidEquals(e.guid, METADATA_REGION_GUID) ? 'metadata' : `{${formatGuid(e.guid)}}`;
    if (e.offset < MiB || e.offset % MiB !== 0) throw new CorruptImageError(`vhdx: ${name} region offset ${e.offset} is not a multiple of 1 MiB past the header section`);
    if (e.length === 0 || e.length % MiB !== 0) throw new CorruptImageError(`vhdx: ${name} region length ${e.length} is not a positive multiple of 1 MiB`);
    if (e.offset + e.length > fileSize) throw new CorruptImageError(`vhdx: ${name} region (offset ${e.offset}, length ${e.length}) extends past end of file`);
    if (entries.some((x) => guidEquals(x.guid, e.guid))) throw new CorruptImageError(`vhdx: region table lists the ${name} region twice`);
    if (name === 'BAT') bat = e;
    else if (name === 'metadata') metadata = e;
    else if (e.required) throw new UnsupportedImageError(`vhdx: unknown required region ${name}`);
    entries.push(e);
  }
  if (!bat) throw new CorruptImageError('vhdx: region table has no BAT region');
  if (!metadata) throw new CorruptImageError('vhdx: region table has no metadata region');
  return { bat, metadata, entries };
}

/** Throws if any two of the named byte ranges overlap. */
export function checkNoOverlap(ranges: { name: string; offset: number; length: number }[]): void {
  const s = [...ranges].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < s.length; i++) {
    if (s[i - 1].offset + s[i - 1].length > s[i].offset) {
      throw new CorruptImageError(`vhdx: ${s[i - 1].name} overlaps ${s[i].name}`);
    }
  }
}
