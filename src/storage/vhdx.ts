// VHDX images (MS-VHDX): fixed, dynamic and differencing disks. The BAT and the sector bitmaps live in memory;
// guest writes go straight to payload blocks, while metadata changes (BAT entries, sector bitmaps, metadata and
// region table updates) are collected and committed on flush through the log: write a log entry, flush, apply it
// in place, flush, then mark the log clear in the header. Opening an image whose writer died replays its log.
import * as fs from 'node:fs';
import { alignUp } from './bytes.js';
import { BaseDisk, readFromParent, type Disk, type DiskInfo, type LayerRun } from './disk.js';
import { CorruptImageError, DiskRequestError, LogReplayRequiredError, StorageError, UnsupportedImageError } from './errors.js';
import { formatGuid, guidEquals, isZeroGuid, parseGuid, randomGuid, ZERO_GUID, type Guid } from './guid.js';
import { ImageFile } from './image-file.js';
import { parentCandidates, relativeLocatorPath } from './parent-path.js';
import {
  batGeometry, bitmapIndex, entryOffset, entryState, isBitmapIndex, payloadIndex, setEntry, type BatGeometry,
} from './vhdx-bat.js';
import {
  BAT_REGION_GUID, HEADER_OFFSETS, HEADER_SECTION_SIZE, HEADER_SIZE, MAX_BLOCK_SIZE, MAX_VIRTUAL_SIZE,
  METADATA_REGION_GUID, MIN_BLOCK_SIZE, MiB, PAYLOAD_BLOCK_FULLY_PRESENT, PAYLOAD_BLOCK_NOT_PRESENT,
  PAYLOAD_BLOCK_PARTIALLY_PRESENT, PAYLOAD_BLOCK_UNDEFINED, PAYLOAD_BLOCK_UNMAPPED, PAYLOAD_BLOCK_ZERO,
  REGION_TABLE_OFFSETS, REGION_TABLE_SIZE, SB_BLOCK_NOT_PRESENT, SB_BLOCK_PRESENT, SECTOR_BITMAP_BLOCK_SIZE,
  SECTORS_PER_CHUNK,
} from './vhdx-constants.js';
import { buildFileIdentifier, buildHeader, checkFileIdentifier, chooseHeader, type VhdxHeader } from './vhdx-header.js';
import { buildLogEntry, findActiveSequence, maxDataSectorsPerEntry, validateSequence, type LogOp } from './vhdx-log.js';
import { buildMetadataRegion, buildParentLocator, parseMetadataRegion, type VhdxMetadata } from './vhdx-metadata.js';
import { buildRegionTable, checkNoOverlap, parseRegionTable, type RegionTable } from './vhdx-region.js';

/** Opens the parent of a differencing disk (read-only); supplied by the format dispatcher, which tracks loops. */
export type OpenParent = (path: string) => Disk;

export interface VhdxOpenOptions { readOnly?: boolean; openParent?: OpenParent }

export interface VhdxCreateOptions {
  size?: number;
  type: 'fixed' | 'dynamic' | 'differencing';
  blockSize?: number;
  logicalSectorSize?: number;
  physicalSectorSize?: number;
  parentPath?: string;
  openParent?: OpenParent;
}

const CREATOR = 'Hypatia';
const LOG_OFFSET = MiB;
const LOG_LENGTH = MiB;
const METADATA_OFFSET = 2 * MiB;
const METADATA_LENGTH = MiB;
const BAT_OFFSET = 3 * MiB;
const MAX_METADATA_REGION = 64 * MiB;
const MAX_LOG_LENGTH = 256 * MiB;
const PAGE = 4096;
const ENTRIES_PER_PAGE = PAGE / 8;

export class VhdxDisk extends BaseDisk {
  readonly format = 'vhdx' as const;
  private header!: VhdxHeader;
  private headerSlot: 0 | 1 = 0;
  private regions!: RegionTable;
  private meta!: VhdxMetadata;
  private geo!: BatGeometry;
  private bat!: Buffer;
  private batOffset = 0;
  private fileEnd = 0;
  private _parent: Disk | null = null;
  private readonly dirtyBatPages = new Set<number>();
  private readonly bitmaps = new Map<number, Buffer>();
  private readonly dirtyBitmapPages = new Map<number, Set<number>>();
  private readonly pendingMeta = new Map<number, Buffer>();
  private dataDirty = false;
  private headerDirty = false;
  private fileGuidChanged = false;
  private dataGuidChanged = false;
  private logSequence = 1n;

  private constructor(private readonly file: ImageFile, opts: VhdxOpenOptions) {
    super();
    try {
      this.load(opts);
    } catch (e) {
      this._parent?.close();
      throw e;
    }
  }

  static open(path: string, opts: VhdxOpenOptions = {}): VhdxDisk {
    const file = ImageFile.open(path, opts.readOnly ?? false, 'vhdx');
    try {
      return new VhdxDisk(file, opts);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  get path(): string { return this.file.path; }
  get readOnly(): boolean { return this.file.readOnly; }
  get capacity(): number { return this.meta.virtualSize; }
  get logicalSectorSize(): number { return this.meta.logicalSectorSize; }
  get physicalSectorSize(): number { return this.meta.physicalSectorSize; }
  get parent(): Disk | null { return this._parent; }
  get blockSize(): number { return this.meta.blockSize; }
  get type(): 'fixed' | 'dynamic' | 'differencing' {
    return this.meta.hasParent ? 'differencing' : this.meta.leaveBlocksAllocated ? 'fixed' : 'dynamic';
  }
  /** The GUID children record as their parent linkage. */
  get dataWriteGuid(): Guid { return this.header.dataWriteGuid; }
  get diskId(): Guid { return this.meta.diskId; }

  // ---- open ----

  private load(opts: VhdxOpenOptions): void {
    const f = this.file;
    if (f.size < HEADER_SECTION_SIZE) throw new CorruptImageError(`vhdx: file is ${f.size} bytes, too small for a VHDX image`);
    checkFileIdentifier(f.readNew(0, 8));
    const chosen = chooseHeader([f.readNew(HEADER_OFFSETS[0], HEADER_SIZE), f.readNew(HEADER_OFFSETS[1], HEADER_SIZE)]);
    this.header = chosen.header;
    this.headerSlot = chosen.slot;
    const h = this.header;
    if (h.logLength > MAX_LOG_LENGTH) throw new CorruptImageError(`vhdx: log length ${h.logLength} is absurd`);
    if (h.logOffset + h.logLength > f.size) throw new CorruptImageError(`vhdx: log (offset ${h.logOffset}, length ${h.logLength}) extends past end of file`);
    if (!isZeroGuid(h.logGuid)) this.replayLog();

    // Region table: the first valid copy.
    const errs: string[] = [];
    for (const off of REGION_TABLE_OFFSETS) {
      const raw = f.readNew(off, REGION_TABLE_SIZE);
      const t = parseRegionTable(raw, f.size);
      if (typeof t === 'string') { errs.push(t); continue; }
      this.regions = t;
      break;
    }
    if (!this.regions) throw new CorruptImageError(`vhdx: no valid region table (copy 1: ${errs[0]}; copy 2: ${errs[1]})`);
    const { bat, metadata } = this.regions;
    checkNoOverlap([
      { name: 'header section', offset: 0, length: HEADER_SECTION_SIZE },
      { name: 'log', offset: h.logOffset, length: h.logLength },
      ...this.regions.entries.map((e) => ({
        name: guidEquals(e.guid, BAT_REGION_GUID) ? 'BAT region' : guidEquals(e.guid, METADATA_REGION_GUID) ? 'metadata region' : `region {${formatGuid(e.guid)}}`,
        offset: e.offset, length: e.length,
      })),
    ]);

    if (metadata.length > MAX_METADATA_REGION) throw new CorruptImageError(`vhdx: metadata region of ${metadata.length} bytes is absurd`);
    this.meta = parseMetadataRegion(f.readNew(metadata.offset, metadata.length));
    this.geo = batGeometry(this.meta.virtualSize, this.meta.blockSize, this.meta.logicalSectorSize, this.meta.hasParent);
    const batBytes = this.geo.totalEntries * 8;
    if (batBytes > bat.length) {
      throw new CorruptImageError(`vhdx: BAT region (${bat.length} bytes) is too small for ${this.geo.totalEntries} entries`);
    }
    this.batOffset = bat.offset;
    this.bat = f.readNew(bat.offset, Math.min(bat.length, alignUp(batBytes, PAGE)));
    this.validateBat();
    this.fileEnd = alignUp(f.size, MiB);

    if (this.meta.hasParent) this.openParentDisk(opts);
  }

  private validateBat(): void {
    const g = this.geo;
    const fileSize = this.file.size;
    const spans: { name: string; offset: number; length: number }[] = [
      { name: 'header section', offset: 0, length: HEADER_SECTION_SIZE },
      { name: 'log', offset: this.header.logOffset, length: this.header.logLength },
      ...this.regions.entries.map((e) => ({ name: `region at ${e.offset}`, offset: e.offset, length: e.length })),
    ];
    for (let i = 0; i < g.totalEntries; i++) {
      const st = entryState(this.bat, i);
      if (isBitmapIndex(g, i)) {
        if (st !== SB_BLOCK_NOT_PRESENT && st !== SB_BLOCK_PRESENT) throw new CorruptImageError(`vhdx: BAT entry ${i} has invalid sector bitmap state ${st}`);
        if (st !== SB_BLOCK_PRESENT || !this.meta.hasParent) continue;
        const off = entryOffset(this.bat, i);
        if (off < HEADER_SECTION_SIZE) throw new CorruptImageError(`vhdx: BAT entry ${i} points into the header section`);
        if (off + SECTOR_BITMAP_BLOCK_SIZE > fileSize) throw new CorruptImageError(`vhdx: BAT entry ${i} points past end of file`);
        spans.push({ name: `sector bitmap block (BAT entry ${i})`, offset: off, length: SECTOR_BITMAP_BLOCK_SIZE });
        continue;
      }
      switch (st) {
        case PAYLOAD_BLOCK_NOT_PRESENT: case PAYLOAD_BLOCK_UNDEFINED: case PAYLOAD_BLOCK_ZERO: case PAYLOAD_BLOCK_UNMAPPED:
          continue;
        case PAYLOAD_BLOCK_PARTIALLY_PRESENT:
          if (!this.meta.hasParent) throw new CorruptImageError(`vhdx: BAT entry ${i} is partially present in a disk without a parent`);
        // fall through
        case PAYLOAD_BLOCK_FULLY_PRESENT: {
          const off = entryOffset(this.bat, i);
          const block = i - Math.floor(i / (g.chunkRatio + 1));
          const used = Math.min(g.blockSize, g.virtualSize - block * g.blockSize);
          if (off < HEADER_SECTION_SIZE) throw new CorruptImageError(`vhdx: BAT entry ${i} points into the header section`);
          if (off + used > fileSize) throw new CorruptImageError(`vhdx: BAT entry ${i} points past end of file`);
          spans.push({ name: `payload block (BAT entry ${i})`, offset: off, length: used });
          continue;
        }
        default:
          throw new CorruptImageError(`vhdx: BAT entry ${i} has invalid state ${st}`);
      }
    }
    checkNoOverlap(spans);
  }

  private openParentDisk(opts: VhdxOpenOptions): void {
    const loc = this.meta.parentLocator!.entries;
    const linkage = loc.get('parent_linkage');
    if (!linkage || !parseGuid(linkage)) throw new CorruptImageError('vhdx: parent locator lacks a valid parent_linkage');
    const candidates = parentCandidates(this.path, loc.get('relative_path') ?? null, [loc.get('absolute_win32_path') ?? null, loc.get('volume_path') ?? null]);
    const found = candidates.find((c) => fs.existsSync(c));
    if (!found) throw new StorageError(`vhdx: parent of ${this.path} not found (tried ${candidates.join(', ') || 'no paths'})`);
    if (!opts.openParent) throw new StorageError('vhdx: differencing disks must be opened through openDisk');
    const parent = opts.openParent(found);
    this._parent = parent;
    if (!(parent instanceof VhdxDisk)) throw new UnsupportedImageError(`vhdx: parent ${found} is ${parent.format}, not VHDX`);
    const ok = [linkage, loc.get('parent_linkage2')].some((l) => {
      const g = l ? parseGuid(l) : null;
      return g !== null && guidEquals(g, parent.dataWriteGuid);
    });
    if (!ok) throw new CorruptImageError(`vhdx: parent ${found} has been modified since ${this.path} was created (DataWriteGuid does not match parent_linkage)`);
    if (parent.logicalSectorSize !== this.logicalSectorSize) {
      throw new CorruptImageError(`vhdx: parent ${found} has ${parent.logicalSectorSize}-byte sectors, child has ${this.logicalSectorSize}`);
    }
  }

  private replayLog(): void {
    const h = this.header;
    const log = this.file.readNew(h.logOffset, h.logLength);
    const seq = findActiveSequence(log, h.logGuid);
    if (seq.length > 0) {
      validateSequence(seq, this.file.size, h.logOffset, h.logLength);
      if (this.readOnly) {
        throw new LogReplayRequiredError(`vhdx: ${this.path} was not closed cleanly and its log must be replayed; open it read-write (e.g. hypatia vhd check --repair)`);
      }
      for (const e of seq) {
        for (const op of e.ops) {
          if (op.kind === 'data') this.file.write(op.data, op.offset);
          else this.writeZeros(op.offset, op.length);
        }
      }
      const last = seq[seq.length - 1].lastFileOffset;
      if (this.file.size < last) this.file.truncate(last);
      this.file.sync();
    }
    if (!this.readOnly) {
      this.writeHeader({ logGuid: ZERO_GUID });
      this.file.sync();
    }
  }

  private writeZeros(offset: number, length: number): void {
    const z = Buffer.alloc(Math.min(length, MiB));
    for (let p = 0; p < length; p += z.length) this.file.write(z.subarray(0, Math.min(z.length, length - p)), offset + p);
  }

  // ---- headers and the log ----

  private writeHeader(changes: Partial<VhdxHeader>): void {
    const h: VhdxHeader = { ...this.header, ...changes, sequenceNumber: this.header.sequenceNumber + 1n };
    const slot = (this.headerSlot ^ 1) as 0 | 1;
    this.file.write(buildHeader(h), HEADER_OFFSETS[slot]);
    this.header = h;
    this.headerSlot = slot;
    this.headerDirty = true;
  }

  /** Before the first change of a session: new FileWriteGuid (and DataWriteGuid for guest-visible data). */
  private beginModify(userData: boolean): void {
    if (this.fileGuidChanged && (this.dataGuidChanged || !userData)) return;
    const changes: Partial<VhdxHeader> = {};
    if (!this.fileGuidChanged) changes.fileWriteGuid = randomGuid();
    if (userData && !this.dataGuidChanged) changes.dataWriteGuid = randomGuid();
    this.writeHeader(changes);
    this.file.sync();
    this.headerDirty = false;
    this.fileGuidChanged = true;
    if (userData) this.dataGuidChanged = true;
  }

  /** Commits 4 KiB metadata writes: log entry, flush, apply, flush, clear the log. */
  private commit(ops: LogOp[]): void {
    const max = maxDataSectorsPerEntry(this.header.logLength);
    for (let i = 0; i < ops.length; i += max) {
      const chunk = ops.slice(i, i + max);
      const logGuid = randomGuid();
      const size = this.file.size;
      const entry = buildLogEntry({ logGuid, sequenceNumber: this.logSequence++, tail: 0, flushedFileOffset: size, lastFileOffset: size, ops: chunk });
      this.file.write(entry, this.header.logOffset);
      this.writeHeader({ logGuid });
      this.file.sync();
      for (const op of chunk) if (op.kind === 'data') this.file.write(op.data, op.offset);
      this.file.sync();
      this.writeHeader({ logGuid: ZERO_GUID });
    }
  }

  private collectDirty(): LogOp[] {
    const ops: LogOp[] = [];
    for (const [chunk, pages] of this.dirtyBitmapPages) {
      const bm = this.bitmaps.get(chunk)!;
      const base = entryOffset(this.bat, bitmapIndex(this.geo, chunk));
      for (const p of [...pages].sort((a, b) => a - b)) ops.push({ kind: 'data', offset: base + p * PAGE, data: bm.subarray(p * PAGE, (p + 1) * PAGE) });
    }
    for (const p of [...this.dirtyBatPages].sort((a, b) => a - b)) {
      ops.push({ kind: 'data', offset: this.batOffset + p * PAGE, data: this.bat.subarray(p * PAGE, (p + 1) * PAGE) });
    }
    for (const [off, data] of [...this.pendingMeta].sort((a, b) => a[0] - b[0])) ops.push({ kind: 'data', offset: off, data });
    return ops;
  }

  protected doFlush(): void {
    const ops = this.collectDirty();
    if (ops.length > 0) {
      this.commit(ops);
      this.dirtyBatPages.clear();
      this.dirtyBitmapPages.clear();
      this.pendingMeta.clear();
    } else if (this.dataDirty || this.headerDirty) {
      this.file.sync();
      this.headerDirty = false;
    }
    this.dataDirty = false;
  }

  protected doClose(): void {
    try {
      if (!this.readOnly) {
        this.doFlush();
        if (this.headerDirty) this.file.sync();
      }
    } finally {
      this.file.close();
      this._parent?.close();
    }
  }

  // ---- block map helpers ----

  private markBat(i: number): void { this.dirtyBatPages.add(Math.floor(i / ENTRIES_PER_PAGE)); }

  /** Reserves `bytes` (rounded up to 1 MiB) at the end of the file; the new space reads as zeros. */
  private allocate(bytes: number): number {
    const off = this.fileEnd;
    this.fileEnd += alignUp(bytes, MiB);
    this.file.truncate(this.fileEnd);
    return off;
  }

  /** The in-memory sector bitmap of a chunk; null if absent and `create` is false. */
  private bitmap(chunk: number, create: boolean): Buffer | null {
    let bm = this.bitmaps.get(chunk);
    if (bm) return bm;
    const i = bitmapIndex(this.geo, chunk);
    if (entryState(this.bat, i) === SB_BLOCK_PRESENT) {
      bm = this.file.readNew(entryOffset(this.bat, i), SECTOR_BITMAP_BLOCK_SIZE);
    } else {
      if (!create) return null;
      bm = Buffer.alloc(SECTOR_BITMAP_BLOCK_SIZE);
      setEntry(this.bat, i, SB_BLOCK_PRESENT, this.allocate(SECTOR_BITMAP_BLOCK_SIZE));
      this.markBat(i);
    }
    this.bitmaps.set(chunk, bm);
    return bm;
  }

  /** Sets the bitmap bits of the sectors of [offset, offset+length), which lie in one block. */
  private setBits(offset: number, length: number): void {
    const ss = this.logicalSectorSize;
    let s = offset / ss;
    const end = s + length / ss;
    while (s < end) {
      const chunk = Math.floor(s / SECTORS_PER_CHUNK);
      const bm = this.bitmap(chunk, true)!;
      let pages = this.dirtyBitmapPages.get(chunk);
      if (!pages) this.dirtyBitmapPages.set(chunk, (pages = new Set()));
      const cEnd = Math.min(end, (chunk + 1) * SECTORS_PER_CHUNK);
      for (let k = s - chunk * SECTORS_PER_CHUNK, kEnd = cEnd - chunk * SECTORS_PER_CHUNK; k < kEnd;) {
        if ((k & 7) === 0 && k + 8 <= kEnd) {
          const bytes = Math.floor((kEnd - k) / 8);
          bm.fill(0xff, k >> 3, (k >> 3) + bytes);
          for (let p = (k >> 3) >> 12; p <= ((k >> 3) + bytes - 1) >> 12; p++) pages.add(p);
          k += bytes * 8;
        } else {
          bm[k >> 3] |= 1 << (k & 7);
          pages.add(k >> 15);
          k++;
        }
      }
      s = cEnd;
    }
  }

  /** Length (in bytes, ≤ maxLen) of the run of sectors from `offset` whose bitmap bit equals the first one's. */
  private bitRun(bm: Buffer | null, offset: number, maxLen: number): { present: boolean; length: number } {
    const ss = this.logicalSectorSize;
    if (!bm) return { present: false, length: maxLen };
    const s0 = offset / ss;
    const base = Math.floor(s0 / SECTORS_PER_CHUNK) * SECTORS_PER_CHUNK;
    let k = s0 - base;
    const kEnd = k + maxLen / ss;
    const bit = (bm[k >> 3] >> (k & 7)) & 1;
    const full = bit ? 0xff : 0;
    k++;
    while (k < kEnd) {
      if ((k & 7) === 0 && k + 8 <= kEnd && bm[k >> 3] === full) { k += 8; continue; }
      if (((bm[k >> 3] >> (k & 7)) & 1) !== bit) break;
      k++;
    }
    return { present: bit === 1, length: (k - (s0 - base)) * ss };
  }

  // ---- I/O ----

  protected doRead(offset: number, buf: Uint8Array): void {
    const bs = this.meta.blockSize;
    let pos = 0;
    while (pos < buf.length) {
      const vo = offset + pos;
      const block = Math.floor(vo / bs);
      const inBlock = vo - block * bs;
      const n = Math.min(buf.length - pos, bs - inBlock);
      const sub = buf.subarray(pos, pos + n);
      const i = payloadIndex(this.geo, block);
      const st = entryState(this.bat, i);
      if (st === PAYLOAD_BLOCK_FULLY_PRESENT) {
        this.file.read(sub, entryOffset(this.bat, i) + inBlock);
      } else if (st === PAYLOAD_BLOCK_PARTIALLY_PRESENT) {
        const bm = this.bitmap(Math.floor(block / this.geo.chunkRatio), false);
        const base = entryOffset(this.bat, i) - block * bs;
        for (let p = 0; p < n;) {
          const run = this.bitRun(bm, vo + p, n - p);
          const part = sub.subarray(p, p + run.length);
          if (run.present) this.file.read(part, base + vo + p);
          else readFromParent(this._parent, vo + p, part);
          p += run.length;
        }
      } else if ((st === PAYLOAD_BLOCK_NOT_PRESENT || st === PAYLOAD_BLOCK_UNDEFINED) && this._parent) {
        readFromParent(this._parent, vo, sub);
      } else {
        sub.fill(0);
      }
      pos += n;
    }
  }

  protected doWrite(offset: number, buf: Uint8Array): void {
    this.beginModify(true);
    this.dataDirty = true;
    const bs = this.meta.blockSize;
    let pos = 0;
    while (pos < buf.length) {
      const vo = offset + pos;
      const block = Math.floor(vo / bs);
      const inBlock = vo - block * bs;
      const n = Math.min(buf.length - pos, bs - inBlock);
      const sub = buf.subarray(pos, pos + n);
      const i = payloadIndex(this.geo, block);
      const st = entryState(this.bat, i);
      if (st === PAYLOAD_BLOCK_FULLY_PRESENT) {
        this.file.write(sub, entryOffset(this.bat, i) + inBlock);
      } else if (st === PAYLOAD_BLOCK_PARTIALLY_PRESENT) {
        this.file.write(sub, entryOffset(this.bat, i) + inBlock);
        this.setBits(vo, n);
      } else {
        const blockBytes = Math.min(bs, this.capacity - block * bs);
        const fromParent = this._parent !== null && (st === PAYLOAD_BLOCK_NOT_PRESENT || st === PAYLOAD_BLOCK_UNDEFINED);
        const partial = fromParent && !(inBlock === 0 && n === blockBytes);
        const off = this.allocate(bs);
        this.file.write(sub, off + inBlock);
        setEntry(this.bat, i, partial ? PAYLOAD_BLOCK_PARTIALLY_PRESENT : PAYLOAD_BLOCK_FULLY_PRESENT, off);
        this.markBat(i);
        if (partial) this.setBits(vo, n);
      }
      pos += n;
    }
  }

  protected doDiscard(offset: number, length: number): void {
    if (this.meta.leaveBlocksAllocated) return;
    const bs = this.meta.blockSize;
    const end = offset + length;
    for (let b = Math.ceil(offset / bs); b * bs < end; b++) {
      const blockEnd = Math.min((b + 1) * bs, this.capacity);
      if (blockEnd > end) break;
      const i = payloadIndex(this.geo, b);
      if (entryState(this.bat, i) === PAYLOAD_BLOCK_ZERO) continue;
      this.beginModify(true);
      setEntry(this.bat, i, PAYLOAD_BLOCK_ZERO, 0);
      this.markBat(i);
    }
  }

  layerStatus(offset: number, length: number): LayerRun {
    this.checkOpen();
    const bs = this.meta.blockSize;
    const block = Math.floor(offset / bs);
    const n = Math.min(length, bs - (offset - block * bs), this.capacity - offset);
    const i = payloadIndex(this.geo, block);
    switch (entryState(this.bat, i)) {
      case PAYLOAD_BLOCK_FULLY_PRESENT: return { state: 'data', length: n };
      case PAYLOAD_BLOCK_PARTIALLY_PRESENT: {
        const ss = this.logicalSectorSize;
        const aligned = offset - (offset % ss);
        const run = this.bitRun(this.bitmap(Math.floor(block / this.geo.chunkRatio), false), aligned, alignUp(n + offset - aligned, ss));
        return { state: run.present ? 'data' : 'absent', length: Math.max(1, Math.min(n, run.length - (offset - aligned))) };
      }
      case PAYLOAD_BLOCK_ZERO: case PAYLOAD_BLOCK_UNMAPPED: return { state: 'zero', length: n };
      default: return { state: this._parent ? 'absent' : 'zero', length: n };
    }
  }

  // ---- resize ----

  resize(newSize: number): void {
    this.checkOpen();
    if (this.readOnly) throw new DiskRequestError(`vhdx: ${this.path} is open read-only`);
    const ss = this.logicalSectorSize;
    if (!Number.isSafeInteger(newSize) || newSize <= 0 || newSize % ss !== 0 || newSize > MAX_VIRTUAL_SIZE) {
      throw new DiskRequestError(`vhdx: size ${newSize} must be a positive multiple of ${ss} up to 64 TiB`);
    }
    if (newSize === this.capacity) return;
    this.doFlush();
    this.beginModify(true);
    const oldSize = this.capacity;
    const bs = this.meta.blockSize;
    const old = this.geo;
    const geo = batGeometry(newSize, bs, ss, this.meta.hasParent);

    if (newSize < oldSize) {
      // Zero the retained tail of the last block so growing again shows zeros, then drop the blocks past the end.
      const last = geo.dataBlocks - 1;
      const li = payloadIndex(old, last);
      const st = entryState(this.bat, li);
      const tailEnd = Math.min((last + 1) * bs, oldSize);
      if ((st === PAYLOAD_BLOCK_FULLY_PRESENT || st === PAYLOAD_BLOCK_PARTIALLY_PRESENT) && tailEnd > newSize) {
        this.writeZeros(entryOffset(this.bat, li) + (newSize - last * bs), tailEnd - newSize);
        if (st === PAYLOAD_BLOCK_PARTIALLY_PRESENT) this.setBits(newSize, tailEnd - newSize);
      }
      for (let i = geo.totalEntries; i < old.totalEntries; i++) {
        if (this.bat.readUInt32LE(i * 8) !== 0 || this.bat.readUInt32LE(i * 8 + 4) !== 0) {
          this.bat.writeUInt32LE(0, i * 8);
          this.bat.writeUInt32LE(0, i * 8 + 4);
          this.markBat(i);
        }
      }
      for (const c of [...this.bitmaps.keys()]) if (c >= geo.bitmapBlocks) { this.bitmaps.delete(c); this.dirtyBitmapPages.delete(c); }
      this.dataDirty = true;
    }

    let relocated = false;
    const need = alignUp(geo.totalEntries * 8, PAGE);
    if (need > this.regions.bat.length) {
      // Move the BAT to fresh space at the end of the file; the region table switch goes through the log.
      const len = alignUp(need, MiB);
      const off = this.allocate(len);
      const nb = Buffer.alloc(need);
      this.bat.copy(nb, 0, 0, Math.min(this.bat.length, need));
      this.file.write(nb, off);
      this.bat = nb;
      this.batOffset = off;
      this.dirtyBatPages.clear();
      this.regions.bat.offset = off;
      this.regions.bat.length = len;
      relocated = true;
    } else if (need > this.bat.length) {
      const nb = Buffer.alloc(need);
      this.bat.copy(nb);
      this.bat = nb;
    }

    this.geo = geo;
    if (newSize > oldSize && this.meta.leaveBlocksAllocated) {
      for (let b = old.dataBlocks; b < geo.dataBlocks; b++) {
        const i = payloadIndex(geo, b);
        setEntry(this.bat, i, PAYLOAD_BLOCK_FULLY_PRESENT, this.allocate(bs));
        if (!relocated) this.markBat(i);
      }
      if (relocated) this.file.write(this.bat, this.batOffset);
    }

    // The virtual disk size item, and the region tables if the BAT moved.
    const itemOff = this.regions.metadata.offset + this.meta.virtualSizeItemOffset;
    const pageOff = itemOff - (itemOff % PAGE);
    const page = this.pendingMeta.get(pageOff) ?? this.file.readNew(pageOff, PAGE);
    page.writeBigUInt64LE(BigInt(newSize), itemOff - pageOff);
    this.pendingMeta.set(pageOff, page);
    if (relocated) {
      const table = buildRegionTable(this.regions.entries);
      for (const base of REGION_TABLE_OFFSETS) {
        for (let p = 0; p < REGION_TABLE_SIZE; p += PAGE) this.pendingMeta.set(base + p, table.subarray(p, p + PAGE));
      }
    }
    this.meta.virtualSize = newSize;
    this.doFlush();
  }

  info(): DiskInfo {
    this.checkOpen();
    let allocated = 0;
    for (let i = 0; i < this.geo.totalEntries; i++) {
      const st = entryState(this.bat, i);
      if (isBitmapIndex(this.geo, i)) { if (st === SB_BLOCK_PRESENT && this.meta.hasParent) allocated += SECTOR_BITMAP_BLOCK_SIZE; }
      else if (st === PAYLOAD_BLOCK_FULLY_PRESENT || st === PAYLOAD_BLOCK_PARTIALLY_PRESENT) allocated += this.meta.blockSize;
    }
    return {
      format: 'vhdx', type: this.type, path: this.path, virtualSize: this.capacity, fileSize: this.file.size,
      blockSize: this.meta.blockSize, logicalSectorSize: this.logicalSectorSize, physicalSectorSize: this.physicalSectorSize,
      parentPath: this._parent?.path ?? null, allocatedSize: allocated, diskId: formatGuid(this.meta.diskId),
    };
  }

  // ---- create ----

  static create(path: string, o: VhdxCreateOptions): VhdxDisk {
    let size = o.size ?? 0;
    let ls = o.logicalSectorSize ?? 512;
    let ps = o.physicalSectorSize ?? 4096;
    let locator: Buffer | null = null;
    if (o.type === 'differencing') {
      if (!o.parentPath || !o.openParent) throw new DiskRequestError('vhdx: a differencing disk needs a parent');
      const parent = o.openParent(o.parentPath);
      try {
        if (!(parent instanceof VhdxDisk)) throw new DiskRequestError(`vhdx: parent ${o.parentPath} is ${parent.format}; a VHDX differencing disk needs a VHDX parent`);
        size = parent.capacity;
        ls = parent.logicalSectorSize;
        ps = parent.physicalSectorSize;
        const abs = fs.realpathSync(parent.path);
        locator = buildParentLocator([
          ['parent_linkage', `{${formatGuid(parent.dataWriteGuid)}}`],
          ['relative_path', relativeLocatorPath(path, abs)],
          ['absolute_win32_path', abs],
        ]);
      } finally {
        parent.close();
      }
    }
    const bs = o.blockSize ?? (o.type === 'differencing' ? 2 * MiB : 32 * MiB);
    if (!Number.isInteger(Math.log2(bs)) || bs < MIN_BLOCK_SIZE || bs > MAX_BLOCK_SIZE) {
      throw new DiskRequestError(`vhdx: block size ${bs} must be a power of two from 1 MiB to 256 MiB`);
    }
    if (ls !== 512 && ls !== 4096) throw new DiskRequestError(`vhdx: logical sector size ${ls} must be 512 or 4096`);
    if (ps !== 512 && ps !== 4096) throw new DiskRequestError(`vhdx: physical sector size ${ps} must be 512 or 4096`);
    if (!Number.isSafeInteger(size) || size <= 0 || size % ls !== 0 || size > MAX_VIRTUAL_SIZE) {
      throw new DiskRequestError(`vhdx: size ${size} must be a positive multiple of ${ls} up to 64 TiB`);
    }
    const fixed = o.type === 'fixed';
    const geo = batGeometry(size, bs, ls, o.type === 'differencing');
    const batLength = alignUp(geo.totalEntries * 8, MiB);
    const bat = Buffer.alloc(geo.totalEntries * 8);
    let end = BAT_OFFSET + batLength;
    if (fixed) {
      for (let b = 0; b < geo.dataBlocks; b++) {
        setEntry(bat, payloadIndex(geo, b), PAYLOAD_BLOCK_FULLY_PRESENT, end);
        end += bs;
      }
    }
    const { region: metadata } = buildMetadataRegion({
      blockSize: bs, leaveBlocksAllocated: fixed, hasParent: o.type === 'differencing', virtualSize: size,
      logicalSectorSize: ls, physicalSectorSize: ps, diskId: randomGuid(),
    }, locator, METADATA_LENGTH);
    const fileGuid = randomGuid();
    const dataGuid = randomGuid();
    const header = (seq: bigint) => buildHeader({
      sequenceNumber: seq, fileWriteGuid: fileGuid, dataWriteGuid: dataGuid, logGuid: ZERO_GUID,
      logVersion: 0, version: 1, logLength: LOG_LENGTH, logOffset: LOG_OFFSET,
    });
    const regions = buildRegionTable([
      { guid: BAT_REGION_GUID, offset: BAT_OFFSET, length: batLength, required: true },
      { guid: METADATA_REGION_GUID, offset: METADATA_OFFSET, length: METADATA_LENGTH, required: true },
    ]);
    const f = ImageFile.create(path, 'vhdx');
    try {
      f.write(buildFileIdentifier(CREATOR), 0);
      f.write(header(1n), HEADER_OFFSETS[0]);
      f.write(header(2n), HEADER_OFFSETS[1]);
      f.write(regions, REGION_TABLE_OFFSETS[0]);
      f.write(regions, REGION_TABLE_OFFSETS[1]);
      f.write(metadata, METADATA_OFFSET);
      f.write(bat, BAT_OFFSET);
      f.truncate(Math.max(end, BAT_OFFSET + batLength));
      f.sync();
      f.close();
    } catch (e) {
      f.close();
      fs.rmSync(path, { force: true });
      throw e;
    }
    return VhdxDisk.open(path, { readOnly: false, openParent: o.openParent });
  }
}
