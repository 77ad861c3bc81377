// The VHDX block allocation table (MS-VHDX 2.5): 64-bit entries, state in bits 0-2 and the file offset in MiB in
// bits 20-63. Payload entries are interleaved with one sector-bitmap entry after every `chunkRatio` of them.
import { MiB, SECTORS_PER_CHUNK } from './vhdx-constants.js';

export interface BatGeometry {
  blockSize: number;
  logicalSectorSize: number;
  virtualSize: number;
  chunkRatio: number;
  dataBlocks: number;
  bitmapBlocks: number;
  totalEntries: number;
}

export function batGeometry(virtualSize: number, blockSize: number, logicalSectorSize: number, hasParent: boolean): BatGeometry {
  const chunkRatio = (SECTORS_PER_CHUNK * logicalSectorSize) / blockSize;
  const dataBlocks = Math.ceil(virtualSize / blockSize);
  const bitmapBlocks = Math.ceil(dataBlocks / chunkRatio);
  const totalEntries = hasParent ? bitmapBlocks * (chunkRatio + 1) : dataBlocks + Math.floor((dataBlocks - 1) / chunkRatio);
  return { blockSize, logicalSectorSize, virtualSize, chunkRatio, dataBlocks, bitmapBlocks, totalEntries };
}

export function payloadIndex(g: BatGeometry, block: number): number {
  return block + Math.floor(block / g.chunkRatio);
}

export function bitmapIndex(g: BatGeometry, chunk: number): number {
  return chunk * (g.chunkRatio + 1) + g.chunkRatio;
}

/** Whether BAT entry `i` is a sector bitmap entry. */
export function isBitmapIndex(g: BatGeometry, i: number): boolean {
  return i % (g.chunkRatio + 1) === g.chunkRatio;
}

export function entryState(bat: Buffer, i: number): number {
  return bat[i * 8] & 7;
}

/** File offset of entry `i`, in bytes. */
export function entryOffset(bat: Buffer, i: number): number {
  const lo = bat.readUInt32LE(i * 8);
  const hi = bat.readUInt32LE(i * 8 + 4);
  return (hi * 4096 + (lo >>> 20)) * MiB;
}

/** Whether the reserved bits 3-19 of entry `i` are clear. */
export function entryReservedClear(bat: Buffer, i: number): boolean {
  return (bat.readUInt32LE(i * 8) & 0xffff8) === 0;
}

export function setEntry(bat: Buffer, i: number, state: number, fileOffset: number): void {
  const mb = fileOffset / MiB;
  bat.writeUInt32LE(((state & 7) | ((mb % 4096) << 20)) >>> 0, i * 8);
  bat.writeUInt32LE(Math.floor(mb / 4096), i * 8 + 4);
}
