// The host file under an image: positioned, complete reads and writes on a file descriptor (synchronous, so a VM
// worker thread can use it directly), a tracked size, and file-system errors turned into StorageErrors.
import * as fs from 'node:fs';
import { CorruptImageError, StorageError } from './errors.js';

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT': return 'no such file';
    case 'EEXIST': return 'file already exists';
    case 'EACCES': case 'EPERM': return 'permission denied';
    case 'EISDIR': return 'is a directory';
    case 'ENOSPC': return 'no space left on device';
    default: return err?.message ?? String(e);
  }
}

export class ImageFile {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly readOnly: boolean,
    /** Prefix of error messages ("vhdx", "vhd", "raw"). */
    readonly label: string,
    private _size: number,
  ) {}

  static open(path: string, readOnly: boolean, label: string): ImageFile {
    let fd: number;
    try {
      fd = fs.openSync(path, readOnly ? 'r' : 'r+');
    } catch (e) {
      throw new StorageError(`${label}: cannot open ${path}: ${describe(e)}`);
    }
    let size: number;
    try {
      const st = fs.fstatSync(fd);
      if (!st.isFile() && !st.isBlockDevice()) throw Object.assign(new Error('not a regular file'), { code: 'X' });
      size = st.size;
    } catch (e) {
      fs.closeSync(fd);
      throw new StorageError(`${label}: cannot open ${path}: ${describe(e)}`);
    }
    return new ImageFile(path, fd, readOnly, label, size);
  }

  /** Creates a new, empty file; refuses to replace an existing one. */
  static create(path: string, label: string): ImageFile {
    let fd: number;
    try {
      fd = fs.openSync(path, 'wx+');
    } catch (e) {
      throw new StorageError(`${label}: cannot create ${path}: ${describe(e)}`);
    }
    return new ImageFile(path, fd, false, label, 0);
  }

  get size(): number { return this._size; }

  /** Reads exactly buf.length bytes at `offset`; a read past the end of the file is a CorruptImageError. */
  read(buf: Uint8Array, offset: number): void {
    let done = 0;
    while (done < buf.length) {
      const n = this.io(() => fs.readSync(this.fd, buf, done, buf.length - done, offset + done));
      if (n === 0) {
        throw new CorruptImageError(`${this.label}: unexpected end of file reading ${buf.length} bytes at offset ${offset}`);
      }
      done += n;
    }
  }

  /** Reads into buf at `offset`; whatever lies past the end of the file reads as zeros. */
  readOrZero(buf: Uint8Array, offset: number): void {
    const avail = Math.max(0, Math.min(buf.length, this._size - offset));
    if (avail > 0) this.read(buf.subarray(0, avail), offset);
    if (avail < buf.length) buf.fill(0, avail);
  }

  readNew(offset: number, length: number): Buffer {
    const b = Buffer.allocUnsafe(length);
    this.read(b, offset);
    return b;
  }

  write(buf: Uint8Array, offset: number): void {
    let done = 0;
    while (done < buf.length) {
      done += this.io(() => fs.writeSync(this.fd, buf, done, buf.length - done, offset + done));
    }
    if (offset + buf.length > this._size) this._size = offset + buf.length;
  }

  /** Sets the file length (growing makes a sparse, zero-filled tail). */
  truncate(size: number): void {
    this.io(() => fs.ftruncateSync(this.fd, size));
    this._size = size;
  }

  sync(): void {
    if (!this.readOnly) this.io(() => fs.fdatasyncSync(this.fd));
  }

  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      fs.closeSync(fd);
    } catch (e) {
      throw new StorageError(`${this.label}: I/O error closing ${this.path}: ${describe(e)}`);
    }
  }

  private io<T>(f: () => T): T {
    if (this.fd < 0) throw new StorageError(`${this.label}: ${this.path} is closed`);
    try {
      return f();
    } catch (e) {
      if (e instanceof StorageError) throw e;
      throw new StorageError(`${this.label}: I/O error on ${this.path}: ${describe(e)}`);
    }
  }
}
