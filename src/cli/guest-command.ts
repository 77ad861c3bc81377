// `hypatia guest fetch`: the Linux guest (Debian 12's cloud kernel, a busybox initramfs with the Hyper-V
// drivers) into the cache, through apt-get download. Progress goes to stderr, one line a step; the paths of
// the results go to stdout (or the whole manifest with --json), so scripts can use them.
import { defaultGuestCacheDir, ensureGuestImages, GuestImageError } from '../guest-images/index.js';
import { guestRootfsCommand, GUEST_ROOTFS_HELP } from './guest-rootfs-command.js';
import { UsageError } from './size-option.js';

export const GUEST_HELP = `Usage: hypatia guest fetch [--cache DIR] [--offline] [--force] [--json] [--quiet]
       hypatia guest rootfs OUT [--size SIZE] [--format vhdx|vhd|raw] [--force]   (see hypatia guest rootfs --help)

Downloads Debian 12's cloud kernel (linux-image-*-cloud-amd64-unsigned, the newest apt knows), busybox-static
and hyperv-daemons with apt-get download, unpacks them with dpkg-deb and builds an initramfs with busybox, an
/init that loads the Hyper-V drivers (hv_vmbus, hv_storvsc, hv_netvsc, hv_utils, ...) and prints
"hypatia-init: ready", then a shell on the console (ttyS0). Steps already done are skipped.

Outputs in the cache directory: vmlinuz (the bzImage), initrd.img (gzip'd cpio), manifest.json.

Options:
  --cache DIR   cache directory (default $HYPATIA_CACHE, else ~/.cache/hypatia/guest; now ${defaultGuestCacheDir()})
  --offline     do not run apt; use the cached images (fails if there are none)
  --force       unpack and rebuild even if up to date (downloads are reused)
  --json        print the manifest (with the output paths) as JSON on stdout
  --quiet       no progress lines
  -h, --help    show this help

Boot it: hypatia run --kernel <cache>/vmlinuz --initrd <cache>/initrd.img --append "console=ttyS0"
`;

interface FetchOptions { cacheDir?: string; offline: boolean; force: boolean; json: boolean; quiet: boolean }

function parseFetchArgs(argv: string[]): FetchOptions | 'help' {
  const o: FetchOptions = { offline: false, force: false, json: false, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const eq = a.indexOf('=');
    const name = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    switch (name) {
      case '-h': case '--help': return 'help';
      case '--cache': {
        const v = eq > 0 ? a.slice(eq + 1) : argv[++i];
        if (!v) throw new UsageError('--cache needs a directory');
        o.cacheDir = v;
        break;
      }
      case '--offline': o.offline = true; break;
      case '--force': o.force = true; break;
      case '--json': o.json = true; break;
      case '--quiet': case '-q': o.quiet = true; break;
      default: throw new UsageError(a.startsWith('-') ? `unknown option ${name} for guest fetch` : `unexpected argument "${a}"`);
    }
  }
  return o;
}

export async function guestCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '-h' || sub === '--help' || sub === 'help') {
    (sub === undefined ? process.stderr : process.stdout).write(GUEST_HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub === 'rootfs') {
    if (rest.length === 0) { process.stderr.write(GUEST_ROOTFS_HELP); return 2; }
    return guestRootfsCommand(rest);
  }
  if (sub !== 'fetch') {
    process.stderr.write(`hypatia guest: unknown command "${sub}" (see hypatia guest --help)\n`);
    return 2;
  }
  let opts: FetchOptions | 'help';
  try {
    opts = parseFetchArgs(rest);
  } catch (e) {
    if (e instanceof UsageError) { process.stderr.write(`hypatia guest fetch: ${e.message} (see hypatia guest --help)\n`); return 2; }
    throw e;
  }
  if (opts === 'help') { process.stdout.write(GUEST_HELP); return 0; }
  const quiet = opts.quiet;
  try {
    const t0 = Date.now();
    const images = await ensureGuestImages({
      cacheDir: opts.cacheDir, offline: opts.offline, force: opts.force,
      log: quiet ? undefined : (line) => process.stderr.write(`guest: ${line}\n`),
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ kernel: images.kernel, initrd: images.initrd, manifestPath: images.manifestPath, upToDate: images.upToDate, manifest: images.manifest }, null, 2)}\n`);
    } else {
      process.stdout.write(`kernel: ${images.kernel}\ninitrd: ${images.initrd}\nmanifest: ${images.manifestPath}\n`);
    }
    if (!quiet) process.stderr.write(`guest: done in ${((Date.now() - t0) / 1000).toFixed(1)} s (Linux ${images.manifest.kernel.release}, ${images.manifest.modules.length} modules)\n`);
    return 0;
  } catch (e) {
    if (e instanceof GuestImageError) { process.stderr.write(`hypatia guest fetch: ${e.message}\n`); return 1; }
    throw e;
  }
}
