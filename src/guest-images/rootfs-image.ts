// buildRootfsImage: a guest root disk from the already-fetched guest pieces (`hypatia guest fetch`): the
// files (rootfs-files.ts) are laid out in a staging directory, mke2fs -d turns that into an ext4 filesystem in
// a sparse raw file without needing root, ownership is set to root:root with debugfs when the builder is not
// root (mke2fs -d copies the staging files' owners), and the raw file becomes a VHDX/VHD through the
// project's storage library (or stays raw). The output appears complete or not at all (renamed into place).
import { spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { convertImage, StorageError } from '../storage/index.js';
import { HYPERV_DAEMONS_PACKAGE, LIBC_PACKAGE, BUSYBOX_PACKAGE, ensureGuestImages, packageRoot } from './ensure-guest-images.js';
import { GuestImageError } from './errors.js';
import { busyboxApplets } from './guest-initramfs.js';
import type { InitramfsFile } from './initramfs.js';
import { loadModuleIndex } from './kernel-modules.js';
import { kvpDaemonFiles } from './kvp-daemon-files.js';
import { rootfsFiles, ROOTFS_LABEL } from './rootfs-files.js';

export type RootfsFormat = 'vhdx' | 'vhd' | 'raw';
const MiB = 1024 * 1024;
/** ext4's own overhead (journal, inode tables, reserved blocks) on top of the files, as a floor for --size. */
const FS_OVERHEAD = 64 * MiB;

export interface BuildRootfsOptions {
  output: string;
  /** Disk size in bytes (a multiple of 1 MiB). */
  size: number;
  format: RootfsFormat;
  cacheDir?: string;
  /** Replace an existing output file. */
  force?: boolean;
  log?: (line: string) => void;
  /** More files for the disk (the user's programs and data), added last: they replace same-named ones. */
  extra?: readonly InitramfsFile[];
}

export interface RootfsImage {
  output: string;
  format: RootfsFormat;
  size: number;
  /** Files, links and directories put on the disk. */
  entries: number;
  /** Bytes of file contents. */
  contentBytes: number;
  kernelRelease: string;
}

/** An e2fsprogs tool by name: on PATH, or in /sbin and /usr/sbin (not on a normal user's PATH on Debian). */
export function findE2fsTool(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':').filter((d) => d !== ''), '/usr/sbin', '/sbin']) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new GuestImageError('tool', `${name} not found: building a root filesystem needs e2fsprogs (apt-get install e2fsprogs)`);
}

function run(tool: string, args: string[], what: string): string {
  const r = spawnSync(tool, args, { encoding: 'utf8', maxBuffer: 64 * MiB });
  if (r.error) throw new GuestImageError('tool', `${what}: ${r.error.message}`);
  if (r.status !== 0) throw new GuestImageError('tool', `${what} failed (status ${r.status}): ${`${r.stderr}${r.stdout}`.trim().split('\n').slice(-3).join(' | ')}`);
  return r.stdout;
}

/** Writes the files into `dir` (plain files linked or copied from their sources); returns the bytes of contents. */
function writeTree(dir: string, files: readonly InitramfsFile[]): number {
  let bytes = 0;
  for (const f of files) {
    const rel = f.path.replace(/^\/+/, '');
    const path = join(dir, rel);
    mkdirSync(dirname(path), { recursive: true });
    const type = f.type ?? (f.target !== undefined ? 'symlink' : 'file');
    rmSync(path, { force: true, recursive: type !== 'dir' }); // a later entry replaces an earlier one, as in the initramfs
    if (type === 'dir') {
      mkdirSync(path, { recursive: true });
      chmodSync(path, f.mode ?? 0o755);
    } else if (type === 'symlink') {
      symlinkSync(f.target!, path);
    } else if (type === 'file') {
      if (f.source !== undefined) {
        try { linkSync(f.source, path); } catch { copyFileSync(f.source, path); }
        bytes += statSync(path).size;
        if (f.mode !== undefined && (statSync(path).mode & 0o7777) !== f.mode) {
          // A hard link shares its mode with the cache's file: copy instead of changing that.
          rmSync(path);
          copyFileSync(f.source, path);
          chmodSync(path, f.mode);
        }
      } else {
        const data = typeof f.data === 'string' ? Buffer.from(f.data, 'utf8') : f.data ?? new Uint8Array(0);
        writeFileSync(path, data);
        chmodSync(path, f.mode ?? 0o644);
        bytes += data.length;
      }
    }
    // Device nodes are left out: the kernel's devtmpfs provides /dev.
  }
  return bytes;
}

/** debugfs commands making every entry of the tree root-owned (for builds that do not run as root). */
function ownershipCommands(files: readonly InitramfsFile[]): string {
  const paths = new Set<string>();
  for (const f of files) {
    const parts = f.path.replace(/^\/+/, '').split('/');
    for (let i = 1; i <= parts.length; i++) paths.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...paths].map((p) => `sif "${p}" uid 0\nsif "${p}" gid 0\n`).join('');
}

/** Builds the root disk image; see the file comment. */
export async function buildRootfsImage(o: BuildRootfsOptions): Promise<RootfsImage> {
  const log = o.log ?? (() => {});
  if (existsSync(o.output) && !o.force) throw new GuestImageError('exists', `${o.output} exists (use --force to replace it)`);
  if (!Number.isSafeInteger(o.size) || o.size <= 0 || o.size % MiB !== 0) throw new GuestImageError('bad-size', `size ${o.size} is not a positive multiple of 1 MiB`);
  const mke2fs = findE2fsTool('mke2fs');
  const images = await ensureGuestImages({ cacheDir: o.cacheDir, offline: true });
  const m = images.manifest;
  const pkg = (name: string) => {
    const p = m.packages.find((x) => x.name === name);
    if (!p) throw new GuestImageError('offline', `the guest cache lacks ${name}; run "hypatia guest fetch"`);
    const root = packageRoot(images.cacheDir, p);
    if (!existsSync(root)) throw new GuestImageError('offline', `the guest cache lacks the unpacked ${name} (${root}); run "hypatia guest fetch --force"`);
    return root;
  };
  const release = m.kernel.release;
  const modulesDir = join(pkg(m.kernel.package), 'lib', 'modules', release);
  const busybox = join(pkg(BUSYBOX_PACKAGE), 'bin', 'busybox');
  const index = loadModuleIndex(modulesDir);
  const t0 = Date.now();
  const files = rootfsFiles({
    busybox, applets: busyboxApplets(busybox), release, modulesDir, index,
    bootModules: { order: m.modules.map((x) => ({ name: x.name, path: x.path, requested: x.requested })), builtin: m.builtinModules },
    kvp: kvpDaemonFiles(pkg(HYPERV_DAEMONS_PACKAGE), [pkg(LIBC_PACKAGE)]).files,
  });
  for (const f of o.extra ?? []) {
    if (f.source !== undefined && !existsSync(f.source)) throw new GuestImageError('tool', `cannot add ${f.source}: no such file`);
    files.push(f);
  }
  log(`rootfs: Linux ${release}: ${files.length} entries (busybox, ${m.modules.length} boot modules of the full modules tree, hv_kvp_daemon${o.extra?.length ? `, ${o.extra.length} added` : ''}) (${Date.now() - t0} ms)`);

  const outDir = dirname(o.output);
  if (!existsSync(outDir)) throw new GuestImageError('tool', `cannot write ${o.output}: ${outDir} does not exist`);
  const work = mkdtempSync(join(outDir, `.${basename(o.output)}.build-`));
  try {
    const tree = join(work, 'tree');
    mkdirSync(tree);
    const bytes = writeTree(tree, files);
    const needed = Math.ceil((bytes * 1.1 + FS_OVERHEAD) / MiB) * MiB;
    if (o.size < needed) throw new GuestImageError('bad-size', `size ${o.size / MiB} MiB is too small: the files take ${(bytes / MiB).toFixed(1)} MiB, use at least ${needed / MiB}M`);
    log(`rootfs: staged ${(bytes / MiB).toFixed(1)} MiB of files`);
    const raw = o.format === 'raw' ? join(work, 'out.raw') : join(work, 'rootfs.raw');
    writeFileSync(raw, '');
    truncateSync(raw, o.size); // sparse: mke2fs writes only the metadata and the files
    const t1 = Date.now();
    run(mke2fs, ['-q', '-F', '-t', 'ext4', '-L', ROOTFS_LABEL, '-m', '1', '-E', 'root_owner=0:0', '-d', tree, raw], 'mke2fs');
    log(`rootfs: mke2fs -t ext4 -L ${ROOTFS_LABEL} -d: ${o.size / MiB} MiB filesystem (${Date.now() - t1} ms)`);
    if (process.getuid?.() !== 0) {
      const cmds = join(work, 'owners.debugfs');
      writeFileSync(cmds, ownershipCommands(files));
      run(findE2fsTool('debugfs'), ['-w', '-f', cmds, raw], 'debugfs (setting owners to root)');
      log('rootfs: owners set to root:root');
    }
    const tmpOut = join(work, `out.${o.format}`);
    if (o.format !== 'raw') {
      const t2 = Date.now();
      try {
        // 1 MiB VHDX blocks: ext4 scatters metadata (backup superblocks, inode tables) over the disk, and small
        // blocks keep the image near the size of what is written rather than a multiple of 32 MiB blocks.
        convertImage(raw, tmpOut, { format: o.format, blockSize: o.format === 'vhdx' ? MiB : undefined });
      } catch (e) {
        if (e instanceof StorageError) throw new GuestImageError('tool', `converting to ${o.format}: ${e.message}`);
        throw e;
      }
      log(`rootfs: converted to ${o.format} (${Date.now() - t2} ms)`);
    }
    rmSync(o.output, { force: true });
    renameSync(tmpOut, o.output);
    return { output: o.output, format: o.format, size: o.size, entries: files.length, contentBytes: bytes, kernelRelease: release };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
