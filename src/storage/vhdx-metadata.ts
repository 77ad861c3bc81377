// The VHDX metadata region (MS-VHDX 2.6): a 64 KiB table of items, then the items. We understand the system
// items (file parameters, virtual disk size, page 83 data, sector sizes, parent locator) and refuse unknown ones
// marked required.
import { readU64LE, isPowerOfTwo } from './bytes.js';
import { CorruptImageError, UnsupportedImageError } from './errors.js';
import { formatGuid, guidEquals, type Guid } from './guid.js';
import {
  KiB, MAX_BLOCK_SIZE, MAX_VIRTUAL_SIZE, META_FILE_PARAMETERS, META_FLAG_IS_REQUIRED, META_FLAG_IS_VIRTUAL_DISK,
  META_LOGICAL_SECTOR_SIZE, META_PAGE83, META_PARENT_LOCATOR, META_PHYSICAL_SECTOR_SIZE, META_VIRTUAL_DISK_SIZE,
  METADATA_SIGNATURE, MIN_BLOCK_SIZE, MiB, PARENT_LOCATOR_TYPE_VHDX,
} from './vhdx-constants.js';

export const METADATA_TABLE_SIZE = 64 * KiB;
const MAX_ITEMS = 2047;

export interface ParentLocator { entries: Map<string, string> }

export interface VhdxMetadata {
  blockSize: number;
  leaveBlocksAllocated: boolean;
  hasParent: boolean;
  virtualSize: number;
  logicalSectorSize: number;
  physicalSectorSize: number;
  diskId: Guid;
  parentLocator: ParentLocator | null;
  /** Offset of the virtual-disk-size item, relative to the metadata region (for resize). */
  virtualSizeItemOffset: number;
}

interface Item { guid: Guid; data: Buffer; flags: number }

export function buildParentLocator(entries: [string, string][]): Buffer {
  const head = 20 + entries.length * 12;
  const parts: Buffer[] = [];
  const table = Buffer.alloc(head);
  Buffer.from(PARENT_LOCATOR_TYPE_VHDX).copy(table, 0);
  table.writeUInt16LE(entries.length, 18);
  let pos = head;
  entries.forEach(([k, v], i) => {
    const kb = Buffer.from(k, 'utf16le');
    const vb = Buffer.from(v, 'utf16le');
    const o = 20 + i * 12;
    table.writeUInt32LE(pos, o);
    table.writeUInt32LE(pos + kb.length, o + 4);
    table.writeUInt16LE(kb.length, o + 8);
    table.writeUInt16LE(vb.length, o + 10);
    parts.push(kb, vb);
    pos += kb.length + vb.length;
  });
  return Buffer.concat([table, ...parts]);
}

export function parseParentLocator(b: Buffer): ParentLocator {
  if (b.length < 20) throw new CorruptImageError('vhdx: parent locator is too short');
  if (!guidEquals(b.subarray(0, 16), PARENT_LOCATOR_TYPE_VHDX)) {
    throw new UnsupportedImageError(`vhdx: unknown parent locator type {${formatGuid(b.subarray(0, 16))}}`);
  }
  const count = b.readUInt16LE(18);
  if (20 + count * 12 > b.length) throw new CorruptImageError(`vhdx: parent locator claims ${count} entries but is only ${b.length} bytes`);
  const entries = new Map<string, string>();
  for (let i = 0; i < count; i++) {
    const o = 20 + i * 12;
    const ko = b.readUInt32LE(o), vo = b.readUInt32LE(o + 4), kl = b.readUInt16LE(o + 8), vl = b.readUInt16LE(o + 10);
    if (ko + kl > b.length || vo + vl > b.length || kl === 0 || kl % 2 !== 0 || vl % 2 !== 0) {
      throw new CorruptImageError(`vhdx: parent locator entry ${i} points outside the locator`);
    }
    entries.set(b.toString('utf16le', ko, ko + kl), b.toString('utf16le', vo, vo + vl));
  }
  return { entries };
}

/** Builds a metadata region of `regionLength` bytes holding the standard items. */
export function buildMetadataRegion(m: Omit<VhdxMetadata, 'virtualSizeItemOffset' | 'parentLocator'>, parentLocator: Buffer | null, regionLength: number): { region: Buffer; virtualSizeItemOffset: number } {
  const region = Buffer.alloc(regionLength);
  const fp = Buffer.alloc(8);
  fp.writeUInt32LE(m.blockSize, 0);
  fp.writeUInt32LE((m.leaveBlocksAllocated ? 1 : 0) | (m.hasParent ? 2 : 0), 4);
  const vs = Buffer.alloc(8);
  vs.writeBigUInt64LE(BigInt(m.virtualSize));
  const ls = Buffer.alloc(4);
  ls.writeUInt32LE(m.logicalSectorSize);
  const ps = Buffer.alloc(4);
  ps.writeUInt32LE(m.physicalSectorSize);
  const VR = META_FLAG_IS_VIRTUAL_DISK | META_FLAG_IS_REQUIRED;
  const items: Item[] = [
    { guid: META_FILE_PARAMETERS, data: fp, flags: META_FLAG_IS_REQUIRED },
    { guid: META_VIRTUAL_DISK_SIZE, data: vs, flags: VR },
    { guid: META_PAGE83, data: Buffer.from(m.diskId), flags: VR },
    { guid: META_LOGICAL_SECTOR_SIZE, data: ls, flags: VR },
    { guid: META_PHYSICAL_SECTOR_SIZE, data: ps, flags: VR },
  ];
  if (parentLocator) items.push({ guid: META_PARENT_LOCATOR, data: parentLocator, flags: META_FLAG_IS_REQUIRED });
  region.write(METADATA_SIGNATURE, 0, 'latin1');
  region.writeUInt16LE(items.length, 10);
  let pos = METADATA_TABLE_SIZE;
  let virtualSizeItemOffset = 0;
  items.forEach((it, i) => {
    const o = 32 + i * 32;
    Buffer.from(it.guid).copy(region, o);
    region.writeUInt32LE(pos, o + 16);
    region.writeUInt32LE(it.data.length, o + 20);
    region.writeUInt32LE(it.flags, o + 24);
    if (it.guid === META_VIRTUAL_DISK_SIZE) virtualSizeItemOffset = pos;
    if (pos + it.data.length > regionLength) throw new CorruptImageError('vhdx: metadata does not fit its region');
    it.data.copy(region, pos);
    pos += Math.ceil(it.data.length / 8) * 8;
  });
  return { region, virtualSizeItemOffset };
}

const KNOWN = [META_FILE_PARAMETERS, META_VIRTUAL_DISK_SIZE, META_PAGE83, META_LOGICAL_SECTOR_SIZE, META_PHYSICAL_SECTOR_SIZE, META_PARENT_LOCATOR];

/** Parses and validates the metadata region (`region` holds the whole region). */
export function parseMetadataRegion(region: Buffer): VhdxMetadata {
  if (region.length < METADATA_TABLE_SIZE || region.toString('latin1', 0, 8) !== METADATA_SIGNATURE) {
    throw new CorruptImageError('vhdx: bad metadata table signature');
  }
  const count = region.readUInt16LE(10);
  if (count > MAX_ITEMS) throw new CorruptImageError(`vhdx: metadata table has ${count} entries (at most ${MAX_ITEMS})`);
  const found = new Map<number, { data: Buffer; offset: number }>();
  const spans: { offset: number; length: number; i: number }[] = [];
  for (let i = 0; i < count; i++) {
    const o = 32 + i * 32;
    const id = region.subarray(o, o + 16);
    const offset = region.readUInt32LE(o + 16);
    const length = region.readUInt32LE(o + 20);
    const flags = region.readUInt32LE(o + 24);
    if (length > MiB) throw new CorruptImageError(`vhdx: metadata item ${i} is ${length} bytes (at most 1 MiB)`);
    if (length === 0 ? offset !== 0 : offset < METADATA_TABLE_SIZE || offset + length > region.length) {
      throw new CorruptImageError(`vhdx: metadata item ${i} (offset ${offset}, length ${length}) lies outside the metadata region`);
    }
    if (length > 0) spans.push({ offset, length, i });
    const k = KNOWN.findIndex((g) => guidEquals(g, id));
    if (k < 0 || (flags & 1) !== 0) {
      if (flags & META_FLAG_IS_REQUIRED) throw new UnsupportedImageError(`vhdx: unknown required metadata item {${formatGuid(id)}}`);
      continue;
    }
    if (found.has(k)) throw new CorruptImageError(`vhdx: metadata item {${formatGuid(id)}} appears twice`);
    found.set(k, { data: region.subarray(offset, offset + length), offset });
  }
  spans.sort((a, b) => a.offset - b.offset);
  for (let j = 1; j < spans.length; j++) {
    if (spans[j - 1].offset + spans[j - 1].length > spans[j].offset) {
      throw new CorruptImageError(`vhdx: metadata items ${spans[j - 1].i} and ${spans[j].i} overlap`);
    }
  }
  const need = (k: number, name: string, len: number): Buffer => {
    const it = found.get(k);
    if (!it) throw new CorruptImageError(`vhdx: metadata lacks the ${name} item`);
    if (it.data.length < len) throw new CorruptImageError(`vhdx: ${name} metadata item is ${it.data.length} bytes, expected ${len}`);
    return it.data;
  };
  const fp = need(0, 'file parameters', 8);
  const blockSize = fp.readUInt32LE(0);
  const fpFlags = fp.readUInt32LE(4);
  const sizeItem = need(1, 'virtual disk size', 8);
  const virtualSize = readU64LE(sizeItem, 0);
  const diskId = Uint8Array.from(need(2, 'page 83 data', 16).subarray(0, 16));
  const logicalSectorSize = need(3, 'logical sector size', 4).readUInt32LE(0);
  const physicalSectorSize = need(4, 'physical sector size', 4).readUInt32LE(0);
  if (!isPowerOfTwo(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) {
    throw new CorruptImageError(`vhdx: block size ${blockSize} is not a power of two between 1 MiB and 256 MiB`);
  }
  if (logicalSectorSize !== 512 && logicalSectorSize !== 4096) throw new CorruptImageError(`vhdx: logical sector size ${logicalSectorSize} is not 512 or 4096`);
  if (physicalSectorSize !== 512 && physicalSectorSize !== 4096) throw new CorruptImageError(`vhdx: physical sector size ${physicalSectorSize} is not 512 or 4096`);
  if (virtualSize === 0 || virtualSize > MAX_VIRTUAL_SIZE || virtualSize % logicalSectorSize !== 0) {
    throw new CorruptImageError(`vhdx: virtual disk size ${sizeItem.readBigUInt64LE(0)} is not a multiple of the sector size up to 64 TiB`);
  }
  const hasParent = (fpFlags & 2) !== 0;
  let parentLocator: ParentLocator | null = null;
  if (hasParent) {
    const pl = found.get(5);
    if (!pl) throw new CorruptImageError('vhdx: differencing disk lacks a parent locator');
    parentLocator = parseParentLocator(pl.data);
  }
  return {
    blockSize, leaveBlocksAllocated: (fpFlags & 1) !== 0, hasParent, virtualSize, logicalSectorSize,
    physicalSectorSize, diskId, parentLocator, virtualSizeItemOffset: found.get(1)!.offset,
  };
}
