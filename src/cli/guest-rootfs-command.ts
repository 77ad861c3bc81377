// `hypatia guest rootfs OUT [--size 1G] [--format vhdx|vhd|raw]`: a persistent Linux root disk built from the
// fetched guest (src/guest-images/rootfs-image.ts). Progress goes to stderr, the output's path to stdout.
import { statSync } from 'node:fs';
import { buildRootfsImage, defaultGuestCacheDir, GuestImageError, ROOTFS_LABEL, type InitramfsFile, type RootfsFormat } from '../guest-images/index.js';
import { UsageError } from './size-option.js';

export const GUEST_ROOTFS_HELP = `Usage: hypatia guest rootfs OUT [--size SIZE] [--format vhdx|vhd|raw] [--add HOST:GUEST]... [--cache DIR] [--force] [--quiet]

Builds an ext4 root filesystem (label "${ROOTFS_LABEL}") for the fetched Linux guest on a new virtual disk
OUT: busybox with its applet links, the kernel's whole modules tree (with a modules.dep for modprobe),
hv_kvp_daemon with its libraries, /etc (hostname, passwd, group, fstab) and an /sbin/init that starts
syslogd and the KVP daemon, runs hypatia.run=, keeps a shell on the console and remounts / read-only on
power-off. Needs "hypatia guest fetch" first and e2fsprogs (mke2fs) on the host.

Options:
  --size SIZE      disk size, a multiple of 1M (K, M, G suffixes; default 1G)
  --format FMT     vhdx (default, dynamic), vhd (dynamic) or raw (sparse)
  --add HOST:GUEST put the host file HOST on the disk at the absolute path GUEST (keeping its permissions;
                   repeatable; replaces a file the builder would put there)
  --cache DIR      guest cache directory (default $HYPATIA_CACHE, else ~/.cache/hypatia/guest; now ${defaultGuestCacheDir()})
  --force          replace OUT if it exists
  --quiet          no progress lines
  -h, --help       show this help

Boot it (the initramfs mounts the disk and switch_roots to its /sbin/init):
  hypatia run --kernel <cache>/vmlinuz --initrd <cache>/initrd.img --disk OUT --append "console=ttyS0 root=/dev/sda"
`;

interface RootfsOptions { output: string; size: number; format: RootfsFormat; cacheDir?: string; force: boolean; quiet: boolean; extra: InitramfsFile[] }

const MiB = 1024 * 1024;
const UNITS: Record<string, number> = { k: 1024, m: MiB, g: 1024 * MiB, t: 1024 * 1024 * MiB };

function parseDiskSize(text: string): number {
  const m = /^(\d+)([kmgt])?(?:i?b)?$/i.exec(text.trim());
  if (m === null) throw new UsageError(`--size: bad size "${text}" (expected e.g. 512M, 1G, 2G)`);
  const v = Number(m[1]) * (m[2] ? UNITS[m[2].toLowerCase()] : 1);
  if (!Number.isSafeInteger(v) || v <= 0) throw new UsageError(`--size: size "${text}" is out of range`);
  if (v % MiB !== 0) throw new UsageError(`--size: size "${text}" is not a multiple of 1M`);
  return v;
}

/** --add HOST:GUEST: a regular host file to an absolute guest path without "." or ".." components. */
function parseAdd(text: string): InitramfsFile {
  const colon = text.lastIndexOf(':');
  const host = text.slice(0, colon);
  const guest = text.slice(colon + 1);
  if (colon <= 0 || !guest.startsWith('/') || guest.endsWith('/')) throw new UsageError(`--add: expected HOST:GUEST with an absolute guest file path, got "${text}"`);
  if (guest.split('/').some((c) => c === '.' || c === '..')) throw new UsageError(`--add: guest path ${guest} has . or .. in it`);
  let st;
  try { st = statSync(host); } catch { throw new UsageError(`--add: no such file ${host}`); }
  if (!st.isFile()) throw new UsageError(`--add: ${host} is not a regular file`);
  return { path: guest, source: host };
}

function parseRootfsArgs(argv: string[]): RootfsOptions | 'help' {
  let output: string | undefined;
  const o: Omit<RootfsOptions, 'output'> = { size: 1024 * MiB, format: 'vhdx', force: false, quiet: false, extra: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      const v = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '') throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '-h': case '--help': return 'help';
      case '--size': o.size = parseDiskSize(value()); break;
      case '--format': {
        const f = value();
        if (f !== 'vhdx' && f !== 'vhd' && f !== 'raw') throw new UsageError(`--format: "${f}" is not one of vhdx, vhd, raw`);
        o.format = f;
        break;
      }
      case '--add': o.extra.push(parseAdd(value())); break;
      case '--cache': o.cacheDir = value(); break;
      case '--force': o.force = true; break;
      case '--quiet': case '-q': o.quiet = true; break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${name} for guest rootfs`);
        if (output !== undefined) throw new UsageError(`unexpected argument "${a}" (the output is ${output})`);
        output = a;
    }
  }
  if (output === undefined) throw new UsageError('missing the output file (e.g. hypatia guest rootfs root.vhdx)');
  return { output, ...o };
}

export async function guestRootfsCommand(argv: string[]): Promise<number> {
  let opts: RootfsOptions | 'help';
  try {
    opts = parseRootfsArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`hypatia guest rootfs: ${e.message} (see hypatia guest rootfs --help)\n`); return 2; }
    throw e;
  }
  if (opts === 'help') { process.stdout.write(GUEST_ROOTFS_HELP); return 0; }
  const quiet = opts.quiet;
  try {
    const t0 = Date.now();
    const r = await buildRootfsImage({
      output: opts.output, size: opts.size, format: opts.format, cacheDir: opts.cacheDir, force: opts.force, extra: opts.extra,
      log: quiet ? undefined : (line) => process.stderr.write(`guest: ${line}\n`),
    });
    process.stdout.write(`${r.output}\n`);
    if (!quiet) process.stderr.write(`guest: done in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${r.output} (${r.format}, ${r.size / MiB} MiB, ext4 "${ROOTFS_LABEL}", Linux ${r.kernelRelease})\n`);
    return 0;
  } catch (e) {
    if (e instanceof GuestImageError) { process.stderr.write(`hypatia guest rootfs: ${e.message}\n`); return 1; }
    throw e;
  }
}
