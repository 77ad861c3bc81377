// Whole-disk operations built on the Disk interface: convert (flattening a chain into a new image) and merge
// (folding a differencing disk into its parent). Both skip what holds no data and report progress.
import * as fs from 'node:fs';
import { isAllZero } from './bytes.js';
import { chainMayHaveData, type Disk, type DiskFormat, type DiskType } from './disk.js';
import { DiskRequestError } from './errors.js';
import { createDisk, openDisk } from './open.js';

export type Progress = (done: number, total: number) => void;
const CHUNK = 1024 * 1024;

export interface ConvertOptions {
  format: DiskFormat;
  type?: DiskType;
  blockSize?: number;
  onProgress?: Progress;
}

/** Copies the contents of `src` (with its parents) into a new image at `dst`. */
export function convertImage(src: string, dst: string, o: ConvertOptions): void {
  if (o.type === 'differencing') throw new DiskRequestError('convert makes standalone images; use create --parent for a differencing disk');
  const from = openDisk(src, { readOnly: true });
  let to: Disk | null = null;
  try {
    to = createDisk(dst, {
      format: o.format, type: o.type ?? 'dynamic', size: from.capacity, blockSize: o.blockSize,
      logicalSectorSize: o.format === 'vhd' ? 512 : from.logicalSectorSize,
      physicalSectorSize: o.format === 'vhd' ? 512 : from.physicalSectorSize,
    });
    if (o.format === 'vhd' && from.logicalSectorSize !== 512) throw new DiskRequestError('vhd: sectors are always 512 bytes');
    if (to.capacity !== from.capacity) throw new DiskRequestError(`${o.format} cannot hold a disk of exactly ${from.capacity} bytes`);
    const buf = Buffer.alloc(CHUNK);
    for (let off = 0; off < from.capacity; off += CHUNK) {
      const n = Math.min(CHUNK, from.capacity - off);
      if (chainMayHaveData(from, off, n)) {
        const b = buf.subarray(0, n);
        from.read(off, b);
        if (!isAllZero(b)) to.write(off, b);
      }
      o.onProgress?.(off + n, from.capacity);
    }
    to.flush();
    to.close();
    to = null;
  } catch (e) {
    try { to?.close(); } catch { /* already failing */ }
    fs.rmSync(dst, { force: true });
    throw e;
  } finally {
    from.close();
  }
}

export interface MergeOptions { onProgress?: Progress }

/**
 * Writes everything a differencing disk holds into its parent, then deletes the child (as Hyper-V does: the
 * parent's data changed, so the child's link to it is no longer valid).
 */
export function mergeIntoParent(childPath: string, o: MergeOptions = {}): { parentPath: string } {
  const child = openDisk(childPath, { readOnly: true });
  let parent: Disk | null = null;
  try {
    if (!child.parent) throw new DiskRequestError(`${childPath} is not a differencing disk`);
    const parentPath = child.parent.path;
    parent = openDisk(parentPath, { readOnly: false });
    if (parent.capacity < child.capacity) parent.resize(child.capacity);
    const buf = Buffer.alloc(CHUNK);
    const zero = Buffer.alloc(CHUNK);
    for (let off = 0; off < child.capacity;) {
      const run = child.layerStatus(off, Math.min(CHUNK, child.capacity - off));
      const n = Math.max(child.logicalSectorSize, run.length);
      if (run.state === 'data') {
        const b = buf.subarray(0, n);
        child.read(off, b);
        parent.write(off, b);
      } else if (run.state === 'zero') {
        parent.write(off, zero.subarray(0, n));
      }
      off += n;
      o.onProgress?.(off, child.capacity);
    }
    parent.flush();
    parent.close();
    parent = null;
    child.close();
    fs.rmSync(childPath);
    return { parentPath };
  } finally {
    parent?.close();
    child.close();
  }
}
