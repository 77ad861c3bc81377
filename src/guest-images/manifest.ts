// manifest.json in the cache: what was built from what. It makes a re-run a no-op when the package versions
// and the build recipe are unchanged and the outputs still hash to what was recorded, and tells other code
// (boot tests, hypatia run) the kernel release and module list without unpacking anything.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const MANIFEST_FORMAT = 1;

export interface ManifestFile { sha256: string; size: number }

export interface ManifestPackage {
  name: string;
  version: string;
  /** The .deb, relative to the cache directory. */
  deb: string;
  sha256: string;
}

export interface GuestManifest {
  format: number;
  /** Hash of everything besides the packages that shapes the outputs (module list, /init, builder version). */
  recipe: string;
  created: string;
  kernel: {
    package: string;
    version: string;
    release: string;
    /** The bzImage's embedded version string and boot protocol. */
    bzImageVersion: string;
    bootProtocol: string;
  };
  busybox: { version: string; appletLinks: number };
  packages: ManifestPackage[];
  /** Output files (vmlinuz, initrd.img), relative to the cache directory. */
  files: Record<string, ManifestFile>;
  /** Included modules in load order; `requested` false for ones pulled in as dependencies. */
  modules: { name: string; path: string; requested: boolean; deps: string[] }[];
  /** Requested modules that are built into this kernel. */
  builtinModules: string[];
  /** hv_kvp_daemon from hyperv-daemons, relative to the cache directory (dynamically linked against glibc). */
  hvKvpDaemon?: string;
  /** hv_kvp_daemon's path in the initramfs and the loader and libraries put there for it (their real files). */
  guestKvpDaemon?: { path: string; libraries: string[] };
}

export function sha256Of(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function describeFile(path: string): ManifestFile {
  const data = readFileSync(path);
  return { sha256: sha256Of(data), size: data.length };
}

export function readManifest(path: string): GuestManifest | undefined {
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as GuestManifest;
    return m && m.format === MANIFEST_FORMAT ? m : undefined;
  } catch {
    return undefined;
  }
}
