// Reading a kernel module file, decompressing .ko.gz (node:zlib), .ko.xz (xz from xz-utils) and .ko.zst (zstd)
// so the initramfs carries plain .ko files busybox's insmod can load without decompression support.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { GuestImageError } from './errors.js';

function decompressWith(tool: string, pkg: string, path: string): Buffer {
  const r = spawnSync(tool, ['-dc', path], { maxBuffer: 1 << 30 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new GuestImageError('tool', `${tool} not found: it is needed to unpack ${path} (apt-get install ${pkg})`);
  }
  if (r.status !== 0) throw new GuestImageError('tool', `${tool} -dc ${path} failed: ${String(r.stderr).trim().split('\n')[0] || `status ${r.status}`}`);
  return r.stdout;
}

/** The uncompressed bytes of a module file. */
export function readModuleFile(path: string): Buffer {
  if (path.endsWith('.ko')) return readFileSync(path);
  if (path.endsWith('.ko.gz')) return gunzipSync(readFileSync(path));
  if (path.endsWith('.ko.xz')) return decompressWith('xz', 'xz-utils', path);
  if (path.endsWith('.ko.zst')) return decompressWith('zstd', 'zstd', path);
  throw new GuestImageError('bad-kernel', `${path}: not a kernel module file name`);
}

/** The name a module gets inside the initramfs: its path with any compression suffix removed. */
export function plainModulePath(path: string): string {
  return path.replace(/\.ko\.(xz|gz|zst)$/, '.ko');
}
