// Linux with its root filesystem on a Hypatia virtual disk, in one boot of Debian 12's own kernel: `hypatia
// guest rootfs` writes an ext4 root disk as a VHDX (with a script and a copy of a binary added at a path the
// initramfs lacks), `hypatia run ... --disk root.vhdx --append "console=ttyS0 root=/dev/sda hypatia.run=..."`
// boots the cached kernel and initramfs; the initramfs /init loads hv_storvsc, waits for /dev/sda, mounts it
// and switch_roots to the disk's /sbin/init, which runs the script named by hypatia.run= (from the disk).
// In the guest: / is /dev/sda ext4 read-write (/proc/mounts), PID 1 runs the disk's init, a module that only
// the disk has is loaded with busybox modprobe through the disk's modules.dep (vfat, which needs fat), and the
// KVP daemon runs from the disk. The guest writes a file and syncs; SIGTERM to hypatia asks for a shutdown
// through the integration service, hv_utils runs the disk's /sbin/poweroff, and the disk init's signal handler
// remounts / read-only before powering off. On the host, after the run ends, qemu-img
// (an independent VHDX reader) converts the image to raw, debugfs reads the guest's file and syslog back out
// of it, and e2fsck -fn finds the filesystem clean.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureGuestImages, READY_MARKER, ROOT_STAGE_MARKER, type GuestImages } from '../../src/guest-images/index.js';
import { ensureQemuTools } from '../storage/qemu-tools.js';
import { ensureDebianTool } from '../guest-images/debian-tools.js';
import { GuestConsole } from './guest-console.js';
import { bootGuard } from './boot-guard.js';

const ROOT = resolve('.');
const CLI = join(ROOT, 'bin', 'hypatia.js');
/** The machine is shared: a boot that takes 45 s alone can take minutes under load. */
const BOOT_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 120_000;
const SCRIPT_PATH = '/opt/check/hello.sh';
// busybox acts as its applets only when its own name starts with "busybox".
const BINARY_PATH = '/opt/check/bin/busybox.disk';
const NOTE_PATH = '/var/check/n.txt';
const NOTE = 'guest-note-1';

let tmp: string;
let images: GuestImages;
let disk: string;
let guest: GuestConsole | null = null;
let readyAt = 0;

before(async () => {
  ensureDebianTool('debugfs', 'e2fsprogs');
  ensureQemuTools();
  images = await ensureGuestImages();
  tmp = mkdtempSync(join(tmpdir(), 'hypatia-root-disk-'));
  const script = join(tmp, 'hello.sh');
  writeFileSync(script, `#!/bin/sh
echo "root-disk-check: $0 (pid $$) sees / as: $(grep ' / ' /proc/mounts)"
${BINARY_PATH} echo "root-disk-check: $(${BINARY_PATH} basename ${BINARY_PATH}) from the disk runs"
`, { mode: 0o755 });
  // A copy of the guest's busybox under a name and path the initramfs does not have.
  const bb = images.manifest.packages.find((p) => p.name === 'busybox-static')!;
  const binary = join(tmp, 'busybox.disk');
  copyFileSync(join(images.cacheDir, 'root', `${bb.name}_${bb.version.replace(/:/g, '%3a')}`, 'bin', 'busybox'), binary);
  disk = join(tmp, 'root.vhdx');
  execFileSync(process.execPath, [CLI, 'guest', 'rootfs', disk, '--size', '1G', '--add', `${script}:${SCRIPT_PATH}`, '--add', `${binary}:${BINARY_PATH}`], { stdio: ['ignore', 'ignore', 'inherit'] });
}, { timeout: 900_000 });

const booted = bootGuard(() => ({ guest, tmp }));

async function sh(line: string): Promise<string> {
  const r = await booted().run(line, COMMAND_TIMEOUT_MS);
  assert.equal(r.status, 0, `${line}:\n${r.output}`);
  return r.output;
}

describe('Linux root filesystem on a VHDX: root=/dev/sda', () => {
  it('the initramfs mounts /dev/sda and switch_roots to the disk\'s init, which runs hypatia.run= from the disk', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
    const g = new GuestConsole(CLI, [
      'run', '--kernel', images.kernel, '--initrd', images.initrd, '--disk', disk,
      '--append', `console=ttyS0 root=/dev/sda hypatia.run=${SCRIPT_PATH}`,
    ]);
    guest = g;
    const sw = await g.waitFor(/^hypatia-init: root: switching to \/dev\/sda, running \/sbin\/init\r?$/m, 'the switch to the root disk', BOOT_TIMEOUT_MS);
    const switchAt = Date.now() - g.started;
    const ready = await g.waitFor(new RegExp(`^${READY_MARKER}\\r?$`, 'm'), 'the disk init\'s ready marker', BOOT_TIMEOUT_MS, sw.index);
    readyAt = Date.now() - g.started;
    const done = await g.waitFor(/^hypatia-init: exit status (\d+)\r?$/m, 'the hypatia.run= program', COMMAND_TIMEOUT_MS, sw.index + ready.index);
    await g.waitPrompt(COMMAND_TIMEOUT_MS, sw.index + ready.index);
    t.diagnostic(`switch_root after ${(switchAt / 1000).toFixed(1)} s, the disk init ready after ${(readyAt / 1000).toFixed(1)} s`);
    const log = g.output.replace(/\r/g, '');
    const before = log.slice(0, log.indexOf('hypatia-init: root: switching'));
    assert.match(before, /^hypatia-init: root: waiting for \/dev\/sda \(at most 30 s\)$/m);
    assert.match(before, /^hypatia-init: root: \/dev\/sda is \/dev\/sda \(after [\d.]+ s\)$/m);
    assert.match(before, /^hypatia-init: root: mounted \/dev\/sda ext4 rw,/m);
    assert.doesNotMatch(before, new RegExp(`^${READY_MARKER}$`, 'm'), 'the initramfs did not start its own services');
    const after = log.slice(log.indexOf('hypatia-init: root: switching'));
    assert.match(after, new RegExp(`^${ROOT_STAGE_MARKER} \\(pid 1\\)$`, 'm'));
    assert.match(after, /^hypatia-init: root: \/dev\/sda ext4 rw,/m);
    assert.match(after, /^hypatia-init: modules: 0 loaded, 0 failed, 0 skipped, 15 already loaded$/m, 'the initramfs loaded them all');
    assert.match(after, /^hypatia-init: kvp: hv_kvp_daemon started \(pid \d+\)$/m);
    assert.match(after, /^root-disk-check: \/opt\/check\/hello.sh \(pid \d+\) sees \/ as: \/dev\/sda \/ ext4 rw,\S+ 0 0$/m);
    assert.match(after, /^root-disk-check: busybox.disk from the disk runs$/m);
    assert.equal(done[1], '0');
    assert.doesNotMatch(log, /staying in the initramfs|Kernel panic/);
  });

  it('/ is /dev/sda ext4 read-write, PID 1 is the disk\'s /sbin/init, and the initramfs is gone', { timeout: COMMAND_TIMEOUT_MS * 4 }, async () => {
    assert.match(await sh("grep ' / ' /proc/mounts"), /^\/dev\/sda \/ ext4 rw,\S+ 0 0\n$/);
    assert.equal(await sh("tr '\\0' ' ' </proc/1/cmdline;echo"), '/bin/busybox sh /sbin/init \n');
    assert.equal(await sh('cat /sys/block/sda/size'), `${2 * 1024 * 1024}\n`);
    const r = await booted().run('ls /init /etc/hypatia-modules', COMMAND_TIMEOUT_MS);
    assert.match(r.output, /ls: \/init: No such file or directory/);
    assert.match(r.output, /^\/etc\/hypatia-modules$/m);
  });

  it('modprobe loads a module only the disk has (vfat, with fat) through the disk\'s modules.dep', { timeout: COMMAND_TIMEOUT_MS * 3 }, async () => {
    assert.doesNotMatch(await sh('cat /proc/filesystems'), /vfat/);
    await sh('modprobe vfat');
    assert.match(await sh('cat /proc/filesystems'), /^\s*vfat$/m);
    assert.match(await sh('cut -d" " -f1 /proc/modules'), /^fat$/m);
  });

  it('the KVP daemon and syslogd run from the disk', { timeout: COMMAND_TIMEOUT_MS * 3 }, async () => {
    const pid = (await sh('pidof hv_kvp_daemon')).trim();
    assert.match(pid, /^\d+$/);
    assert.equal(await sh(`readlink /proc/${pid}/exe`), '/usr/sbin/hv_kvp_daemon\n');
    assert.match(await sh('cat /var/log/messages'), /KVP: KVP starting; pid is:\d+/);
  });

  it('a file written and synced; SIGTERM to hypatia shuts the guest down through the disk\'s /sbin/poweroff and init, which remounts / read-only; status 0', { timeout: COMMAND_TIMEOUT_MS * 3 }, async (t) => {
    await sh(`mkdir -p ${NOTE_PATH.slice(0, NOTE_PATH.lastIndexOf('/'))}`);
    await sh(`echo ${NOTE} >${NOTE_PATH}`);
    await sh('sync');
    const g = booted();
    const mark = g.output.length;
    const t0 = Date.now();
    g.signal('SIGTERM'); // hv_utils' shutdown service runs the disk's /sbin/poweroff, which signals PID 1
    const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within 120 s of SIGTERM\n${g.tail()}`)), 120_000).unref());
    const exit = await Promise.race([g.closed, timer]);
    const tail = g.output.slice(mark);
    assert.match(tail, /hv_utils: Shutdown request received - graceful shutdown initiated/, g.tail());
    assert.match(tail, /hypatia-init: poweroff requested \(SIGUSR2\): stopping daemons, remounting \/ read-only\r?$/m, g.tail());
    assert.match(tail, /EXT4-fs \(sda\): re-mounted/, g.tail());
    assert.doesNotMatch(tail, /cannot remount \/ read-only/);
    assert.match(tail, /reboot: Power down\r?$/m, g.tail());
    assert.deepEqual(exit, { status: 0, signal: null }, g.tail());
    assert.doesNotMatch(g.stderr, /storvsp|refus|drop/i, 'no VMBus or storvsp complaints on stderr');
    t.diagnostic(`powered off ${((Date.now() - t0) / 1000).toFixed(1)} s after SIGTERM; whole run ${((Date.now() - g.started) / 1000).toFixed(1)} s`);
  });

  it('on the host the image holds the guest\'s file and syslog, and e2fsck -fn finds it clean', { timeout: 120_000 }, () => {
    const raw = join(tmp, 'root.raw');
    execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', disk, raw]);
    const cat = (p: string) => execFileSync('debugfs', ['-R', `cat ${p}`, raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.equal(cat(NOTE_PATH), `${NOTE}\n`);
    assert.match(cat('/var/log/messages'), /KVP: KVP starting/);
    const fsck = spawnSync('e2fsck', ['-fn', raw], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, `${fsck.stdout}${fsck.stderr}`);
    assert.match(execFileSync('dumpe2fs', ['-h', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }), /^Filesystem state:\s+clean$/m);
  });
});
