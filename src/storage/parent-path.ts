// Where to look for the parent of a differencing disk, from the paths its locator records. Paths written on
// Windows use backslashes and drive letters; we try the relative path first, then the absolute one, then the
// parent's file name next to the child.
import * as path from 'node:path';

export function windowsToPosix(p: string): string {
  return p.replace(/\\/g, '/');
}

function isWindowsAbsolute(p: string): boolean {
  return /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('\\\\');
}

/** Candidate host paths of a parent, best first, without duplicates. */
export function parentCandidates(childPath: string, relative: string | null, absolutes: (string | null)[]): string[] {
  const dir = path.dirname(path.resolve(childPath));
  const out: string[] = [];
  const add = (p: string) => { if (!out.includes(p)) out.push(p); };
  if (relative) add(path.resolve(dir, windowsToPosix(relative)));
  for (const a of absolutes) {
    if (!a) continue;
    if (isWindowsAbsolute(a)) add(path.join(dir, path.win32.basename(a)));
    else if (a.startsWith('/')) add(path.normalize(a));
    else add(path.resolve(dir, windowsToPosix(a)));
  }
  return out;
}

/** The relative path from the child's folder to the parent, in the Windows form ".\\x.vhdx" / "..\\d\\x.vhdx". */
export function relativeLocatorPath(childPath: string, parentPath: string): string {
  const rel = path.relative(path.dirname(path.resolve(childPath)), path.resolve(parentPath)).split(path.sep).join('\\');
  return rel.startsWith('..') ? rel : `.\\${rel}`;
}
