// VHD (version 1) on-disk structures: the 512-byte footer, the dynamic disk header, parent locator entries,
// the one's-complement checksum and the CHS geometry. All integers are big-endian.
import { readU64BE } from './bytes.js';
import { CorruptImageError } from './errors.js';
import { type Guid } from './guid.js';

export const FOOTER_SIZE = 512;
export const DYNAMIC_HEADER_SIZE = 1024;
export const SECTOR = 512;
export const UNALLOCATED = 0xffffffff;
export const VHD_MAX_SIZE = 2040 * 1024 * 1024 * 1024;
export const DISK_TYPE_FIXED = 2;
export const DISK_TYPE_DYNAMIC = 3;
export const DISK_TYPE_DIFFERENCING = 4;
const VHD_EPOCH = Date.UTC(2000, 0, 1) / 1000;

export interface VhdFooter {
  features: number;
  dataOffset: number;
  timestamp: number;
  creatorApp: string;
  originalSize: number;
  currentSize: number;
  cylinders: number;
  heads: number;
  sectorsPerTrack: number;
  diskType: number;
  uniqueId: Guid;
}

export interface ParentLocatorEntry { code: string; dataSpace: number; dataLength: number; dataOffset: number }

export interface VhdDynamicHeader {
  tableOffset: number;
  maxTableEntries: number;
  blockSize: number;
  parentUniqueId: Guid;
  parentTimestamp: number;
  parentName: string;
  locators: ParentLocatorEntry[];
}

/** One's complement of the byte sum, with the 4-byte checksum field at `field` counted as zero. */
export function vhdChecksum(b: Uint8Array, field: number): number {
  let sum = 0;
  for (let i = 0; i < b.length; i++) if (i < field || i >= field + 4) sum += b[i];
  return ~sum >>> 0;
}

export function vhdTimestamp(date = new Date()): number {
  return Math.max(0, Math.floor(date.getTime() / 1000 - VHD_EPOCH)) >>> 0;
}

/** The CHS geometry the VHD specification derives from a size (appendix "CHS calculation"). */
export function chsGeometry(size: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  let total = Math.floor(size / SECTOR);
  if (total > 65535 * 16 * 255) total = 65535 * 16 * 255;
  let spt: number, heads: number, cth: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255; heads = 16; cth = Math.floor(total / spt);
  } else {
    spt = 17;
    cth = Math.floor(total / spt);
    heads = Math.max(4, Math.floor((cth + 1023) / 1024));
    if (cth >= heads * 1024 || heads > 16) { spt = 31; heads = 16; cth = Math.floor(total / spt); }
    if (cth >= heads * 1024) { spt = 63; heads = 16; cth = Math.floor(total / spt); }
  }
  return { cylinders: Math.floor(cth / heads), heads, sectorsPerTrack: spt };
}

export function buildFooter(f: VhdFooter): Buffer {
  const b = Buffer.alloc(FOOTER_SIZE);
  b.write('conectix', 0, 'latin1');
  b.writeUInt32BE(f.features, 8);
  b.writeUInt32BE(0x00010000, 12);
  b.writeBigUInt64BE(f.dataOffset === Infinity ? 0xffffffffffffffffn : BigInt(f.dataOffset), 16);
  b.writeUInt32BE(f.timestamp, 24);
  b.write(f.creatorApp.padEnd(4, '\0').slice(0, 4), 28, 'latin1');
  b.writeUInt32BE(0x000a0000, 32);
  b.write('Wi2k', 36, 'latin1');
  b.writeBigUInt64BE(BigInt(f.originalSize), 40);
  b.writeBigUInt64BE(BigInt(f.currentSize), 48);
  b.writeUInt16BE(f.cylinders, 56);
  b.writeUInt8(f.heads, 58);
  b.writeUInt8(f.sectorsPerTrack, 59);
  b.writeUInt32BE(f.diskType, 60);
  Buffer.from(f.uniqueId).copy(b, 68);
  b.writeUInt32BE(vhdChecksum(b, 64), 64);
  return b;
}

/** Parses a footer; returns an error string if it is not a valid one. */
export function parseFooter(b: Buffer): VhdFooter | string {
  if (b.length < FOOTER_SIZE || b.toString('latin1', 0, 8) !== 'conectix') return 'bad footer signature';
  if (b.readUInt32BE(64) !== vhdChecksum(b.subarray(0, FOOTER_SIZE), 64)) return 'bad footer checksum';
  const version = b.readUInt32BE(12);
  if (version >>> 16 !== 1) return `unsupported footer version ${(version >>> 16)}.${version & 0xffff}`;
  return {
    features: b.readUInt32BE(8),
    dataOffset: readU64BE(b, 16),
    timestamp: b.readUInt32BE(24),
    creatorApp: b.toString('latin1', 28, 32),
    originalSize: readU64BE(b, 40),
    currentSize: readU64BE(b, 48),
    cylinders: b.readUInt16BE(56),
    heads: b[58],
    sectorsPerTrack: b[59],
    diskType: b.readUInt32BE(60),
    uniqueId: Uint8Array.from(b.subarray(68, 84)),
  };
}

/**
 * The disk size a footer describes. Virtual PC and old QEMU size disks by CHS geometry; Hyper-V and everything
 * else by the current-size field (the same rule QEMU applies, so both read the same number of sectors).
 */
export function footerDiskSize(f: VhdFooter): number {
  const chs = f.cylinders * f.heads * f.sectorsPerTrack * SECTOR;
  const maxChs = f.cylinders === 65535 && f.heads === 16 && f.sectorsPerTrack === 255;
  if ((f.creatorApp === 'vpc ' || f.creatorApp === 'qemu') && !maxChs) return chs;
  return f.currentSize;
}

export function buildDynamicHeader(h: VhdDynamicHeader): Buffer {
  const b = Buffer.alloc(DYNAMIC_HEADER_SIZE);
  b.write('cxsparse', 0, 'latin1');
  b.writeBigUInt64BE(0xffffffffffffffffn, 8);
  b.writeBigUInt64BE(BigInt(h.tableOffset), 16);
  b.writeUInt32BE(0x00010000, 24);
  b.writeUInt32BE(h.maxTableEntries, 28);
  b.writeUInt32BE(h.blockSize, 32);
  Buffer.from(h.parentUniqueId).copy(b, 40);
  b.writeUInt32BE(h.parentTimestamp, 56);
  const name = Buffer.from(h.parentName.slice(0, 256), 'utf16le').swap16();
  name.copy(b, 64);
  h.locators.slice(0, 8).forEach((l, i) => {
    const o = 576 + i * 24;
    b.write(l.code.padEnd(4, '\0').slice(0, 4), o, 'latin1');
    b.writeUInt32BE(l.dataSpace, o + 4);
    b.writeUInt32BE(l.dataLength, o + 8);
    b.writeBigUInt64BE(BigInt(l.dataOffset), o + 16);
  });
  b.writeUInt32BE(vhdChecksum(b, 36), 36);
  return b;
}

export function parseDynamicHeader(b: Buffer): VhdDynamicHeader {
  if (b.toString('latin1', 0, 8) !== 'cxsparse') throw new CorruptImageError('vhd: bad dynamic header signature');
  if (b.readUInt32BE(36) !== vhdChecksum(b.subarray(0, DYNAMIC_HEADER_SIZE), 36)) throw new CorruptImageError('vhd: bad dynamic header checksum');
  if (b.readUInt32BE(24) >>> 16 !== 1) throw new CorruptImageError('vhd: unsupported dynamic header version');
  const nameRaw = Buffer.from(b.subarray(64, 576)).swap16();
  let end = 0;
  while (end < nameRaw.length && (nameRaw[end] !== 0 || nameRaw[end + 1] !== 0)) end += 2;
  const locators: ParentLocatorEntry[] = [];
  for (let i = 0; i < 8; i++) {
    const o = 576 + i * 24;
    const code = b.toString('latin1', o, o + 4);
    if (b.readUInt32BE(o) === 0) continue;
    locators.push({ code, dataSpace: b.readUInt32BE(o + 4), dataLength: b.readUInt32BE(o + 8), dataOffset: readU64BE(b, o + 16) });
  }
  return {
    tableOffset: readU64BE(b, 16),
    maxTableEntries: b.readUInt32BE(28),
    blockSize: b.readUInt32BE(32),
    parentUniqueId: Uint8Array.from(b.subarray(40, 56)),
    parentTimestamp: b.readUInt32BE(56),
    parentName: nameRaw.toString('utf16le', 0, end),
    locators,
  };
}
