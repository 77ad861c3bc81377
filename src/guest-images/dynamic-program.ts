// A glibc-dynamic program in the initramfs: the program, its loader at the PT_INTERP path and every shared
// object in the DT_NEEDED closure, taken from unpacked Debian packages (libc6 and friends) and laid out where
// the guest's loader looks without an ld.so.cache: Debian's multiarch system directories first. Symlinks on
// the way (Debian's /lib64/ld-linux-x86-64.so.2 -> /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2) are kept as
// symlinks, so the guest sees the layout a Debian system has.
import { lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { readElfDynamic } from './elf-dynamic.js';
import { GuestImageError } from './errors.js';
import type { InitramfsFile } from './initramfs.js';

/** Where glibc's loader on Debian amd64 searches when there is no cache and no RUNPATH (its trusted directories). */
export const GUEST_LIBRARY_DIRS: readonly string[] = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib', '/usr/lib'];
/** Enough for any sane chain of links; more means a loop. */
const MAX_LINKS = 40;

interface Resolved {
  /** The host file holding the contents. */
  hostFile: string;
  /** The guest path of that file, after all links. */
  guestFile: string;
  /** Links met on the way, guest path -> target as written. */
  links: [string, string][];
}

/**
 * Follows `guestPath` inside the tree `root` (an unpacked package) as the guest kernel would after unpacking it,
 * component by component, symlinks resolved relative to the tree. Undefined if it does not lead to a file there.
 */
export function resolveInTree(root: string, guestPath: string): Resolved | undefined {
  const links: [string, string][] = [];
  let pending = guestPath.split('/').filter((c) => c !== '' && c !== '.');
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const c = pending.shift()!;
    if (c === '..') { done.pop(); continue; }
    const guest = `/${[...done, c].join('/')}`;
    let st;
    try { st = lstatSync(join(root, guest)); } catch { return undefined; }
    if (st.isSymbolicLink()) {
      if (++hops > MAX_LINKS) return undefined;
      const target = readlinkSync(join(root, guest));
      links.push([guest, target]);
      const parts = target.split('/').filter((x) => x !== '' && x !== '.');
      if (target.startsWith('/')) done.length = 0;
      pending = [...parts, ...pending];
      continue;
    }
    if (pending.length > 0 && !st.isDirectory()) return undefined;
    if (pending.length === 0 && !st.isFile()) return undefined;
    done.push(c);
  }
  const guestFile = `/${done.join('/')}`;
  return { hostFile: join(root, guestFile), guestFile, links };
}

function findInRoots(roots: readonly string[], guestPath: string): Resolved | undefined {
  for (const r of roots) {
    const hit = resolveInTree(r, guestPath);
    if (hit) return hit;
  }
  return undefined;
}

export interface DynamicProgram {
  /** The program on the host. */
  source: string;
  /** Where it goes in the guest ("/usr/sbin/hv_kvp_daemon"). */
  path: string;
}

export interface DynamicProgramFiles {
  files: InitramfsFile[];
  /** Guest paths of the loader and libraries added (their real files), for the log and the manifest. */
  libraries: string[];
}

/**
 * The initramfs entries for `programs` and everything they load: the PT_INTERP loader and the DT_NEEDED
 * closure, found in `roots` (unpacked packages) at the guest's search directories. Throws if anything is
 * missing, naming it: a guest whose daemon cannot start is a build error, not a boot-time surprise.
 */
export function dynamicProgramFiles(programs: readonly DynamicProgram[], roots: readonly string[]): DynamicProgramFiles {
  const files = new Map<string, InitramfsFile>();
  const libraries: string[] = [];
  const add = (hit: Resolved) => {
    for (const [link, target] of hit.links) if (!files.has(link)) files.set(link, { path: link, target });
    if (!files.has(hit.guestFile)) {
      files.set(hit.guestFile, { path: hit.guestFile, source: hit.hostFile, mode: 0o755 });
      libraries.push(hit.guestFile);
    }
  };
  const queue: { data: Uint8Array; what: string }[] = [];
  const seen = new Set<string>();
  for (const p of programs) {
    files.set(p.path, { path: p.path, source: p.source, mode: 0o755 });
    const data = readFileSync(p.source);
    const info = readElfDynamic(data, p.source);
    if (info.interpreter !== undefined) {
      const hit = findInRoots(roots, info.interpreter);
      if (!hit) throw new GuestImageError('bad-archive', `${p.path}: its loader ${info.interpreter} is in none of the unpacked packages`);
      add(hit);
    }
    queue.push({ data, what: p.path });
  }
  while (queue.length > 0) {
    const { data, what } = queue.shift()!;
    for (const name of readElfDynamic(data, what).needed) {
      if (seen.has(name)) continue;
      seen.add(name);
      if (name.includes('/')) throw new GuestImageError('bad-archive', `${what}: DT_NEEDED "${name}" is a path; only plain sonames are supported`);
      let hit: Resolved | undefined;
      for (const dir of GUEST_LIBRARY_DIRS) if ((hit = findInRoots(roots, `${dir}/${name}`))) break;
      if (!hit) throw new GuestImageError('bad-archive', `${what} needs ${name}, found in none of ${GUEST_LIBRARY_DIRS.join(', ')} of the unpacked packages`);
      add(hit);
      queue.push({ data: readFileSync(hit.hostFile), what: name });
    }
  }
  return { files: [...files.values()], libraries };
}
