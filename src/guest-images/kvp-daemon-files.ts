// Debian's hv_kvp_daemon (package hyperv-daemons) in the guest initramfs: the user-space half of the KVP
// integration service. hv_utils' hv_kvp driver creates /dev/vmbus/hv_kvp; the daemon registers there and
// answers the host's KVP requests from its pool files /var/lib/hyperv/.kvp_pool_<n> (n = 0 external: values the
// host sets, 1 guest: values guest software publishes, 2 auto: generated on the fly, 3 auto-external, 4
// auto-internal), which it creates if absent (Linux tools/hv/hv_kvp_daemon.c). It is glibc-dynamic, so
// libc6's loader and libraries come with it (dynamic-program.ts). Its helper scripts (hv_get_dns_info,
// hv_get_dhcp_info) are shipped as Debian has them; they start with #!/bin/bash, which busybox does not
// provide, so the host's IP-info queries fail in this guest while key/value exchange works.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { dynamicProgramFiles, type DynamicProgramFiles } from './dynamic-program.js';
import { GuestImageError } from './errors.js';

export const KVP_DAEMON_PATH = '/usr/sbin/hv_kvp_daemon';
export const KVP_DEVICE_PATH = '/dev/vmbus/hv_kvp';
export const KVP_POOL_DIR = '/var/lib/hyperv';
export const KVP_SCRIPTS_DIR = '/usr/libexec/hypervkvpd';

/** The daemon, its loader and libraries (found in `libRoots`), its scripts and its state directory. */
export function kvpDaemonFiles(daemonsRoot: string, libRoots: readonly string[]): DynamicProgramFiles {
  const daemon = join(daemonsRoot, KVP_DAEMON_PATH);
  if (!existsSync(daemon)) throw new GuestImageError('bad-archive', `hyperv-daemons has no ${KVP_DAEMON_PATH}`);
  const out = dynamicProgramFiles([{ source: daemon, path: KVP_DAEMON_PATH }], libRoots);
  const scripts = join(daemonsRoot, KVP_SCRIPTS_DIR);
  if (existsSync(scripts)) {
    for (const f of readdirSync(scripts).sort()) out.files.push({ path: `${KVP_SCRIPTS_DIR}/${f}`, source: join(scripts, f), mode: 0o755 });
  }
  out.files.push({ path: KVP_POOL_DIR, type: 'dir', mode: 0o755 });
  return out;
}
