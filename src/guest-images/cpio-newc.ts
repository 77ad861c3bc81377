// The "newc" cpio format (magic 070701), the one the Linux kernel unpacks into its rootfs from an initramfs
// (Linux Documentation/driver-api/early-userspace/buffer-format.rst). Each entry: a 110-byte ASCII header of
// "070701" and 13 eight-digit hex fields, the NUL-terminated name padded so header+name is a multiple of 4,
// then the data padded to a multiple of 4. A symlink's data is its target (no NUL). The archive ends with an
// entry named "TRAILER!!!". The kernel treats a regular file with nlink >= 2 as a hard link to an earlier entry
// with the same (dev, ino), so every entry here gets its own inode number and regular files have nlink 1.
import { GuestImageError } from './errors.js';

export const NEWC_MAGIC = '070701';
export const NEWC_HEADER_SIZE = 110;
export const CPIO_TRAILER = 'TRAILER!!!';

/** File-type bits of st_mode (S_IFMT and friends). */
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export type CpioEntryType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

const TYPE_BITS: Record<CpioEntryType, number> = {
  file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK, char: S_IFCHR, block: S_IFBLK, fifo: S_IFIFO, socket: S_IFSOCK,
};

export function typeFromMode(mode: number): CpioEntryType | undefined {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'file';
    case S_IFDIR: return 'dir';
    case S_IFLNK: return 'symlink';
    case S_IFCHR: return 'char';
    case S_IFBLK: return 'block';
    case S_IFIFO: return 'fifo';
    case S_IFSOCK: return 'socket';
    default: return undefined;
  }
}

/** One archive member as written. `name` is relative ("bin/sh"; a leading "/" is dropped). */
export interface CpioEntry {
  name: string;
  type: CpioEntryType;
  /** Permission bits (0o7777: rwx plus setuid/setgid/sticky). */
  perm: number;
  /** Regular file contents; for a symlink, use `target` instead. */
  data?: Uint8Array;
  target?: string;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch (default 0, so identical inputs give identical archives). */
  mtime?: number;
  /** Device numbers of a char/block special file. */
  rdevMajor?: number;
  rdevMinor?: number;
}

/** One archive member as read back, every header field present. */
export interface CpioMember {
  name: string;
  type: CpioEntryType;
  mode: number;
  perm: number;
  ino: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  devMajor: number;
  devMinor: number;
  rdevMajor: number;
  rdevMinor: number;
  data: Uint8Array;
  /** The symlink target (symlinks only). */
  target?: string;
}

const U32_MAX = 0xffffffff;

function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}

function hex8(v: number, what: string, name: string): string {
  if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new GuestImageError('bad-archive', `cpio: ${what} ${v} of "${name}" does not fit the newc header`);
  return v.toString(16).padStart(8, '0');
}

/** Normalises an archive path: drops leading "/" and "./", refuses empty, NUL and ".." components. */
export function cpioName(path: string): string {
  let n = path;
  while (n.startsWith('/')) n = n.slice(1);
  while (n.startsWith('./')) n = n.slice(2);
  n = n.replace(/\/+$/, '');
  if (n === '') n = '.';
  if (n.includes('\0')) throw new GuestImageError('bad-archive', `cpio: name contains NUL: ${JSON.stringify(path)}`);
  if (n.split('/').some((c) => c === '..' || c === '')) throw new GuestImageError('bad-archive', `cpio: unsafe name ${JSON.stringify(path)}`);
  return n;
}

function header(fields: number[], name: string): string {
  const names = ['ino', 'mode', 'uid', 'gid', 'nlink', 'mtime', 'filesize', 'devmajor', 'devminor', 'rdevmajor', 'rdevminor', 'namesize', 'check'];
  return NEWC_MAGIC + fields.map((v, i) => hex8(v, names[i], name)).join('');
}

export interface WriteCpioOptions {
  /** First inode number handed out (default 1). Concatenated archives should not reuse numbers. */
  firstIno?: number;
  /** Append the TRAILER!!! entry (default true). */
  trailer?: boolean;
}

/** Serialises entries, in the given order, into one newc archive. */
export function writeCpio(entries: readonly CpioEntry[], options: WriteCpioOptions = {}): Buffer {
  const chunks: Buffer[] = [];
  let ino = options.firstIno ?? 1;
  const zero = Buffer.alloc(4);
  const push = (fields: number[], name: string, data: Uint8Array) => {
    const nameBytes = Buffer.from(`${name}\0`, 'utf8');
    fields[11] = nameBytes.length;
    chunks.push(Buffer.from(header(fields, name), 'ascii'), nameBytes);
    const np = pad4(NEWC_HEADER_SIZE + nameBytes.length);
    if (np) chunks.push(zero.subarray(0, np));
    if (data.length) {
      chunks.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      const dp = pad4(data.length);
      if (dp) chunks.push(zero.subarray(0, dp));
    }
  };
  for (const e of entries) {
    const name = cpioName(e.name);
    if (e.perm !== (e.perm & 0o7777)) throw new GuestImageError('bad-archive', `cpio: permission bits ${e.perm.toString(8)} of "${name}" outside 07777`);
    let data: Uint8Array = new Uint8Array(0);
    if (e.type === 'file') data = e.data ?? data;
    else if (e.type === 'symlink') {
      if (!e.target) throw new GuestImageError('bad-archive', `cpio: symlink "${name}" has no target`);
      data = Buffer.from(e.target, 'utf8');
    } else if (e.data && e.data.length) throw new GuestImageError('bad-archive', `cpio: ${e.type} "${name}" cannot carry data`);
    const special = e.type === 'char' || e.type === 'block';
    push([
      ino++, TYPE_BITS[e.type] | e.perm, e.uid ?? 0, e.gid ?? 0, e.type === 'dir' ? 2 : 1, e.mtime ?? 0, data.length,
      0, 0, special ? e.rdevMajor ?? 0 : 0, special ? e.rdevMinor ?? 0 : 0, 0, 0,
    ], name, data);
  }
  if (options.trailer ?? true) push([0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0], CPIO_TRAILER, new Uint8Array(0));
  return Buffer.concat(chunks);
}

/** Whether bytes at `off` start a newc header. */
export function isNewcAt(buf: Uint8Array, off: number): boolean {
  if (off + 6 > buf.length) return false;
  for (let i = 0; i < 6; i++) if (buf[off + i] !== NEWC_MAGIC.charCodeAt(i)) return false;
  return true;
}

function parseHex(buf: Uint8Array, off: number, name: string): number {
  let v = 0;
  for (let i = 0; i < 8; i++) {
    const c = buf[off + i];
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else throw new GuestImageError('bad-archive', `cpio: field ${name} at offset ${off} is not hex`);
    v = v * 16 + d;
  }
  return v;
}

export interface ReadCpioResult {
  members: CpioMember[];
  /** Offset just past the trailer's padding (where a concatenated archive would begin). */
  end: number;
}

/**
 * Parses one newc archive starting at `offset`, up to and including its trailer. Every length is checked
 * against the buffer, so a truncated or corrupt archive is an error, never an out-of-bounds read.
 */
export function readCpio(buf: Uint8Array, offset = 0): ReadCpioResult {
  const members: CpioMember[] = [];
  let off = offset;
  for (;;) {
    if (off + NEWC_HEADER_SIZE > buf.length) throw new GuestImageError('bad-archive', `cpio: truncated header at offset ${off} (no ${CPIO_TRAILER})`);
    if (!isNewcAt(buf, off)) throw new GuestImageError('bad-archive', `cpio: bad magic at offset ${off} (only newc 070701 is supported)`);
    const f = (i: number, n: string) => parseHex(buf, off + 6 + i * 8, n);
    const ino = f(0, 'ino'), mode = f(1, 'mode'), uid = f(2, 'uid'), gid = f(3, 'gid'), nlink = f(4, 'nlink');
    const mtime = f(5, 'mtime'), size = f(6, 'filesize'), devMajor = f(7, 'devmajor'), devMinor = f(8, 'devminor');
    const rdevMajor = f(9, 'rdevmajor'), rdevMinor = f(10, 'rdevminor'), nameSize = f(11, 'namesize');
    const nameOff = off + NEWC_HEADER_SIZE;
    if (nameSize < 1 || nameOff + nameSize > buf.length) throw new GuestImageError('bad-archive', `cpio: bad name size ${nameSize} at offset ${off}`);
    if (buf[nameOff + nameSize - 1] !== 0) throw new GuestImageError('bad-archive', `cpio: name at offset ${off} is not NUL-terminated`);
    const name = Buffer.from(buf.buffer, buf.byteOffset + nameOff, nameSize - 1).toString('utf8');
    const dataOff = nameOff + nameSize + pad4(NEWC_HEADER_SIZE + nameSize);
    if (dataOff + size > buf.length) throw new GuestImageError('bad-archive', `cpio: data of "${name}" runs past the end (${size} bytes at ${dataOff})`);
    off = dataOff + size + pad4(size);
    if (name === CPIO_TRAILER) {
      shareHardLinkData(members);
      return { members, end: Math.min(off, buf.length) };
    }
    const type = typeFromMode(mode);
    if (!type) throw new GuestImageError('bad-archive', `cpio: "${name}" has unknown file type in mode ${mode.toString(8)}`);
    const data = buf.subarray(dataOff, dataOff + size);
    members.push({
      name, type, mode, perm: mode & 0o7777, ino, uid, gid, nlink, mtime, devMajor, devMinor, rdevMajor, rdevMinor, data,
      ...(type === 'symlink' ? { target: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8') } : {}),
    });
  }
}

/**
 * Hard links as GNU cpio and the kernel's gen_init_cpio write them: regular files with nlink >= 2 and the same
 * (dev, ino) name one inode, and only the last of them carries the data. Give every name those bytes.
 */
function shareHardLinkData(members: CpioMember[]): void {
  const groups = new Map<string, CpioMember[]>();
  for (const m of members) {
    if (m.type !== 'file' || m.nlink < 2) continue;
    const key = `${m.devMajor}:${m.devMinor}:${m.ino}`;
    const g = groups.get(key);
    if (g) g.push(m);
    else groups.set(key, [m]);
  }
  for (const g of groups.values()) {
    const withData = [...g].reverse().find((m) => m.data.length > 0);
    if (withData) for (const m of g) if (m.data.length === 0) m.data = withData.data;
  }
}
