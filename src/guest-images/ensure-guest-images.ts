// ensureGuestImages: the Linux guest (Debian 12's cloud kernel and a busybox initramfs with the Hyper-V
// drivers) in a cache directory, fetched with apt-get download and built here. Each step is skipped when its
// result is already there: a re-run with nothing new costs a few apt-cache queries and two file hashes.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import {
  aptDownload, aptExpectedDeb, aptListsState, aptUpdate, debExtract, debFileName, resolveCloudKernel,
  type AptContext, type CloudKernel, type ResolvedPackage,
} from './apt.js';
import { readBzImageInfo } from './bzimage.js';
import { defaultGuestCacheDir } from './cache-dir.js';
import { lockCache } from './cache-lock.js';
import { GuestImageError, isNoSpace } from './errors.js';
import { busyboxApplets, guestInitramfsFiles, HYPERV_MODULES } from './guest-initramfs.js';
import { initScript } from './init-script.js';
import { KVP_DAEMON_PATH, kvpDaemonFiles } from './kvp-daemon-files.js';
import { buildInitramfs } from './initramfs.js';
import { loadModuleIndex, moduleName, resolveModules } from './kernel-modules.js';
import { describeFile, MANIFEST_FORMAT, readManifest, sha256Of, type GuestManifest, type ManifestPackage } from './manifest.js';

/** Bump when the outputs change in a way the recipe hash would not see (it covers the builder's code). */
const BUILDER_VERSION = 3;
export const BUSYBOX_PACKAGE = 'busybox-static';
export const HYPERV_DAEMONS_PACKAGE = 'hyperv-daemons';
/** glibc's loader and libc.so.6, which hv_kvp_daemon (dynamically linked) needs in the guest. */
export const LIBC_PACKAGE = 'libc6';
export const KERNEL_FILE = 'vmlinuz';
export const INITRD_FILE = 'initrd.img';
export const MANIFEST_FILE = 'manifest.json';
/** apt's binary package cache, kept beside the images (see AptContext). */
const APT_PKGCACHE_FILE = 'apt-pkgcache.bin';
const PKGCACHE_ROOM = 128 * 1024 * 1024;
/** Touched after each apt-get update this tooling runs (see aptListsState). */
const APT_UPDATED_STAMP = 'apt-updated';
const DAY_MS = 24 * 3600 * 1000;
/** Room for the four .debs (~33 MB), the unpacked kernel (~110 MB) and the outputs. */
const NEEDED_BYTES = 256 * 1024 * 1024;

export interface EnsureGuestImagesOptions {
  /** Default: defaultGuestCacheDir() ($HYPATIA_CACHE or ~/.cache/hypatia/guest). */
  cacheDir?: string;
  /** Modules to load at boot (dependencies are added). Default HYPERV_MODULES. */
  modules?: readonly string[];
  /** Use what the cache holds without asking apt (fails if the cache is incomplete). */
  offline?: boolean;
  /** Unpack and rebuild even when up to date (downloads are still reused). */
  force?: boolean;
  /** Progress lines (one per step). */
  log?: (line: string) => void;
  /** Package lists older than this are refreshed with apt-get update first (default 7 days). */
  listsMaxAgeMs?: number;
  /** How long to wait for another fetch holding the cache (default 10 minutes). */
  lockTimeoutMs?: number;
}

export interface GuestImages {
  cacheDir: string;
  /** The bzImage. */
  kernel: string;
  /** The gzip'd cpio initramfs. */
  initrd: string;
  manifestPath: string;
  manifest: GuestManifest;
  /** True if nothing had to be downloaded or built. */
  upToDate: boolean;
}

/** The code that lays out the initramfs: a change to any of it makes the cached image stale. */
const BUILDER_MODULES = [
  'guest-initramfs.js', 'init-script.js', 'root-mount-script.js', 'initramfs.js', 'cpio-newc.js', 'kernel-modules.js', 'module-file.js',
  'kvp-daemon-files.js', 'dynamic-program.js', 'elf-dynamic.js',
];

function recipeHash(modules: readonly string[]): string {
  const code = BUILDER_MODULES.map((f) => {
    try { return sha256Of(readFileSync(new URL(`./${f}`, import.meta.url))); } catch { return f; }
  });
  return sha256Of(Buffer.from(JSON.stringify({
    builder: BUILDER_VERSION,
    modules: modules.map(moduleName),
    init: [initScript({ installApplets: false }), initScript({ installApplets: true })],
    code,
  })));
}

/** Where a package's unpacked tree lives in the cache (root/<name>_<version>). */
export function packageRoot(cacheDir: string, pkg: ResolvedPackage): string {
  return join(cacheDir, 'root', safeName(pkg));
}

function safeName(pkg: ResolvedPackage): string {
  return `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}`;
}

function mib(n: number): string {
  return `${(n / (1024 * 1024)).toFixed(1)} MiB`;
}

/** The outputs match the manifest (present, same hashes) and the manifest matches what we would build. */
function upToDate(dir: string, m: GuestManifest | undefined, recipe: string, wanted?: ResolvedPackage[]): m is GuestManifest {
  if (!m || m.recipe !== recipe) return false;
  if (wanted && !wanted.every((w) => m.packages.some((p) => p.name === w.name && p.version === w.version))) return false;
  for (const [file, d] of Object.entries(m.files)) {
    const path = join(dir, file);
    if (!existsSync(path)) return false;
    const now = describeFile(path);
    if (now.size !== d.size || now.sha256 !== d.sha256) return false;
  }
  return m.files[KERNEL_FILE] !== undefined && m.files[INITRD_FILE] !== undefined;
}

function freeBytes(dir: string): number {
  try {
    const s = statfsSync(dir);
    return s.bavail * s.bsize;
  } catch {
    return Number.POSITIVE_INFINITY; // statfs unavailable: let the writes tell
  }
}

function checkSpace(dir: string): void {
  const free = freeBytes(dir);
  if (free < NEEDED_BYTES) throw new GuestImageError('no-space', `no space left on device: ${dir} has ${mib(free)} free, fetching the guest needs ${mib(NEEDED_BYTES)}`);
}

function result(dir: string, manifest: GuestManifest, fresh: boolean): GuestImages {
  return {
    cacheDir: dir, kernel: join(dir, KERNEL_FILE), initrd: join(dir, INITRD_FILE), manifestPath: join(dir, MANIFEST_FILE),
    manifest, upToDate: fresh,
  };
}

/**
 * mkdir -p for the user's cache path, one level at a time: Node 20's recursive mkdirSync spins forever where
 * mkdir answers ENOENT under a parent that exists (e.g. HYPATIA_CACHE=/proc/x), instead of failing.
 */
function makeDirectory(dir: string): void {
  const missing: string[] = [];
  for (let d = resolve(dir); !existsSync(d); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  for (let k = missing.length - 1; k >= 0; k--) mkdirSync(missing[k]);
  if (!statSync(dir).isDirectory()) throw new Error('it exists and is not a directory');
}

/** Downloads (if needed), unpacks (if needed) and builds the guest kernel and initramfs in the cache. */
export async function ensureGuestImages(options: EnsureGuestImagesOptions = {}): Promise<GuestImages> {
  const dir = options.cacheDir ?? defaultGuestCacheDir();
  const log = options.log ?? (() => {});
  const modules = options.modules ?? HYPERV_MODULES;
  const recipe = recipeHash(modules);
  try {
    makeDirectory(dir);
  } catch (e) {
    if (isNoSpace(e)) throw new GuestImageError('no-space', `no space left on device: cannot create ${dir}`);
    throw new GuestImageError('tool', `cannot create the cache directory ${dir}: ${(e as Error).message}`);
  }
  log(`cache: ${dir}`);
  const release = await lockCache(dir, options.lockTimeoutMs ?? 10 * 60 * 1000, (pid) => log(`waiting for another fetch (pid ${pid}) to finish`));
  try {
    const manifestPath = join(dir, MANIFEST_FILE);
    const manifest = readManifest(manifestPath);
    if (options.offline) {
      if (upToDate(dir, manifest, recipe)) { log('offline: using the cached images'); return result(dir, manifest, true); }
      throw new GuestImageError('offline', `offline: ${dir} holds no complete guest images for this build; run "hypatia guest fetch" with apt available`);
    }
    // apt's cache file takes ~40 MB: on a nearly full disk, go without it and let checkSpace say what is wrong.
    const pkgcache = join(dir, APT_PKGCACHE_FILE);
    const apt: AptContext = existsSync(pkgcache) || freeBytes(dir) > PKGCACHE_ROOM ? { pkgcache } : {};
    const { kernel, busybox, daemons, libc, updated } = await resolvePackages(options, apt, join(dir, APT_UPDATED_STAMP), log);
    const pkgs: ResolvedPackage[] = [kernel, busybox, daemons, libc];
    if (!options.force && upToDate(dir, manifest, recipe, pkgs)) {
      log(`up to date: ${kernel.name} ${kernel.version}, ${busybox.name} ${busybox.version}`);
      return result(dir, manifest, true);
    }
    checkSpace(dir);
    const debs = await downloadAll(dir, pkgs, updated, apt, log);
    const roots = new Map<string, string>();
    for (const p of pkgs) roots.set(p.name, await extract(dir, p, debs.get(p.name)!, options.force ?? false, log));
    const built = build(dir, recipe, modules, kernel, busybox, pkgs, debs, roots, log);
    prune(dir, pkgs);
    return result(dir, built, false);
  } catch (e) {
    if (!(e instanceof GuestImageError) && isNoSpace(e)) throw new GuestImageError('no-space', `no space left on device in ${dir}`);
    throw e;
  } finally {
    release();
  }
}

async function resolvePackages(options: EnsureGuestImagesOptions, apt: AptContext, stamp: string, log: (l: string) => void) {
  let updated = false;
  const update = async () => {
    await aptUpdate(apt);
    updated = true;
    writeFileSync(stamp, `${new Date().toISOString()}\n`);
  };
  const state = await aptListsState(options.listsMaxAgeMs ?? 7 * DAY_MS, stamp);
  if (state !== 'fresh') {
    log(`apt: package lists ${state}, running apt-get update`);
    try {
      await update();
    } catch (e) {
      if (state === 'missing') throw e;
      log(`apt: update failed, using the old lists (${(e as Error).message})`); // stale lists still name real packages
    }
  }
  const resolveAll = async () => {
    const { kernel, others } = await resolveCloudKernel([BUSYBOX_PACKAGE, HYPERV_DAEMONS_PACKAGE, LIBC_PACKAGE], apt);
    return { kernel, busybox: others.get(BUSYBOX_PACKAGE), daemons: others.get(HYPERV_DAEMONS_PACKAGE), libc: others.get(LIBC_PACKAGE) };
  };
  let r = await resolveAll();
  if ((!r.kernel || !r.busybox || !r.daemons || !r.libc) && !updated) {
    log('apt: a package is missing from the lists, running apt-get update');
    await update();
    r = await resolveAll();
  }
  if (!r.kernel) throw new GuestImageError('no-package', 'package linux-image-*-cloud-amd64-unsigned not found: apt knows no linux-image-cloud-amd64 (is this Debian 12 amd64 with "main" in sources.list?)');
  if (!r.busybox) throw new GuestImageError('no-package', `package ${BUSYBOX_PACKAGE} not found by apt-cache`);
  if (!r.daemons) throw new GuestImageError('no-package', `package ${HYPERV_DAEMONS_PACKAGE} not found by apt-cache`);
  if (!r.libc) throw new GuestImageError('no-package', `package ${LIBC_PACKAGE} not found by apt-cache`);
  log(`kernel: ${r.kernel.name} ${r.kernel.version} (Linux ${r.kernel.release})`);
  const kernel: CloudKernel = r.kernel;
  return {
    kernel, busybox: { name: BUSYBOX_PACKAGE, version: r.busybox }, daemons: { name: HYPERV_DAEMONS_PACKAGE, version: r.daemons },
    libc: { name: LIBC_PACKAGE, version: r.libc }, updated,
  };
}

async function downloadAll(dir: string, pkgs: ResolvedPackage[], listsUpdated: boolean, apt: AptContext, log: (l: string) => void): Promise<Map<string, string>> {
  const debDir = join(dir, 'debs');
  mkdirSync(debDir, { recursive: true });
  const out = new Map<string, string>();
  let updated = listsUpdated;
  for (const p of pkgs) {
    const target = join(debDir, debFileName(p.name, p.version));
    if (existsSync(target)) {
      // A kept .deb is reused only if it is byte for byte what the signed lists describe.
      const expected = await aptExpectedDeb(p.name, p.version, apt);
      const data = readFileSync(target);
      if (expected && data.length === expected.size && sha256Of(data) === expected.sha256) {
        log(`download: ${p.name} ${p.version}: cached`);
        out.set(p.name, target);
        continue;
      }
      log(`download: ${p.name}: the cached .deb does not match the package lists, fetching it again`);
      rmSync(target, { force: true }); // truncated, corrupt or foreign
    }
    const tmp = join(debDir, `.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    try {
      const t0 = Date.now();
      let file: string;
      try {
        file = await aptDownload(p.name, p.version, tmp, apt);
      } catch (e) {
        // An old list can name a version the mirror no longer has (404): refresh once and retry.
        if (updated || !(e instanceof GuestImageError) || e.code !== 'download') throw e;
        log(`download: ${p.name} failed (${e.message}); running apt-get update and retrying`);
        await aptUpdate(apt);
        updated = true;
        writeFileSync(join(dir, APT_UPDATED_STAMP), `${new Date().toISOString()}\n`);
        file = await aptDownload(p.name, p.version, tmp, apt);
      }
      renameSync(file, target);
      log(`download: ${p.name} ${p.version} (${mib(readFileSync(target).length)}, ${Date.now() - t0} ms)`);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    out.set(p.name, target);
  }
  return out;
}

async function extract(dir: string, p: ResolvedPackage, deb: string, force: boolean, log: (l: string) => void): Promise<string> {
  const rootDir = join(dir, 'root');
  mkdirSync(rootDir, { recursive: true });
  const target = join(rootDir, safeName(p));
  if (existsSync(target) && !force) {
    log(`extract: ${p.name}: cached`);
    return target;
  }
  const tmp = join(rootDir, `.tmp-${p.name}-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  const t0 = Date.now();
  await debExtract(deb, tmp);
  rmSync(target, { recursive: true, force: true });
  renameSync(tmp, target); // the directory appears complete or not at all
  log(`extract: ${p.name} ${p.version} (${Date.now() - t0} ms)`);
  return target;
}

function build(
  dir: string, recipe: string, wanted: readonly string[], kernel: CloudKernel, busybox: ResolvedPackage,
  pkgs: ResolvedPackage[], debs: Map<string, string>, roots: Map<string, string>, log: (l: string) => void,
): GuestManifest {
  const t0 = Date.now();
  const kroot = roots.get(kernel.name)!;
  const vmlinuzSrc = join(kroot, 'boot', `vmlinuz-${kernel.release}`);
  if (!existsSync(vmlinuzSrc)) throw new GuestImageError('bad-kernel', `${kernel.name} has no boot/vmlinuz-${kernel.release}`);
  const bz = readBzImageInfo(readFileSync(vmlinuzSrc), vmlinuzSrc);
  if (bz.release !== kernel.release) throw new GuestImageError('bad-kernel', `bzImage says Linux ${bz.release || '(no version)'}, package says ${kernel.release}`);
  const modulesDir = join(kroot, 'lib', 'modules', kernel.release);
  if (!existsSync(modulesDir)) throw new GuestImageError('bad-kernel', `${kernel.name} has no lib/modules/${kernel.release}`);
  const index = loadModuleIndex(modulesDir);
  const resolution = resolveModules(index, wanted);
  const bbBin = join(roots.get(busybox.name)!, 'bin', 'busybox');
  if (!existsSync(bbBin)) throw new GuestImageError('bad-kernel', `${busybox.name} has no bin/busybox`);
  const applets = busyboxApplets(bbBin);
  if (!applets) log('build: cannot list busybox applets on this host; /init will install the links at boot');
  const kvp = kvpDaemonFiles(roots.get(HYPERV_DAEMONS_PACKAGE)!, [roots.get(LIBC_PACKAGE)!]);
  const files = guestInitramfsFiles({ busybox: bbBin, applets, release: kernel.release, modulesDir, modules: resolution, extra: kvp.files }, (n) => index.depsOf(n));
  const image = buildInitramfs({ files });
  writeAtomic(join(dir, INITRD_FILE), image);
  const tmpKernel = join(dir, `.${KERNEL_FILE}.tmp`);
  copyFileSync(vmlinuzSrc, tmpKernel);
  renameSync(tmpKernel, join(dir, KERNEL_FILE));
  const extra = resolution.order.length - resolution.order.filter((m) => m.requested).length;
  log(`build: ${INITRD_FILE}: ${resolution.order.length} modules (${extra} as dependencies${resolution.builtin.length ? `, built in: ${resolution.builtin.join(' ')}` : ''}), ${applets?.length ?? 0} applet links, hv_kvp_daemon with ${kvp.libraries.join(' ')}, ${mib(image.length)} (${Date.now() - t0} ms)`);

  const kvpHost = join(roots.get(HYPERV_DAEMONS_PACKAGE)!, 'usr', 'sbin', 'hv_kvp_daemon');
  const packages: ManifestPackage[] = pkgs.map((p) => {
    const deb = debs.get(p.name)!;
    return { name: p.name, version: p.version, deb: relative(dir, deb), sha256: sha256Of(readFileSync(deb)) };
  });
  const manifest: GuestManifest = {
    format: MANIFEST_FORMAT,
    recipe,
    created: new Date().toISOString(),
    kernel: { package: kernel.name, version: kernel.version, release: kernel.release, bzImageVersion: bz.version, bootProtocol: bz.protocol },
    busybox: { version: busybox.version, appletLinks: applets?.length ?? 0 },
    packages,
    files: { [KERNEL_FILE]: describeFile(join(dir, KERNEL_FILE)), [INITRD_FILE]: describeFile(join(dir, INITRD_FILE)) },
    modules: resolution.order.map((m) => ({ name: m.name, path: m.path, requested: m.requested, deps: index.depsOf(m.name) })),
    builtinModules: resolution.builtin,
    hvKvpDaemon: relative(dir, kvpHost),
    guestKvpDaemon: { path: KVP_DAEMON_PATH, libraries: kvp.libraries },
  };
  writeAtomic(join(dir, MANIFEST_FILE), Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`));
  log(`kernel: ${KERNEL_FILE}: ${bz.version} (boot protocol ${bz.protocol})`);
  return manifest;
}

function writeAtomic(path: string, data: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Drops the .debs and unpacked trees of versions no longer current. */
function prune(dir: string, pkgs: ResolvedPackage[]): void {
  const keepDebs = new Set(pkgs.map((p) => debFileName(p.name, p.version)));
  const keepRoots = new Set(pkgs.map(safeName));
  for (const [sub, keep] of [['debs', keepDebs], ['root', keepRoots]] as const) {
    const d = join(dir, sub);
    if (!existsSync(d)) continue;
    for (const f of readdirSync(d)) if (!keep.has(f) && !f.startsWith('.tmp-')) rmSync(join(d, f), { recursive: true, force: true });
  }
}
