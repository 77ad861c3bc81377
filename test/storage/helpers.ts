// Shared test helpers: scratch folders in os.tmpdir(), a seeded PRNG, random write workloads with a raw mirror.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type Disk } from '../../src/storage/index.js';

export const MiB = 1024 * 1024;

export function scratchDir(name: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `hypatia-${name}-`));
}

export function removeDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** xorshift32: reproducible pseudo-random numbers from a seed. */
export class Rng {
  private s: number;
  constructor(seed: number) { this.s = (seed >>> 0) || 0x9e3779b9; }
  next(): number {
    let x = this.s;
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    this.s = x;
    return x;
  }
  int(n: number): number { return this.next() % n; }
  fill(b: Uint8Array): void {
    for (let i = 0; i < b.length; i += 4) {
      const v = this.next();
      b[i] = v; b[i + 1] = v >>> 8; b[i + 2] = v >>> 16; b[i + 3] = v >>> 24;
    }
  }
}

export interface Extent { offset: number; data: Buffer }

/** Random sector-aligned writes (some spanning block boundaries) inside a disk of `capacity` bytes. */
export function randomWrites(rng: Rng, capacity: number, count: number, maxLen: number, sector = 512): Extent[] {
  const out: Extent[] = [];
  for (let i = 0; i < count; i++) {
    const len = (1 + rng.int(maxLen / sector)) * sector;
    const offset = rng.int((capacity - len) / sector + 1) * sector;
    const data = Buffer.alloc(len);
    rng.fill(data);
    out.push({ offset, data });
  }
  return out;
}

export function applyToMirror(mirror: Buffer, writes: Extent[]): void {
  for (const w of writes) w.data.copy(mirror, w.offset);
}

export function readAll(disk: Disk): Buffer {
  const b = Buffer.alloc(disk.capacity);
  for (let off = 0; off < disk.capacity; off += 4 * MiB) disk.read(off, b.subarray(off, Math.min(off + 4 * MiB, disk.capacity)));
  return b;
}

/** Index of the first differing byte, or -1. */
export function firstDiff(a: Buffer, b: Buffer): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  if (a.equals(b)) return -1;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** A sparse raw file holding the expected contents of a disk under test. */
export class RawMirror {
  private fd: number;
  /** Creates (or, with `reopen`, opens) the mirror file. */
  constructor(readonly path: string, readonly size: number, reopen = false) {
    this.fd = fs.openSync(path, reopen ? 'r+' : 'w+');
    if (!reopen) fs.ftruncateSync(this.fd, size);
  }
  write(offset: number, data: Uint8Array): void { fs.writeSync(this.fd, data, 0, data.length, offset); }
  read(offset: number, buf: Uint8Array): void { fs.readSync(this.fd, buf, 0, buf.length, offset); }
  /** Copies the whole contents of a disk into the mirror. */
  loadFrom(disk: Disk): void {
    const b = Buffer.alloc(4 * MiB);
    for (let off = 0; off < disk.capacity; off += b.length) {
      const part = b.subarray(0, Math.min(b.length, disk.capacity - off));
      disk.read(off, part);
      this.write(off, part);
    }
  }
  close(): void { fs.closeSync(this.fd); }
}

/** Throws with the first differing offset unless the disk reads exactly like the mirror. */
export function assertDiskEqualsMirror(disk: Disk, mirror: RawMirror): void {
  if (disk.capacity !== mirror.size) throw new Error(`capacity ${disk.capacity} != mirror ${mirror.size}`);
  const a = Buffer.alloc(4 * MiB);
  const b = Buffer.alloc(4 * MiB);
  for (let off = 0; off < disk.capacity; off += a.length) {
    const n = Math.min(a.length, disk.capacity - off);
    disk.read(off, a.subarray(0, n));
    mirror.read(off, b.subarray(0, n));
    const d = firstDiff(a.subarray(0, n), b.subarray(0, n));
    if (d >= 0) throw new Error(`disk ${disk.path} differs from mirror at offset ${off + d}: ${a[d]} != ${b[d]}`);
  }
}
