// Format detection and the one entry point for opening and creating disks of any format. Opening a differencing
// disk opens its parents read-only through here, which refuses loops and absurdly deep chains.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type Disk, type DiskFormat, type DiskType } from './disk.js';
import { CorruptImageError, DiskRequestError, StorageError } from './errors.js';
import { RawDisk } from './raw.js';
import { VhdDisk } from './vhd.js';
import { VhdxDisk } from './vhdx.js';

export const MAX_CHAIN_DEPTH = 64;

export interface OpenOptions {
  readOnly?: boolean;
  /** Skip detection (raw files can start with anything). */
  format?: DiskFormat;
}

export interface CreateOptions {
  format: DiskFormat;
  type?: DiskType;
  /** Virtual size in bytes (taken from the parent for differencing disks). */
  size?: number;
  blockSize?: number;
  logicalSectorSize?: number;
  physicalSectorSize?: number;
  parentPath?: string;
}

/** Guesses the format of an image from its signatures. */
export function detectFormat(file: string): DiskFormat {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new StorageError(`cannot open ${file}: ${code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  try {
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    if (head.toString('latin1') === 'vhdxfile') return 'vhdx';
    if (head.toString('latin1') === 'conectix') return 'vhd';
    const size = fs.fstatSync(fd).size;
    if (size >= 512) {
      fs.readSync(fd, head, 0, 8, size - 512);
      if (head.toString('latin1') === 'conectix') return 'vhd';
    }
    return 'raw';
  } finally {
    fs.closeSync(fd);
  }
}

function realPath(file: string): string {
  try {
    return fs.realpathSync(file);
  } catch {
    throw new StorageError(`cannot open ${file}: no such file`);
  }
}

function openInChain(file: string, opts: OpenOptions, chain: string[]): Disk {
  const real = realPath(file);
  if (chain.includes(real)) {
    throw new CorruptImageError(`parent chain loops: ${[...chain, real].map((p) => path.basename(p)).join(' -> ')}`);
  }
  if (chain.length >= MAX_CHAIN_DEPTH) throw new CorruptImageError(`parent chain is deeper than ${MAX_CHAIN_DEPTH} disks`);
  const next = [...chain, real];
  const openParent = (p: string) => openInChain(p, { readOnly: true }, next);
  const format = opts.format ?? detectFormat(file);
  switch (format) {
    case 'vhdx': return VhdxDisk.open(file, { readOnly: opts.readOnly, openParent });
    case 'vhd': return VhdDisk.open(file, { readOnly: opts.readOnly, openParent });
    default: return RawDisk.open(file, { readOnly: opts.readOnly });
  }
}

/** Opens an image of any supported format (detected unless given), with its parent chain. */
export function openDisk(file: string, opts: OpenOptions = {}): Disk {
  return openInChain(file, opts, []);
}

/** Creates an image (failing if the file exists) and returns it open for writing. */
export function createDisk(file: string, o: CreateOptions): Disk {
  const type = o.type ?? (o.parentPath ? 'differencing' : 'dynamic');
  if (type === 'differencing' && !o.parentPath) throw new DiskRequestError('a differencing disk needs a parent');
  if (type !== 'differencing' && o.parentPath) throw new DiskRequestError(`a ${type} disk has no parent`);
  if (type === 'differencing' && fs.existsSync(file) && realPath(file) === realPath(o.parentPath!)) {
    throw new DiskRequestError('a disk cannot be its own parent');
  }
  const openParent = (p: string) => openDisk(p, { readOnly: true });
  switch (o.format) {
    case 'vhdx':
      return VhdxDisk.create(file, { size: o.size, type, blockSize: o.blockSize, logicalSectorSize: o.logicalSectorSize, physicalSectorSize: o.physicalSectorSize, parentPath: o.parentPath, openParent });
    case 'vhd':
      if ((o.logicalSectorSize ?? 512) !== 512 || (o.physicalSectorSize ?? 512) !== 512) throw new DiskRequestError('vhd: sectors are always 512 bytes');
      return VhdDisk.create(file, { size: o.size, type, blockSize: o.blockSize, parentPath: o.parentPath, openParent });
    case 'raw':
      if (type !== 'fixed' && type !== 'dynamic') throw new DiskRequestError('raw images cannot be differencing');
      return RawDisk.create(file, o.size ?? 0, { logicalSectorSize: o.logicalSectorSize, physicalSectorSize: o.physicalSectorSize });
    default:
      throw new DiskRequestError(`unknown format ${String(o.format)}`);
  }
}
