// Initramfs images: a gzip-compressed newc cpio archive the kernel unpacks into its rootfs before running
// /init. buildInitramfs assembles one from a list of files (creating parent directories first, because the
// kernel's unpacker does not), optionally on top of an existing image so a test can add a program to the
// standard guest initramfs; readInitramfs reads one back, including concatenated segments, which the kernel
// also accepts (an uncompressed cpio followed by a gzip'd one, or several gzip members).
import { readFileSync, statSync } from 'node:fs';
import { gunzipSync, gzipSync } from 'node:zlib';
import { cpioName, isNewcAt, readCpio, writeCpio, type CpioEntry, type CpioEntryType, type CpioMember } from './cpio-newc.js';
import { GuestImageError } from './errors.js';

/** One file to put in an initramfs. Exactly one of data/source/target for files and symlinks. */
export interface InitramfsFile {
  /** Path inside the guest ("/bin/test" or "bin/test"). */
  path: string;
  /** Default: 'symlink' when `target` is set, else 'file'. */
  type?: CpioEntryType;
  /** Contents of a regular file (a string is written as UTF-8). */
  data?: Uint8Array | string;
  /** Host file whose contents become the file's contents. */
  source?: string;
  /** Symlink target. */
  target?: string;
  /** Permission bits; default 0o755 for directories and files from `source` that are executable, else 0o644. */
  mode?: number;
  uid?: number;
  gid?: number;
  rdevMajor?: number;
  rdevMinor?: number;
}

export interface BuildInitramfsOptions {
  files: readonly InitramfsFile[];
  /** An existing initramfs (path or bytes, gzip'd or not) whose members come first; `files` replace same-named ones. */
  base?: string | Uint8Array;
  /** gzip the archive (default true; the kernel takes both). */
  compress?: boolean;
  /** mtime of every member (default 0: the same inputs give byte-identical images). */
  mtime?: number;
}

const GZIP_MAGIC0 = 0x1f;
const GZIP_MAGIC1 = 0x8b;

function defaultPerm(type: CpioEntryType, data: Uint8Array | undefined): number {
  if (type === 'dir') return 0o755;
  if (type === 'symlink') return 0o777;
  // An ELF or a #! script is executable, anything else plain data.
  if (type === 'file' && data && data.length >= 4 && ((data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46) || (data[0] === 0x23 && data[1] === 0x21))) return 0o755;
  if (type === 'char' || type === 'block') return 0o600;
  return 0o644;
}

function toEntry(f: InitramfsFile, mtime: number): CpioEntry {
  const name = cpioName(f.path);
  const type: CpioEntryType = f.type ?? (f.target !== undefined ? 'symlink' : 'file');
  const given = [f.data !== undefined, f.source !== undefined, f.target !== undefined].filter(Boolean).length;
  if (given > 1) throw new GuestImageError('bad-archive', `initramfs: ${f.path}: give only one of data, source, target`);
  if (type === 'symlink' && f.target === undefined) throw new GuestImageError('bad-archive', `initramfs: symlink ${f.path} needs a target`);
  if (type !== 'file' && type !== 'symlink' && (f.data !== undefined || f.source !== undefined)) throw new GuestImageError('bad-archive', `initramfs: ${type} ${f.path} cannot have contents`);
  let data: Uint8Array | undefined;
  if (type === 'file') data = f.source !== undefined ? readFileSync(f.source) : typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data ?? new Uint8Array(0);
  return {
    // A host file keeps its permission bits unless told otherwise.
    name, type, perm: f.mode ?? (f.source !== undefined ? statSync(f.source).mode & 0o7777 : defaultPerm(type, data)), data, target: f.target, uid: f.uid, gid: f.gid, mtime,
    rdevMajor: f.rdevMajor, rdevMinor: f.rdevMinor,
  };
}

function memberToEntry(m: CpioMember): CpioEntry {
  return {
    name: m.name, type: m.type, perm: m.perm, data: m.type === 'file' ? m.data : undefined, target: m.target,
    uid: m.uid, gid: m.gid, mtime: m.mtime, rdevMajor: m.rdevMajor, rdevMinor: m.rdevMinor,
  };
}

/**
 * Orders entries so every directory precedes what it contains (explicit directory entries keep their
 * attributes; missing ones are created 0755), later entries of the same name replacing earlier ones.
 */
export function orderEntries(entries: readonly CpioEntry[], mtime = 0): CpioEntry[] {
  const byName = new Map<string, CpioEntry>();
  for (const e of entries) {
    const name = cpioName(e.name);
    byName.delete(name); // a replacement takes the later position
    byName.set(name, { ...e, name });
  }
  const out: CpioEntry[] = [];
  const emitted = new Set<string>();
  const emit = (name: string) => {
    if (emitted.has(name)) return;
    const slash = name.lastIndexOf('/');
    if (slash > 0) emit(name.slice(0, slash));
    emitted.add(name);
    if (name === '.') return; // the rootfs root exists already
    const parent = slash > 0 ? byName.get(name.slice(0, slash)) : undefined;
    if (parent && parent.type !== 'dir') throw new GuestImageError('bad-archive', `initramfs: ${parent.name} is a ${parent.type}, yet ${name} is inside it`);
    out.push(byName.get(name) ?? { name, type: 'dir', perm: 0o755, mtime });
  };
  for (const name of byName.keys()) emit(name);
  return out;
}

/** Builds an initramfs image (gzip'd newc cpio by default). */
export function buildInitramfs(options: BuildInitramfsOptions): Buffer {
  const mtime = options.mtime ?? 0;
  const entries: CpioEntry[] = [];
  if (options.base !== undefined) {
    const bytes = typeof options.base === 'string' ? readFileSync(options.base) : options.base;
    for (const m of readInitramfs(bytes)) entries.push(memberToEntry(m));
  }
  for (const f of options.files) entries.push(toEntry(f, mtime));
  const cpio = writeCpio(orderEntries(entries, mtime));
  return options.compress ?? true ? gzipSync(cpio, { level: 9 }) : cpio;
}

/**
 * Reads every member of an initramfs image: newc archives, each optionally gzip'd, back to back (zero padding
 * between archives is skipped, as the kernel does). Returns members in archive order; later ones win.
 */
export function readInitramfs(image: Uint8Array): CpioMember[] {
  const members: CpioMember[] = [];
  let off = 0;
  while (off < image.length) {
    if (image[off] === 0) { off++; continue; }
    if (image[off] === GZIP_MAGIC0 && image[off + 1] === GZIP_MAGIC1) {
      // Node's gunzip reads consecutive gzip members; a gzip'd segment runs to the end of the image.
      let plain: Buffer;
      try {
        plain = gunzipSync(image.subarray(off));
      } catch (e) {
        throw new GuestImageError('bad-archive', `initramfs: bad gzip data at offset ${off}: ${(e as Error).message}`);
      }
      members.push(...readInitramfs(plain));
      break;
    }
    if (!isNewcAt(image, off)) throw new GuestImageError('bad-archive', `initramfs: neither newc cpio nor gzip at offset ${off}`);
    const r = readCpio(image, off);
    members.push(...r.members);
    off = r.end;
  }
  return members;
}

/** The final view of an initramfs: path -> member, later members replacing earlier ones. */
export function initramfsTree(image: Uint8Array): Map<string, CpioMember> {
  const tree = new Map<string, CpioMember>();
  for (const m of readInitramfs(image)) tree.set(m.name, m);
  return tree;
}
