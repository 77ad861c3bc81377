// Raw images: the file is the disk, byte for byte.
import { BaseDisk, type DiskInfo, type LayerRun } from './disk.js';
import { DiskRequestError } from './errors.js';
import { ImageFile } from './image-file.js';

export interface RawOptions { readOnly?: boolean; logicalSectorSize?: number; physicalSectorSize?: number }

export class RawDisk extends BaseDisk {
  readonly format = 'raw' as const;
  readonly type = 'fixed' as const;
  readonly parent = null;
  readonly logicalSectorSize: number;
  readonly physicalSectorSize: number;
  private _capacity: number;

  private constructor(private readonly file: ImageFile, opts: RawOptions) {
    super();
    this.logicalSectorSize = opts.logicalSectorSize ?? 512;
    this.physicalSectorSize = opts.physicalSectorSize ?? 4096;
    // A trailing partial sector is not addressable.
    this._capacity = file.size - (file.size % this.logicalSectorSize);
  }

  get path(): string { return this.file.path; }
  get readOnly(): boolean { return this.file.readOnly; }
  get capacity(): number { return this._capacity; }

  static open(path: string, opts: RawOptions = {}): RawDisk {
    return new RawDisk(ImageFile.open(path, opts.readOnly ?? false, 'raw'), opts);
  }

  static create(path: string, size: number, opts: RawOptions = {}): RawDisk {
    const ss = opts.logicalSectorSize ?? 512;
    if (!Number.isSafeInteger(size) || size <= 0 || size % ss !== 0) {
      throw new DiskRequestError(`raw: size ${size} must be a positive multiple of ${ss}`);
    }
    const f = ImageFile.create(path, 'raw');
    try {
      f.truncate(size);
    } catch (e) {
      f.close();
      throw e;
    }
    return new RawDisk(f, opts);
  }

  protected doRead(offset: number, buf: Uint8Array): void { this.file.readOrZero(buf, offset); }
  protected doWrite(offset: number, buf: Uint8Array): void { this.file.write(buf, offset); }
  protected doFlush(): void { this.file.sync(); }
  // A raw file has no block map to free; discard is a hint and may leave the data in place.
  protected doDiscard(): void {}
  protected doClose(): void {
    if (!this.readOnly) this.file.sync();
    this.file.close();
  }

  layerStatus(_offset: number, length: number): LayerRun { return { state: 'data', length }; }

  resize(newCapacity: number): void {
    this.checkOpen();
    if (this.readOnly) throw new DiskRequestError(`raw: ${this.path} is open read-only`);
    if (!Number.isSafeInteger(newCapacity) || newCapacity <= 0 || newCapacity % this.logicalSectorSize !== 0) {
      throw new DiskRequestError(`raw: size ${newCapacity} must be a positive multiple of ${this.logicalSectorSize}`);
    }
    this.file.truncate(newCapacity);
    this.file.sync();
    this._capacity = newCapacity;
  }

  info(): DiskInfo {
    return {
      format: 'raw', type: 'fixed', path: this.path, virtualSize: this.capacity, fileSize: this.file.size,
      blockSize: null, logicalSectorSize: this.logicalSectorSize, physicalSectorSize: this.physicalSectorSize,
      parentPath: null, allocatedSize: this.file.size, diskId: null,
    };
  }
}
