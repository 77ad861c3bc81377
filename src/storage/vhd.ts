// VHD (version 1) images: fixed (raw data then a footer), dynamic (BAT of 2 MiB-ish blocks, each a sector bitmap
// then data) and differencing (a dynamic disk whose bitmap says which sectors are its own, the rest coming from
// the parent). The BAT is cached in memory; block allocation writes data, then the moved footer, then the BAT
// entry, so a torn allocation leaves at worst an unreferenced block.
import * as fs from 'node:fs';
import { alignUp, isPowerOfTwo } from './bytes.js';
import { BaseDisk, readFromParent, type Disk, type DiskInfo, type LayerRun } from './disk.js';
import { CorruptImageError, DiskRequestError, StorageError, UnsupportedImageError } from './errors.js';
import { formatGuid, guidEquals, randomGuid, ZERO_GUID } from './guid.js';
import { ImageFile } from './image-file.js';
import { parentCandidates, relativeLocatorPath } from './parent-path.js';
import {
  buildDynamicHeader, buildFooter, chsGeometry, DISK_TYPE_DIFFERENCING, DISK_TYPE_DYNAMIC, DISK_TYPE_FIXED,
  DYNAMIC_HEADER_SIZE, FOOTER_SIZE, footerDiskSize, parseDynamicHeader, parseFooter, SECTOR, UNALLOCATED,
  VHD_MAX_SIZE, vhdTimestamp, type ParentLocatorEntry, type VhdDynamicHeader, type VhdFooter,
} from './vhd-format.js';

export type OpenParent = (path: string) => Disk;
export interface VhdOpenOptions { readOnly?: boolean; openParent?: OpenParent }
export interface VhdCreateOptions {
  size?: number;
  type: 'fixed' | 'dynamic' | 'differencing';
  blockSize?: number;
  parentPath?: string;
  openParent?: OpenParent;
}

// QEMU and other readers pick the current-size field (rather than CHS geometry) for images whose creator is
// Hyper-V; that is the sizing rule we implement, so our footers say so.
const CREATOR_APP = 'win ';
const DEFAULT_BLOCK = 2 * 1024 * 1024;

export class VhdDisk extends BaseDisk {
  readonly format = 'vhd' as const;
  readonly logicalSectorSize = SECTOR;
  readonly physicalSectorSize = SECTOR;
  private footer!: VhdFooter;
  private footerOffset = 0;
  private size = 0;
  private dyn: VhdDynamicHeader | null = null;
  private bat: Uint32Array = new Uint32Array(0);
  private bitmapSize = 0;
  private readonly bitmaps = new Map<number, Buffer>();
  private _parent: Disk | null = null;

  private constructor(private readonly file: ImageFile, opts: VhdOpenOptions) {
    super();
    try {
      this.load(opts);
    } catch (e) {
      this._parent?.close();
      throw e;
    }
  }

  static open(path: string, opts: VhdOpenOptions = {}): VhdDisk {
    const file = ImageFile.open(path, opts.readOnly ?? false, 'vhd');
    try {
      return new VhdDisk(file, opts);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  get path(): string { return this.file.path; }
  get readOnly(): boolean { return this.file.readOnly; }
  get capacity(): number { return this.size; }
  get parent(): Disk | null { return this._parent; }
  get uniqueId(): Uint8Array { return this.footer.uniqueId; }
  get timestamp(): number { return this.footer.timestamp; }
  get type(): 'fixed' | 'dynamic' | 'differencing' {
    return this.footer.diskType === DISK_TYPE_FIXED ? 'fixed' : this.footer.diskType === DISK_TYPE_DYNAMIC ? 'dynamic' : 'differencing';
  }

  private load(opts: VhdOpenOptions): void {
    const f = this.file;
    if (f.size < FOOTER_SIZE) throw new CorruptImageError(`vhd: file is ${f.size} bytes, too small for a VHD image`);
    this.footerOffset = f.size - FOOTER_SIZE;
    let footer = parseFooter(f.readNew(this.footerOffset, FOOTER_SIZE));
    if (typeof footer === 'string') {
      // A dynamic disk keeps a copy of the footer at offset 0.
      const copy = parseFooter(f.readNew(0, FOOTER_SIZE));
      if (typeof copy === 'string' || copy.diskType === DISK_TYPE_FIXED) throw new CorruptImageError(`vhd: ${footer}`);
      footer = copy;
    }
    this.footer = footer;
    const size = footerDiskSize(footer);
    if (footer.diskType !== DISK_TYPE_FIXED && footer.diskType !== DISK_TYPE_DYNAMIC && footer.diskType !== DISK_TYPE_DIFFERENCING) {
      throw new UnsupportedImageError(`vhd: unsupported disk type ${footer.diskType}`);
    }
    if (size <= 0 || size % SECTOR !== 0 || size > VHD_MAX_SIZE) throw new CorruptImageError(`vhd: disk size ${size} is absurd`);
    this.size = size;
    if (footer.diskType === DISK_TYPE_FIXED) {
      if (size > this.footerOffset) throw new CorruptImageError(`vhd: footer says ${size} bytes but the file holds only ${this.footerOffset}`);
      return;
    }
    const dOff = footer.dataOffset;
    if (dOff < FOOTER_SIZE || dOff % SECTOR !== 0 || dOff + DYNAMIC_HEADER_SIZE > this.footerOffset) {
      throw new CorruptImageError(`vhd: dynamic header offset ${dOff} points past end of file`);
    }
    const dyn = parseDynamicHeader(f.readNew(dOff, DYNAMIC_HEADER_SIZE));
    if (!isPowerOfTwo(dyn.blockSize) || dyn.blockSize < 4096 || dyn.blockSize > 256 * 1024 * 1024) {
      throw new CorruptImageError(`vhd: block size ${dyn.blockSize} is not a power of two from 4 KiB to 256 MiB`);
    }
    const blocks = Math.ceil(size / dyn.blockSize);
    if (dyn.maxTableEntries < blocks) throw new CorruptImageError(`vhd: BAT has ${dyn.maxTableEntries} entries, the disk needs ${blocks}`);
    if (dyn.maxTableEntries > blocks + (1 << 20)) throw new CorruptImageError(`vhd: BAT of ${dyn.maxTableEntries} entries is absurd`);
    const batBytes = alignUp(dyn.maxTableEntries * 4, SECTOR);
    if (dyn.tableOffset % SECTOR !== 0 || dyn.tableOffset < dOff + DYNAMIC_HEADER_SIZE && dyn.tableOffset + batBytes > dOff || dyn.tableOffset + batBytes > this.footerOffset) {
      throw new CorruptImageError(`vhd: BAT (offset ${dyn.tableOffset}, ${batBytes} bytes) overlaps the headers or extends past end of file`);
    }
    this.dyn = dyn;
    this.bitmapSize = alignUp(Math.ceil(dyn.blockSize / SECTOR / 8), SECTOR);
    const raw = f.readNew(dyn.tableOffset, dyn.maxTableEntries * 4);
    this.bat = new Uint32Array(dyn.maxTableEntries);
    const spans: [number, number, number][] = [[0, FOOTER_SIZE, -1], [dOff, DYNAMIC_HEADER_SIZE, -1], [dyn.tableOffset, batBytes, -1]];
    for (let i = 0; i < dyn.maxTableEntries; i++) {
      const e = raw.readUInt32BE(i * 4);
      this.bat[i] = e;
      if (e === UNALLOCATED) continue;
      const off = e * SECTOR;
      if (off + this.bitmapSize + dyn.blockSize > this.footerOffset) throw new CorruptImageError(`vhd: BAT entry ${i} points past end of file`);
      spans.push([off, this.bitmapSize + dyn.blockSize, i]);
    }
    spans.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < spans.length; i++) {
      if (spans[i - 1][0] + spans[i - 1][1] > spans[i][0]) {
        const who = (s: [number, number, number]) => (s[2] < 0 ? 'the headers or BAT' : `block of BAT entry ${s[2]}`);
        throw new CorruptImageError(`vhd: ${who(spans[i - 1])} overlaps ${who(spans[i])}`);
      }
    }
    if (footer.diskType === DISK_TYPE_DIFFERENCING) this.openParentDisk(opts);
  }

  private locatorText(l: ParentLocatorEntry): string | null {
    if (l.dataLength === 0 || l.dataLength > 65536 || l.dataOffset + l.dataLength > this.file.size) return null;
    const b = this.file.readNew(l.dataOffset, l.dataLength);
    if (l.code === 'W2ru' || l.code === 'W2ku') return b.toString('utf16le').replace(/\0+$/, '');
    if (l.code === 'MacX') return decodeURIComponent(b.toString('utf8').replace(/\0+$/, '').replace(/^file:\/\/(localhost)?/, ''));
    return null;
  }

  private openParentDisk(opts: VhdOpenOptions): void {
    const dyn = this.dyn!;
    const rel = dyn.locators.find((l) => l.code === 'W2ru');
    const abs = dyn.locators.filter((l) => l.code === 'W2ku' || l.code === 'MacX').map((l) => this.locatorText(l));
    const candidates = parentCandidates(this.path, rel ? this.locatorText(rel) : null, [...abs, dyn.parentName || null]);
    const found = candidates.find((c) => fs.existsSync(c));
    if (!found) throw new StorageError(`vhd: parent of ${this.path} not found (tried ${candidates.join(', ') || 'no paths'})`);
    if (!opts.openParent) throw new StorageError('vhd: differencing disks must be opened through openDisk');
    const parent = opts.openParent(found);
    this._parent = parent;
    if (!(parent instanceof VhdDisk)) throw new UnsupportedImageError(`vhd: parent ${found} is ${parent.format}, not VHD`);
    if (!guidEquals(parent.uniqueId, dyn.parentUniqueId)) {
      throw new CorruptImageError(`vhd: parent ${found} is not the disk ${this.path} was created from (unique ID ${formatGuid(parent.uniqueId)}, expected ${formatGuid(dyn.parentUniqueId)})`);
    }
  }

  private blockBitmap(block: number): Buffer {
    let bm = this.bitmaps.get(block);
    if (!bm) {
      bm = this.file.readNew(this.bat[block] * SECTOR, this.bitmapSize);
      this.bitmaps.set(block, bm);
    }
    return bm;
  }

  /** Run of sectors with the same bitmap bit (bit 7 of byte 0 is the block's first sector). */
  private bitRun(bm: Buffer, firstSector: number, maxSectors: number): { present: boolean; sectors: number } {
    const bit = (s: number) => (bm[s >> 3] >> (7 - (s & 7))) & 1;
    const v = bit(firstSector);
    let k = 1;
    while (k < maxSectors && bit(firstSector + k) === v) k++;
    return { present: v === 1, sectors: k };
  }

  protected doRead(offset: number, buf: Uint8Array): void {
    if (!this.dyn) { this.file.read(buf, offset); return; }
    const bs = this.dyn.blockSize;
    for (let pos = 0; pos < buf.length;) {
      const vo = offset + pos;
      const block = Math.floor(vo / bs);
      const inBlock = vo - block * bs;
      const n = Math.min(buf.length - pos, bs - inBlock);
      const sub = buf.subarray(pos, pos + n);
      const e = this.bat[block];
      if (e === UNALLOCATED) {
        readFromParent(this._parent, vo, sub);
      } else {
        const data = e * SECTOR + this.bitmapSize;
        if (this.footer.diskType === DISK_TYPE_DIFFERENCING) {
          const bm = this.blockBitmap(block);
          for (let p = 0; p < n;) {
            const run = this.bitRun(bm, (inBlock + p) / SECTOR, (n - p) / SECTOR);
            const len = run.sectors * SECTOR;
            if (run.present) this.file.read(sub.subarray(p, p + len), data + inBlock + p);
            else readFromParent(this._parent, vo + p, sub.subarray(p, p + len));
            p += len;
          }
        } else {
          this.file.read(sub, data + inBlock);
        }
      }
      pos += n;
    }
  }

  protected doWrite(offset: number, buf: Uint8Array): void {
    if (!this.dyn) { this.file.write(buf, offset); return; }
    const bs = this.dyn.blockSize;
    const diff = this.footer.diskType === DISK_TYPE_DIFFERENCING;
    for (let pos = 0; pos < buf.length;) {
      const vo = offset + pos;
      const block = Math.floor(vo / bs);
      const inBlock = vo - block * bs;
      const n = Math.min(buf.length - pos, bs - inBlock);
      if (this.bat[block] === UNALLOCATED) this.allocateBlock(block, diff);
      const base = this.bat[block] * SECTOR;
      this.file.write(buf.subarray(pos, pos + n), base + this.bitmapSize + inBlock);
      if (diff) {
        const bm = this.blockBitmap(block);
        const s0 = inBlock / SECTOR, s1 = s0 + n / SECTOR;
        for (let s = s0; s < s1; s++) bm[s >> 3] |= 0x80 >> (s & 7);
        const b0 = s0 >> 3, b1 = ((s1 - 1) >> 3) + 1;
        const w0 = b0 - (b0 % SECTOR), w1 = alignUp(b1, SECTOR);
        this.file.write(bm.subarray(w0, w1), base + w0);
      }
      pos += n;
    }
  }

  /** New block at the footer's place: bitmap, zero data (sparse), footer after it, then the BAT entry. */
  private allocateBlock(block: number, diff: boolean): void {
    const dyn = this.dyn!;
    const off = alignUp(this.footerOffset, SECTOR);
    const bm = Buffer.alloc(this.bitmapSize, diff ? 0 : 0xff);
    this.file.write(bm, off);
    const newFooter = off + this.bitmapSize + dyn.blockSize;
    this.file.write(buildFooter(this.footer), newFooter);
    this.footerOffset = newFooter;
    if (diff) this.bitmaps.set(block, bm);
    this.bat[block] = off / SECTOR;
    const e = Buffer.alloc(4);
    e.writeUInt32BE(this.bat[block]);
    this.file.write(e, dyn.tableOffset + block * 4);
  }

  protected doFlush(): void { this.file.sync(); }

  protected doDiscard(): void {
    // VHD has no way to mark a block zero without freeing it in place; discard is a hint we ignore.
  }

  protected doClose(): void {
    try {
      if (!this.readOnly) this.file.sync();
    } finally {
      this.file.close();
      this._parent?.close();
    }
  }

  layerStatus(offset: number, length: number): LayerRun {
    this.checkOpen();
    if (!this.dyn) return { state: 'data', length: Math.min(length, this.size - offset) };
    const bs = this.dyn.blockSize;
    const block = Math.floor(offset / bs);
    const inBlock = offset - block * bs;
    const n = Math.min(length, bs - inBlock, this.size - offset);
    if (this.bat[block] === UNALLOCATED) return { state: this._parent ? 'absent' : 'zero', length: n };
    if (this.footer.diskType !== DISK_TYPE_DIFFERENCING) return { state: 'data', length: n };
    const s0 = Math.floor(inBlock / SECTOR);
    const run = this.bitRun(this.blockBitmap(block), s0, Math.ceil((inBlock + n) / SECTOR) - s0);
    return { state: run.present ? 'data' : 'absent', length: Math.max(1, Math.min(n, run.sectors * SECTOR - (inBlock - s0 * SECTOR))) };
  }

  resize(newSize: number): void {
    this.checkOpen();
    if (this.readOnly) throw new DiskRequestError(`vhd: ${this.path} is open read-only`);
    if (!Number.isSafeInteger(newSize) || newSize <= 0 || newSize % SECTOR !== 0 || newSize > VHD_MAX_SIZE) {
      throw new DiskRequestError(`vhd: size ${newSize} must be a positive multiple of 512 up to 2040 GiB`);
    }
    const old = this.size;
    if (newSize === old) return;
    const geo = chsGeometry(newSize);
    this.footer = { ...this.footer, currentSize: newSize, creatorApp: CREATOR_APP, ...geo };
    if (!this.dyn) {
      // Growing: the old footer's place becomes disk data and must read as zeros.
      if (newSize > old) this.file.write(Buffer.alloc(FOOTER_SIZE), this.footerOffset);
      this.file.truncate(newSize);
      this.file.write(buildFooter(this.footer), newSize);
      this.footerOffset = newSize;
      this.size = newSize;
      this.file.sync();
      return;
    }
    const dyn = this.dyn;
    const bs = dyn.blockSize;
    const blocks = Math.ceil(newSize / bs);
    if (newSize < old) {
      const last = blocks - 1;
      const tailEnd = Math.min((last + 1) * bs, old);
      if (this.bat[last] !== UNALLOCATED && tailEnd > newSize) {
        this.size = old;
        this.doWrite(newSize, Buffer.alloc(tailEnd - newSize));
      }
      for (let b = blocks; b < this.bat.length; b++) this.bat[b] = UNALLOCATED;
    }
    if (blocks > dyn.maxTableEntries) {
      // Move the BAT to the end of the file, sized for the new disk.
      const nb = new Uint32Array(blocks).fill(UNALLOCATED);
      nb.set(this.bat);
      this.bat = nb;
      dyn.tableOffset = alignUp(this.footerOffset, SECTOR);
      dyn.maxTableEntries = blocks;
      this.footerOffset = dyn.tableOffset + alignUp(blocks * 4, SECTOR);
    }
    const raw = Buffer.alloc(alignUp(this.bat.length * 4, SECTOR), 0xff);
    this.bat.forEach((e, i) => raw.writeUInt32BE(e, i * 4));
    this.file.write(raw, dyn.tableOffset);
    this.file.write(buildDynamicHeader(dyn), this.footer.dataOffset);
    const footer = buildFooter(this.footer);
    this.file.write(footer, this.footerOffset);
    this.file.truncate(this.footerOffset + FOOTER_SIZE);
    this.file.write(footer, 0);
    this.size = newSize;
    this.file.sync();
  }

  info(): DiskInfo {
    this.checkOpen();
    let allocated = this.file.size;
    if (this.dyn) allocated = this.bat.reduce((a, e) => a + (e === UNALLOCATED ? 0 : this.dyn!.blockSize), 0);
    return {
      format: 'vhd', type: this.type, path: this.path, virtualSize: this.size, fileSize: this.file.size,
      blockSize: this.dyn?.blockSize ?? null, logicalSectorSize: SECTOR, physicalSectorSize: SECTOR,
      parentPath: this._parent?.path ?? null, allocatedSize: allocated, diskId: formatGuid(this.footer.uniqueId),
    };
  }

  static create(path: string, o: VhdCreateOptions): VhdDisk {
    let size = o.size ?? 0;
    let parentId = ZERO_GUID;
    let parentTime = 0;
    let parentAbs = '';
    let parentRel = '';
    if (o.type === 'differencing') {
      if (!o.parentPath || !o.openParent) throw new DiskRequestError('vhd: a differencing disk needs a parent');
      const parent = o.openParent(o.parentPath);
      try {
        if (!(parent instanceof VhdDisk)) throw new DiskRequestError(`vhd: parent ${o.parentPath} is ${parent.format}; a VHD differencing disk needs a VHD parent`);
        size = parent.capacity;
        parentId = parent.uniqueId;
        parentTime = vhdTimestamp(fs.statSync(parent.path).mtime);
        parentAbs = fs.realpathSync(parent.path);
        parentRel = relativeLocatorPath(path, parentAbs);
      } finally {
        parent.close();
      }
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR !== 0 || size > VHD_MAX_SIZE) {
      throw new DiskRequestError(`vhd: size ${size} must be a positive multiple of 512 up to 2040 GiB`);
    }
    const bs = o.blockSize ?? DEFAULT_BLOCK;
    if (!isPowerOfTwo(bs) || bs < 4096 || bs > 256 * 1024 * 1024) throw new DiskRequestError(`vhd: block size ${bs} must be a power of two from 4 KiB to 256 MiB`);
    const footer: VhdFooter = {
      features: 2, dataOffset: o.type === 'fixed' ? Infinity : FOOTER_SIZE, timestamp: vhdTimestamp(), creatorApp: CREATOR_APP,
      originalSize: size, currentSize: size, ...chsGeometry(size),
      diskType: o.type === 'fixed' ? DISK_TYPE_FIXED : o.type === 'dynamic' ? DISK_TYPE_DYNAMIC : DISK_TYPE_DIFFERENCING,
      uniqueId: randomGuid(),
    };
    const f = ImageFile.create(path, 'vhd');
    try {
      if (o.type === 'fixed') {
        f.truncate(size);
        f.write(buildFooter(footer), size);
      } else {
        const entries = Math.ceil(size / bs);
        const tableOffset = FOOTER_SIZE + DYNAMIC_HEADER_SIZE;
        let end = tableOffset + alignUp(entries * 4, SECTOR);
        const locators: ParentLocatorEntry[] = [];
        const locData: [number, Buffer][] = [];
        for (const [code, text] of [['W2ru', parentRel], ['W2ku', parentAbs]] as const) {
          if (!text) continue;
          const data = Buffer.from(text, 'utf16le');
          const space = alignUp(data.length, SECTOR);
          locators.push({ code, dataSpace: space / SECTOR, dataLength: data.length, dataOffset: end });
          locData.push([end, data]);
          end += space;
        }
        const bat = Buffer.alloc(alignUp(entries * 4, SECTOR), 0xff);
        const fb = buildFooter(footer);
        f.write(fb, 0);
        f.write(buildDynamicHeader({
          tableOffset, maxTableEntries: entries, blockSize: bs, parentUniqueId: parentId, parentTimestamp: parentTime,
          parentName: parentAbs, locators,
        }), FOOTER_SIZE);
        f.write(bat, tableOffset);
        for (const [off, data] of locData) f.write(data, off);
        f.write(fb, end);
      }
      f.sync();
      f.close();
    } catch (e) {
      f.close();
      fs.rmSync(path, { force: true });
      throw e;
    }
    return VhdDisk.open(path, { readOnly: false, openParent: o.openParent });
  }
}
