// Host tools the guest-image tests compare against (cpio, kmod's modinfo, qemu-system-x86), installed from
// Debian's packages when missing so a clean machine needs no manual step. A lock directory per package keeps
// parallel test files from running apt-get at once; apt's own lock is retried while another apt runs.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

function have(bin: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${bin}`], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '';
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function aptGet(args: string[]): { status: number; out: string } {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const r = spawnSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { encoding: 'utf8', env });
  return { status: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

/** Makes sure `bin` is on PATH, installing Debian package `pkg` (after apt-get update) if it is not. */
export function ensureDebianTool(bin: string, pkg: string): void {
  if (have(bin)) return;
  const lock = path.join(os.tmpdir(), `hypatia-apt-${pkg}.lock`);
  const deadline = Date.now() + 10 * 60 * 1000;
  for (;;) {
    try {
      fs.mkdirSync(lock);
      break;
    } catch {
      if (have(bin)) return;
      try { if (Date.now() - fs.statSync(lock).mtimeMs > 5 * 60 * 1000) fs.rmSync(lock, { recursive: true, force: true }); } catch { /* gone */ }
      if (Date.now() > deadline) throw new Error(`timed out waiting for another test to install ${pkg}`);
      sleep(500);
    }
  }
  try {
    for (let attempt = 0; !have(bin); attempt++) {
      let r = aptGet(['install', '-y', '--no-install-recommends', pkg]);
      if (r.status !== 0 && !/Could not get lock/.test(r.out)) {
        const u = aptGet(['update', '-q']);
        if (u.status === 0) r = aptGet(['install', '-y', '--no-install-recommends', pkg]);
      }
      if (r.status === 0) break;
      if (attempt >= 20 || !/Could not get lock/.test(r.out)) throw new Error(`apt-get install ${pkg} failed: ${r.out.trim().split('\n').slice(-3).join(' | ')}`);
      sleep(3000); // another apt (e.g. a concurrent guest fetch's update) holds the lock
    }
  } finally {
    fs.rmSync(lock, { recursive: true, force: true });
  }
  if (!have(bin)) throw new Error(`${pkg} installed but ${bin} is still not on PATH`);
}
