// Image checking: opening an image validates every structure (headers, region table, metadata, BAT, parent
// chain); `checkImage` reports the result as findings instead of an exception and can replay a dirty log.
import { type DiskInfo } from './disk.js';
import { LogReplayRequiredError, StorageError } from './errors.js';
import { openDisk } from './open.js';

export interface CheckResult {
  ok: boolean;
  /** Problems that make the image unusable (or unusable until repaired). */
  errors: string[];
  /** Harmless observations (e.g. space the block map does not reference). */
  notes: string[];
  info: DiskInfo | null;
}

export function checkImage(file: string, opts: { repair?: boolean } = {}): CheckResult {
  const errors: string[] = [];
  const notes: string[] = [];
  let info: DiskInfo | null = null;
  try {
    const disk = openDisk(file, { readOnly: !opts.repair });
    try {
      info = disk.info();
      // Walk the block map of every layer, which touches every sector bitmap, so damage there surfaces too.
      for (let d: typeof disk | null = disk; d; d = d.parent) {
        for (let off = 0; off < d.capacity;) off += Math.max(d.logicalSectorSize, d.layerStatus(off, d.capacity - off).length);
      }
      if (info.format !== 'raw' && info.type !== 'fixed') {
        const overhead = info.fileSize - info.allocatedSize;
        if (overhead > 64 * 1024 * 1024) notes.push(`${overhead} bytes of the file hold metadata or unreferenced blocks`);
      }
    } finally {
      disk.close();
    }
  } catch (e) {
    if (!(e instanceof StorageError)) throw e;
    errors.push(e instanceof LogReplayRequiredError ? `${e.message}` : e.message);
  }
  return { ok: errors.length === 0, errors, notes, info };
}
