// Debian's package tools as the only way to the network: apt-cache says which versions exist (from the local
// package lists), apt-get download fetches and verifies a .deb against the signed lists, dpkg-deb unpacks it.
// Nothing here installs anything on the host.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { GuestImageError } from './errors.js';
import { checkTool, firstErrorLine, runTool, type ToolResult } from './run-tool.js';

const NO_APT = 'fetching the guest needs Debian\'s apt-get, apt-cache and dpkg-deb (a Debian or Ubuntu host)';
const aptEnv = () => ({ ...process.env, DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C' });

function apt(cmd: string, args: readonly string[], cwd?: string): Promise<ToolResult> {
  return runTool(cmd, args, { cwd, env: aptEnv(), missing: { code: 'no-apt', message: `${cmd} not found: ${NO_APT}` } });
}

/**
 * Where apt may keep its binary package cache. Debian's container images switch that cache off, so every
 * apt-cache run parses the package lists again (~0.6 s); a cache file of our own makes a re-run's queries
 * take milliseconds. apt rebuilds it whenever the lists or the dpkg status change.
 */
export interface AptContext { pkgcache?: string }

function cacheOpts(ctx: AptContext): string[] {
  return ctx.pkgcache ? ['-o', `Dir::Cache::pkgcache=${ctx.pkgcache}`] : [];
}

/** The Debian metapackage whose dependency names the current cloud kernel. */
export const CLOUD_KERNEL_META = 'linux-image-cloud-amd64';

export type AptListsState = 'missing' | 'stale' | 'fresh';

/** Where apt keeps its package lists (Dir::State::lists, normally /var/lib/apt/lists). */
export async function aptListsDir(): Promise<string> {
  const r = checkTool(await apt('apt-config', ['shell', 'D', 'Dir::State::lists/d']), 'apt-config', 'no-apt');
  const m = /D='([^']*)'/.exec(r.stdout);
  return m ? m[1] : '/var/lib/apt/lists/';
}

/**
 * Whether the package lists exist and were refreshed within maxAgeMs. A list file's mtime is the archive's
 * Last-Modified, not the time of the last apt-get update, so `stamp` (a file touched after each update we run)
 * counts as a refresh too.
 */
export async function aptListsState(maxAgeMs: number, stamp?: string): Promise<AptListsState> {
  const dir = await aptListsDir();
  let newest = 0;
  try {
    for (const f of readdirSync(dir)) if (/_Packages(\.|$)/.test(f)) newest = Math.max(newest, statSync(join(dir, f)).mtimeMs);
  } catch { /* no lists directory: missing */ }
  if (newest === 0) return 'missing';
  try { if (stamp) newest = Math.max(newest, statSync(stamp).mtimeMs); } catch { /* never updated by us */ }
  return Date.now() - newest > maxAgeMs ? 'stale' : 'fresh';
}

/** apt-get update (needs root). Waits (up to a minute) while another apt holds the lists lock. */
export async function aptUpdate(ctx: AptContext = {}): Promise<void> {
  let r = await apt('apt-get', [...cacheOpts(ctx), 'update', '-q']);
  for (let i = 0; i < 20 && r.status !== 0 && /Could not get lock/.test(r.stderr); i++) {
    await new Promise((res) => setTimeout(res, 3000));
    r = await apt('apt-get', [...cacheOpts(ctx), 'update', '-q']);
  }
  if (r.status !== 0 && typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new GuestImageError('download', `apt-get update needs root: run "sudo apt-get update" once, then fetch again (${firstErrorLine(r)})`);
  }
  checkTool(r, 'apt-get update', 'download');
}

/**
 * The candidate (newest installable) version of each package, undefined where apt knows none. One apt-cache
 * run for all of them: each run loads the package cache, which costs about half a second.
 */
export async function aptCandidates(pkgs: readonly string[], ctx: AptContext = {}): Promise<Map<string, string | undefined>> {
  const r = checkTool(await apt('apt-cache', [...cacheOpts(ctx), 'policy', ...pkgs]), `apt-cache policy ${pkgs.join(' ')}`, 'no-apt');
  const out = new Map<string, string | undefined>(pkgs.map((p) => [p, undefined]));
  let current: string | undefined;
  for (const line of r.stdout.split('\n')) {
    const head = /^(\S+):\s*$/.exec(line);
    if (head) { current = head[1]; continue; }
    const m = /^\s*Candidate:\s*(\S+)/.exec(line);
    if (m && current && out.has(current) && m[1] !== '(none)') out.set(current, m[1]);
  }
  return out;
}

/** The candidate version of one package, or undefined. */
export async function aptCandidate(pkg: string, ctx: AptContext = {}): Promise<string | undefined> {
  return (await aptCandidates([pkg], ctx)).get(pkg);
}

/** The package names the candidate of `pkg` depends on ("Depends:" lines of apt-cache depends). */
export async function aptDepends(pkg: string, ctx: AptContext = {}): Promise<string[] | undefined> {
  const r = await apt('apt-cache', [...cacheOpts(ctx), 'depends', pkg]);
  if (r.status !== 0 && /No packages found|Unable to locate/.test(r.stderr)) return undefined;
  checkTool(r, `apt-cache depends ${pkg}`, 'no-apt');
  return [...r.stdout.matchAll(/^\s*\|?Depends:\s*<?([^\s>]+)>?/gm)].map((m) => m[1]);
}

export interface ResolvedPackage { name: string; version: string }

export interface CloudKernel extends ResolvedPackage {
  /** The kernel release the package installs ("6.1.0-56-cloud-amd64"). */
  release: string;
}

/** The package the cloud kernel metapackage's candidate depends on (linux-image-<release>), if any. */
export async function cloudKernelImagePackage(ctx: AptContext = {}): Promise<string | undefined> {
  return (await aptDepends(CLOUD_KERNEL_META, ctx))?.find((d) => /^linux-image-\d.*-cloud-amd64$/.test(d));
}

/** linux-image-<release>-unsigned: the same kernel and modules without the Secure Boot signature. */
export function unsignedKernelPackage(image: string): string {
  return `${image}-unsigned`;
}

/**
 * The newest cloud kernel and the candidates of `others`, in two apt-cache runs: the metapackage's candidate
 * depends on linux-image-<release>, whose unsigned twin we fetch.
 */
export async function resolveCloudKernel(others: readonly string[] = [], ctx: AptContext = {}): Promise<{ kernel?: CloudKernel; others: Map<string, string | undefined> }> {
  const image = await cloudKernelImagePackage(ctx);
  const names = image ? [unsignedKernelPackage(image), ...others] : [...others];
  const versions = names.length ? await aptCandidates(names, ctx) : new Map<string, string | undefined>();
  let kernel: CloudKernel | undefined;
  if (image) {
    const name = unsignedKernelPackage(image);
    const version = versions.get(name);
    if (version) kernel = { name, version, release: image.slice('linux-image-'.length) };
    versions.delete(name);
  }
  return { kernel, others: versions };
}

/** apt's file name for a downloaded package (an epoch's ':' is written %3a). */
export function debFileName(pkg: string, version: string, arch = 'amd64'): string {
  return `${pkg}_${version.replace(/:/g, '%3a')}_${arch}.deb`;
}

/**
 * apt-get download pkg=version into `dir` (apt checks its hash against the signed lists). Returns the path.
 * As root apt would hand the download to the _apt user, who may not be able to write the cache directory.
 */
export async function aptDownload(pkg: string, version: string, dir: string, ctx: AptContext = {}): Promise<string> {
  const sandbox = typeof process.getuid === 'function' && process.getuid() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
  const r = await apt('apt-get', ['download', '-q', ...sandbox, ...cacheOpts(ctx), `${pkg}=${version}`], dir);
  if (r.status !== 0) {
    const line = firstErrorLine(r);
    if (/Unable to locate package|was not found|Can't find a source|No packages found/i.test(line)) {
      throw new GuestImageError('no-package', `package ${pkg} ${version} not found by apt (${line})`);
    }
    checkTool(r, `apt-get download ${pkg}=${version}`, 'download', dir);
  }
  const file = readdirSync(dir).find((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb'));
  if (!file) throw new GuestImageError('download', `apt-get download ${pkg}=${version} reported success but left no .deb in ${dir}`);
  return join(dir, file);
}

/** What the signed package lists say a .deb must be: its size and SHA-256 (apt-get download --print-uris). */
export async function aptExpectedDeb(pkg: string, version: string, ctx: AptContext = {}): Promise<{ size: number; sha256: string } | undefined> {
  const r = await apt('apt-get', ['download', '-q', '--print-uris', ...cacheOpts(ctx), `${pkg}=${version}`]);
  if (r.status !== 0) return undefined;
  const m = /^'[^']+'\s+\S+\s+(\d+)\s+SHA256:([0-9a-f]{64})\s*$/m.exec(r.stdout);
  return m ? { size: Number(m[1]), sha256: m[2] } : undefined;
}

/** dpkg-deb -x: unpack a package's files into `dir`. */
export async function debExtract(deb: string, dir: string): Promise<void> {
  checkTool(await apt('dpkg-deb', ['-x', deb, dir]), `dpkg-deb -x ${deb}`, 'tool', dir);
}
