// The contents of a guest root disk (`hypatia guest rootfs`): what the initramfs has, laid out as a system
// that stays: busybox and its applet links, the whole kernel modules tree with a modules.dep for all of it (so
// busybox modprobe can load any module, not only the Hyper-V set), hv_kvp_daemon with its libraries, /etc
// (host name, passwd, group, fstab) and, as /sbin/init, the initramfs /init generated for the 'root' stage.
// The initramfs mounts this disk and switch_roots to that /sbin/init (root-mount-script.ts).
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BASE_DIRS, guestEtcFiles, modulesDepText, modulesListText } from './guest-initramfs.js';
import { initScript, MODULES_LIST_PATH } from './init-script.js';
import type { InitramfsFile } from './initramfs.js';
import { moduleName, resolveModules, type ModuleIndex, type ModuleResolution } from './kernel-modules.js';
import { plainModulePath, readModuleFile } from './module-file.js';

/** The ext4 volume label the builder gives a root disk (root=LABEL=hypatia-root finds it). */
export const ROOTFS_LABEL = 'hypatia-root';
/** Where the disk's init lives (the kernel's and the initramfs's default init=). */
export const ROOTFS_INIT_PATH = '/sbin/init';
/** Busybox applets that must not shadow the disk's own init. */
const NOT_LINKED = new Set(['sbin/init', 'linuxrc']);
const MODULE_FILE = /\.ko(\.xz|\.gz|\.zst)?$/;
/** Files beside the modules that modprobe and friends read, copied when the kernel package has them. */
const MODULES_META = ['modules.builtin', 'modules.builtin.modinfo', 'modules.order'];

export interface RootfsInput {
  busybox: string;
  /** Busybox's applet paths, or undefined to have the init install the links at boot. */
  applets: readonly string[] | undefined;
  release: string;
  /** The unpacked /lib/modules/<release> directory. */
  modulesDir: string;
  /** Its index (for every module's dependencies). */
  index: ModuleIndex;
  /** The modules the init loads at boot, in order (the initramfs's set: already loaded after switch_root). */
  bootModules: ModuleResolution;
  /** hv_kvp_daemon, its loader and libraries, scripts and state directory (kvp-daemon-files.ts). */
  kvp: readonly InitramfsFile[];
}

function allModules(dir: string, rel: string, out: string[]): void {
  for (const ent of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = `${rel}/${ent.name}`;
    if (ent.isDirectory()) allModules(dir, r, out);
    else if (MODULE_FILE.test(ent.name)) out.push(r);
  }
}

/** The root disk's files. Modules are referenced by host path when plain, decompressed when not. */
export function rootfsFiles(input: RootfsInput): InitramfsFile[] {
  const files: InitramfsFile[] = [...BASE_DIRS, 'lib', 'home', 'var/lib', 'var/tmp'].map((d) => ({
    path: d, type: 'dir' as const, mode: d === 'tmp' || d === 'var/tmp' ? 0o1777 : d === 'root' ? 0o700 : 0o755,
  }));
  files.push({ path: 'bin/busybox', source: input.busybox, mode: 0o755 });
  for (const a of input.applets ?? []) if (!NOT_LINKED.has(a)) files.push({ path: a, target: '/bin/busybox' });
  files.push({ path: ROOTFS_INIT_PATH, data: initScript({ installApplets: input.applets === undefined, stage: 'root' }), mode: 0o755 });

  const paths: string[] = [];
  allModules(input.modulesDir, 'kernel', paths);
  paths.sort();
  const mods = `lib/modules/${input.release}`;
  for (const p of paths) {
    const host = join(input.modulesDir, p);
    files.push(p.endsWith('.ko') ? { path: `${mods}/${p}`, source: host, mode: 0o644 } : { path: `${mods}/${plainModulePath(p)}`, data: readModuleFile(host), mode: 0o644 });
  }
  const everything = resolveModules(input.index, paths.map(moduleName));
  files.push({ path: `${mods}/modules.dep`, data: modulesDepText(everything, (n) => input.index.depsOf(n)) });
  const present = new Set(readdirSync(input.modulesDir));
  for (const f of MODULES_META) if (present.has(f)) files.push({ path: `${mods}/${f}`, source: join(input.modulesDir, f), mode: 0o644 });
  files.push({ path: MODULES_LIST_PATH, data: modulesListText(input.release, input.bootModules, (n) => input.index.depsOf(n)) });

  files.push(...guestEtcFiles());
  files.push({ path: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' });
  files.push({ path: 'etc/group', data: 'root:x:0:\n' });
  files.push({ path: 'etc/shadow', data: 'root::19000:0:99999:7:::\n', mode: 0o600 });
  // Not read by the init (the initramfs mounted / from root=); there for `mount -a` and for people reading it.
  files.push({
    path: 'etc/fstab',
    data: `# <device> <mount point> <type> <options> <dump> <pass>\nLABEL=${ROOTFS_LABEL} / ext4 defaults 0 1\nproc /proc proc defaults 0 0\nsysfs /sys sysfs defaults 0 0\ndevpts /dev/pts devpts defaults 0 0\n`,
  });
  files.push(...input.kvp);
  return files;
}
