// The one disk interface every back end implements. The API is synchronous (fits a VM worker thread, which owns
// its disks and must not yield mid-request); `AsyncDisk` wraps any disk in promises for event-loop callers.
// Offsets and lengths are in bytes and must be multiples of the logical sector size; `readSectors` and
// `writeSectors` take an LBA instead.
import { DiskRequestError } from './errors.js';

export type DiskFormat = 'raw' | 'vhd' | 'vhdx';
export type DiskType = 'fixed' | 'dynamic' | 'differencing';

/** What one layer of a disk holds for a run of bytes: its own data, explicit zeros, or nothing (see the parent). */
export type LayerState = 'data' | 'zero' | 'absent';
export interface LayerRun { state: LayerState; length: number }

export interface DiskInfo {
  format: DiskFormat;
  type: DiskType;
  path: string;
  virtualSize: number;
  fileSize: number;
  blockSize: number | null;
  logicalSectorSize: number;
  physicalSectorSize: number;
  parentPath: string | null;
  /** Bytes of the file referenced by the block map (dynamic/differencing), else the file size. */
  allocatedSize: number;
  diskId: string | null;
}

export interface Disk {
  readonly format: DiskFormat;
  readonly type: DiskType;
  readonly path: string;
  readonly readOnly: boolean;
  /** Virtual size in bytes. */
  readonly capacity: number;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  /** The next disk of a differencing chain, opened read-only; null for a base disk. */
  readonly parent: Disk | null;
  read(offset: number, buf: Uint8Array): void;
  write(offset: number, buf: Uint8Array): void;
  readSectors(lba: number, buf: Uint8Array): void;
  writeSectors(lba: number, buf: Uint8Array): void;
  /** Makes every completed write durable (and commits metadata through the VHDX log). */
  flush(): void;
  /** The range's contents become unspecified; back ends free or zero whole blocks where they can. */
  discard(offset: number, length: number): void;
  /** What this layer (not its parents) holds from `offset` on, for at least one byte and at most `length`. */
  layerStatus(offset: number, length: number): LayerRun;
  /** Changes the virtual size (flushes first). */
  resize(newCapacity: number): void;
  info(): DiskInfo;
  /** Flushes (if writable) and closes the disk and its parents. */
  close(): void;
}

/** Shared argument checks and the LBA forms; back ends implement the `do*` methods. */
export abstract class BaseDisk implements Disk {
  abstract readonly format: DiskFormat;
  abstract readonly type: DiskType;
  abstract readonly path: string;
  abstract readonly readOnly: boolean;
  abstract readonly capacity: number;
  abstract readonly logicalSectorSize: number;
  abstract readonly physicalSectorSize: number;
  abstract readonly parent: Disk | null;
  protected closed = false;

  protected abstract doRead(offset: number, buf: Uint8Array): void;
  protected abstract doWrite(offset: number, buf: Uint8Array): void;
  protected abstract doFlush(): void;
  protected abstract doDiscard(offset: number, length: number): void;
  protected abstract doClose(): void;
  abstract layerStatus(offset: number, length: number): LayerRun;
  abstract resize(newCapacity: number): void;
  abstract info(): DiskInfo;

  read(offset: number, buf: Uint8Array): void {
    this.check(offset, buf.length, false);
    if (buf.length > 0) this.doRead(offset, buf);
  }

  write(offset: number, buf: Uint8Array): void {
    this.check(offset, buf.length, true);
    if (buf.length > 0) this.doWrite(offset, buf);
  }

  readSectors(lba: number, buf: Uint8Array): void { this.read(lba * this.logicalSectorSize, buf); }
  writeSectors(lba: number, buf: Uint8Array): void { this.write(lba * this.logicalSectorSize, buf); }

  flush(): void {
    this.checkOpen();
    if (!this.readOnly) this.doFlush();
  }

  discard(offset: number, length: number): void {
    this.check(offset, length, true);
    if (length > 0) this.doDiscard(offset, length);
  }

  close(): void {
    if (this.closed) return;
    try {
      this.doClose();
    } finally {
      this.closed = true;
    }
  }

  protected checkOpen(): void {
    if (this.closed) throw new DiskRequestError(`${this.format}: ${this.path} is closed`);
  }

  protected check(offset: number, length: number, writing: boolean): void {
    this.checkOpen();
    if (writing && this.readOnly) throw new DiskRequestError(`${this.format}: ${this.path} is open read-only`);
    const ss = this.logicalSectorSize;
    if (!Number.isSafeInteger(offset) || offset < 0 || offset % ss !== 0 || length % ss !== 0) {
      throw new DiskRequestError(`${this.format}: I/O at offset ${offset}, length ${length} is not aligned to the ${ss}-byte sector`);
    }
    if (offset + length > this.capacity) {
      throw new DiskRequestError(`${this.format}: I/O at offset ${offset}, length ${length} is past the end of the ${this.capacity}-byte disk`);
    }
  }
}

/** Reads `buf.length` bytes at `offset` from a parent of possibly smaller capacity; the rest reads as zeros. */
export function readFromParent(parent: Disk | null, offset: number, buf: Uint8Array): void {
  if (!parent) { buf.fill(0); return; }
  const avail = Math.max(0, Math.min(buf.length, parent.capacity - offset));
  if (avail > 0) parent.read(offset, buf.subarray(0, avail));
  if (avail < buf.length) buf.fill(0, avail);
}

/** Whether any layer of the chain may hold non-zero data in [offset, offset+length). */
export function chainMayHaveData(disk: Disk, offset: number, length: number): boolean {
  const end = offset + length;
  let pos = offset;
  while (pos < end) {
    const run = disk.layerStatus(pos, end - pos);
    const n = Math.max(1, Math.min(run.length, end - pos));
    if (run.state === 'data') return true;
    if (run.state === 'absent' && disk.parent && pos < disk.parent.capacity) {
      if (chainMayHaveData(disk.parent, pos, Math.min(n, disk.parent.capacity - pos))) return true;
    }
    pos += n;
  }
  return false;
}

/** Promise-returning view of a disk, for callers on the main event loop. */
export class AsyncDisk {
  constructor(readonly disk: Disk) {}
  get capacity(): number { return this.disk.capacity; }
  get logicalSectorSize(): number { return this.disk.logicalSectorSize; }
  get physicalSectorSize(): number { return this.disk.physicalSectorSize; }
  async read(offset: number, buf: Uint8Array): Promise<void> { this.disk.read(offset, buf); }
  async write(offset: number, buf: Uint8Array): Promise<void> { this.disk.write(offset, buf); }
  async readSectors(lba: number, buf: Uint8Array): Promise<void> { this.disk.readSectors(lba, buf); }
  async writeSectors(lba: number, buf: Uint8Array): Promise<void> { this.disk.writeSectors(lba, buf); }
  async flush(): Promise<void> { this.disk.flush(); }
  async discard(offset: number, length: number): Promise<void> { this.disk.discard(offset, length); }
  async close(): Promise<void> { this.disk.close(); }
}
