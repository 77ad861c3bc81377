// The contents of the standard guest initramfs: busybox and its applet links, /init, the kernel modules (plain
// .ko, under /lib/modules/<release>/ as in Debian, with a modules.dep so busybox modprobe works too), and
// /etc/hypatia-modules naming them in load order.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { initScript, MODULES_LIST_PATH } from './init-script.js';
import type { InitramfsFile } from './initramfs.js';
import type { ModuleResolution } from './kernel-modules.js';
import { plainModulePath, readModuleFile } from './module-file.js';

/** The Hyper-V guest drivers the initramfs loads, and the storage/input modules they sit on. */
export const HYPERV_MODULES: readonly string[] = [
  'scsi_common', 'scsi_mod', 'sd_mod', 'scsi_transport_fc', 'hv_vmbus', 'hv_utils', 'hv_storvsc', 'hv_netvsc',
  'hyperv-keyboard', 'hid', 'hid-hyperv', 'hyperv_fb', 'hv_balloon', 'vsock', 'hv_sock',
];

/** The directories every Linux userspace expects, created empty (mount points and scratch space). */
export const BASE_DIRS: readonly string[] = ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'mnt', 'var/log'];

/**
 * Busybox's applets as install paths ("sbin/insmod", "usr/bin/awk"), asked from the binary itself. It is a
 * static x86-64 program, so the host can run it; if it cannot, /init installs the links at boot instead.
 */
export function busyboxApplets(busybox: string): string[] | undefined {
  const r = spawnSync(busybox, ['--list-full'], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0 || !r.stdout) return undefined;
  // bin/busybox is the binary itself, not a link to it.
  const list = r.stdout.split('\n').map((l) => l.trim()).filter((l) => /^[a-z0-9/._[\]-]+$/i.test(l) && !l.includes('..') && l !== 'bin/busybox');
  return list.length > 0 ? list : undefined;
}

export interface GuestInitramfsInput {
  /** The static busybox binary. */
  busybox: string;
  /** Its applet paths, or undefined to have /init run "busybox --install -s". */
  applets: readonly string[] | undefined;
  release: string;
  /** The unpacked /lib/modules/<release> directory. */
  modulesDir: string;
  modules: ModuleResolution;
  /** More entries (e.g. hv_kvp_daemon and its libraries: kvp-daemon-files.ts), added last. */
  extra?: readonly InitramfsFile[];
}

/** The module list file: a header, then "name path deps" per module in load order (deps comma-separated). */
export function modulesListText(release: string, modules: ModuleResolution, depsOf: (name: string) => string[]): string {
  const included = new Set(modules.order.map((m) => m.name));
  const lines = [
    `# Kernel modules in this initramfs, in load order (hypatia guest, Linux ${release}).`,
    `# name path dependencies; built into the kernel (nothing to load): ${modules.builtin.join(' ') || 'none'}`,
  ];
  for (const m of modules.order) {
    const deps = depsOf(m.name).filter((d) => included.has(d)).join(',');
    lines.push(`${m.name} /lib/modules/${release}/${plainModulePath(m.path)}${deps ? ` ${deps}` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A modules.dep covering exactly the included modules, for busybox modprobe inside the guest. Like depmod's,
 * each line lists every module the first needs, transitively, so that loading them last-to-first works.
 */
export function modulesDepText(modules: ModuleResolution, depsOf: (name: string) => string[]): string {
  const paths = new Map(modules.order.map((m) => [m.name, plainModulePath(m.path)]));
  const closure = new Map<string, Set<string>>();
  for (const m of modules.order) { // load order: every dependency's closure is known before its users'
    const set = new Set<string>();
    for (const d of depsOf(m.name)) {
      if (!paths.has(d)) continue; // built in
      set.add(d);
      for (const x of closure.get(d) ?? []) set.add(x);
    }
    closure.set(m.name, set);
  }
  return modules.order.map((m) => {
    const deps = modules.order.filter((x) => closure.get(m.name)?.has(x.name)).reverse().map((x) => paths.get(x.name));
    return `${paths.get(m.name)}:${deps.map((p) => ` ${p}`).join('')}`;
  }).join('\n') + '\n';
}

/** /etc files the initramfs and a root disk share: host name, its resolution, the shell's profile. */
export function guestEtcFiles(): InitramfsFile[] {
  return [
    { path: 'etc/hostname', data: 'hypatia-guest\n' },
    // The host name resolves from files alone (no DNS here): hv_kvp_daemon reports it as FullyQualifiedDomainName.
    { path: 'etc/hosts', data: '127.0.0.1 localhost\n127.0.1.1 hypatia-guest\n' },
    { path: 'etc/nsswitch.conf', data: 'hosts: files\n' },
    { path: 'etc/profile', data: 'export PATH=/usr/sbin:/usr/bin:/sbin:/bin\nexport PS1=\'\\h:\\w\\$ \'\n' },
  ];
}

export function guestInitramfsFiles(input: GuestInitramfsInput, depsOf: (name: string) => string[]): InitramfsFile[] {
  const files: InitramfsFile[] = BASE_DIRS.map((d) => ({ path: d, type: 'dir' as const, mode: d === 'tmp' ? 0o1777 : d === 'root' ? 0o700 : 0o755 }));
  // The kernel opens /dev/console for init's stdio before devtmpfs is mounted over /dev.
  files.push({ path: 'dev/console', type: 'char', mode: 0o600, rdevMajor: 5, rdevMinor: 1 });
  files.push({ path: 'bin/busybox', source: input.busybox, mode: 0o755 });
  for (const a of input.applets ?? []) files.push({ path: a, target: '/bin/busybox' });
  files.push({ path: 'init', data: initScript({ installApplets: input.applets === undefined }), mode: 0o755 });
  for (const m of input.modules.order) {
    files.push({ path: `lib/modules/${input.release}/${plainModulePath(m.path)}`, data: readModuleFile(join(input.modulesDir, m.path)), mode: 0o644 });
  }
  files.push({ path: `lib/modules/${input.release}/modules.dep`, data: modulesDepText(input.modules, depsOf) });
  files.push({ path: MODULES_LIST_PATH, data: modulesListText(input.release, input.modules, depsOf) });
  files.push(...guestEtcFiles());
  files.push(...(input.extra ?? []));
  return files;
}
