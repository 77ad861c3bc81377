// `hypatia guest rootfs` without booting: the disk it writes is read back with e2fsprogs' own debugfs,
// dumpe2fs and e2fsck and with qemu-img (an independent VHDX reader): an ext4 filesystem labelled
// hypatia-root, clean, everything owned by root, holding busybox and its applet links, the disk's /sbin/init
// (the generator's 'root' stage, not busybox's init), the kernel's whole modules tree byte for byte with a
// modules.dep for every module, /etc/hypatia-modules as the initramfs has it, hv_kvp_daemon with its loader
// and libc, /etc, and files given with --add. Then the command's refusals: existing output, bad or too small
// sizes, unknown formats, a cache without guest images.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ensureGuestImages, initramfsTree, initScript, KVP_DAEMON_PATH, MODULES_LIST_PATH, ROOTFS_LABEL, type GuestImages,
} from '../../src/guest-images/index.js';
import { ensureQemuTools } from '../storage/qemu-tools.js';
import { ensureDebianTool } from './debian-tools.js';

const CLI = join(resolve('.'), 'bin', 'hypatia.js');
const MiB = 1 << 20;
let images: GuestImages;
let tmp: string;
let raw: string; // the VHDX the CLI wrote, converted to raw by qemu-img
let tree: string; // its files, dumped by debugfs rdump
let pkgRoot: (name: string) => string;

function cli(...args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 300_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function debugfs(image: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, image], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
}
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function walk(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...walk(dir, r));
    else out.push(r);
  }
  return out;
}

before(async () => {
  ensureDebianTool('debugfs', 'e2fsprogs');
  ensureQemuTools();
  images = await ensureGuestImages();
  pkgRoot = (name) => {
    const p = images.manifest.packages.find((x) => x.name === name)!;
    return join(images.cacheDir, 'root', `${p.name}_${p.version.replace(/:/g, '%3a')}`);
  };
  tmp = mkdtempSync(join(tmpdir(), 'hypatia-rootfs-'));
  writeFileSync(join(tmp, 'hello.sh'), '#!/bin/sh\necho hello\n', { mode: 0o750 });
  const r = cli('guest', 'rootfs', join(tmp, 'root.vhdx'), '--size', '512M', '--add', `${join(tmp, 'hello.sh')}:/opt/check/hello.sh`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${join(tmp, 'root.vhdx')}\n`);
  assert.match(r.stderr, /guest: rootfs: converted to vhdx/);
  raw = join(tmp, 'root.raw');
  execFileSync('qemu-img', ['convert', '-f', 'vhdx', '-O', 'raw', join(tmp, 'root.vhdx'), raw]);
  tree = join(tmp, 'tree');
  mkdirSync(tree);
  debugfs(raw, `rdump / ${tree}`);
}, { timeout: 900_000 });

after(() => { if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true }); });

describe('hypatia guest rootfs: the disk it builds', () => {
  it('is a 512 MiB dynamic VHDX holding a clean ext4 filesystem labelled hypatia-root', () => {
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', join(tmp, 'root.vhdx')], { encoding: 'utf8' })) as { format: string; 'virtual-size': number };
    assert.equal(info.format, 'vhdx');
    assert.equal(info['virtual-size'], 512 * MiB);
    assert.ok(statSync(join(tmp, 'root.vhdx')).size < 200 * MiB, 'dynamic: only what the filesystem wrote is allocated');
    const head = execFileSync('dumpe2fs', ['-h', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.match(head, new RegExp(`^Filesystem volume name:\\s+${ROOTFS_LABEL}$`, 'm'));
    assert.match(head, /^Filesystem features:.*\bhas_journal\b.*\bextent\b/m);
    assert.match(head, /^Filesystem state:\s+clean$/m);
    const fsck = spawnSync('e2fsck', ['-fn', raw], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, `${fsck.stdout}${fsck.stderr}`);
  });

  it('everything on it belongs to root', () => {
    const dirs = ['/', ...walk(tree).map((p) => `/${p}`).map((p) => p.slice(0, p.lastIndexOf('/')) || '/')];
    const listing = execFileSync('debugfs', ['-f', '-', raw], { input: [...new Set(dirs)].map((d) => `ls -l "${d}"`).join('\n'), encoding: 'utf8', stdio: ['pipe', 'pipe', 'ignore'], maxBuffer: 1 << 26 });
    const rows = listing.split('\n').map((l) => /^\s*\d+\s+[0-7]+\s+\(\d+\)\s+(\d+)\s+(\d+)\s/.exec(l)).filter((m) => m !== null);
    assert.ok(rows.length > 1400, `${rows.length} entries listed`);
    assert.deepEqual(rows.filter((m) => m[1] !== '0' || m[2] !== '0').map((m) => m.input), []);
  });

  it('its /sbin/init is the root-stage init; busybox and its applets are there, but no applet shadows the init', () => {
    assert.equal(readFileSync(join(tree, 'sbin/init'), 'utf8'), initScript({ installApplets: false, stage: 'root' }));
    assert.match(debugfs(raw, 'stat /sbin/init'), /Type: regular\s+Mode:\s+0755/);
    assert.equal(sha(readFileSync(join(tree, 'bin/busybox'))), sha(readFileSync(join(pkgRoot('busybox-static'), 'bin/busybox'))));
    assert.match(debugfs(raw, 'stat /sbin/poweroff'), /Fast link dest: "\/bin\/busybox"/);
    assert.match(debugfs(raw, 'stat /bin/sh'), /Fast link dest: "\/bin\/busybox"/);
    assert.match(debugfs(raw, 'stat /sbin/switch_root'), /Fast link dest: "\/bin\/busybox"/);
  });

  it('holds the kernel\'s whole modules tree, byte for byte, and a modules.dep naming every module with its dependencies', () => {
    const release = images.manifest.kernel.release;
    const host = join(pkgRoot(images.manifest.kernel.package), 'lib/modules', release);
    const hostKo = walk(host).filter((p) => p.endsWith('.ko')).sort();
    const diskKo = walk(join(tree, 'lib/modules', release)).filter((p) => p.endsWith('.ko')).sort();
    assert.ok(hostKo.length > 1000, `${hostKo.length} modules in the kernel package`);
    assert.deepEqual(diskKo, hostKo);
    for (const p of [hostKo[0], hostKo[hostKo.length >> 1], 'kernel/fs/fat/vfat.ko']) {
      assert.equal(sha(readFileSync(join(tree, 'lib/modules', release, p))), sha(readFileSync(join(host, p))), p);
    }
    const dep = readFileSync(join(tree, 'lib/modules', release, 'modules.dep'), 'utf8').trim().split('\n');
    assert.equal(dep.length, hostKo.length);
    assert.ok(dep.includes('kernel/fs/fat/vfat.ko: kernel/fs/fat/fat.ko'), 'vfat needs fat');
    assert.ok(dep.some((l) => /^kernel\/drivers\/scsi\/hv_storvsc\.ko: .*kernel\/drivers\/hv\/hv_vmbus\.ko/.test(l)));
    assert.equal(readFileSync(join(tree, 'lib/modules', release, 'modules.builtin'), 'utf8'), readFileSync(join(host, 'modules.builtin'), 'utf8'));
  });

  it('lists the boot modules as the initramfs does, and carries hv_kvp_daemon with its loader and libc, /etc and the --add file', () => {
    const initrd = initramfsTree(readFileSync(images.initrd));
    const list = initrd.get(MODULES_LIST_PATH.slice(1))!;
    assert.equal(readFileSync(join(tree, MODULES_LIST_PATH), 'utf8'), Buffer.from(list.data!).toString('utf8'));
    for (const lib of images.manifest.guestKvpDaemon!.libraries) assert.ok(statSync(join(tree, lib)).size > 0, lib);
    assert.equal(sha(readFileSync(join(tree, KVP_DAEMON_PATH))), sha(readFileSync(join(images.cacheDir, images.manifest.hvKvpDaemon!))));
    assert.match(debugfs(raw, 'stat /lib64/ld-linux-x86-64.so.2'), /Fast link dest: "\/lib\/x86_64-linux-gnu\/ld-linux-x86-64.so.2"/);
    assert.equal(readFileSync(join(tree, 'etc/hostname'), 'utf8'), 'hypatia-guest\n');
    assert.match(readFileSync(join(tree, 'etc/passwd'), 'utf8'), /^root:x:0:0:root:\/root:\/bin\/sh$/m);
    assert.match(readFileSync(join(tree, 'etc/group'), 'utf8'), /^root:x:0:$/m);
    assert.match(readFileSync(join(tree, 'etc/fstab'), 'utf8'), new RegExp(`^LABEL=${ROOTFS_LABEL} / ext4 defaults 0 1$`, 'm'));
    assert.match(debugfs(raw, 'stat /tmp'), /Mode:\s+01777/);
    assert.equal(readFileSync(join(tree, 'opt/check/hello.sh'), 'utf8'), '#!/bin/sh\necho hello\n');
    assert.match(debugfs(raw, 'stat /opt/check/hello.sh'), /Mode:\s+0750/);
  });
});

describe('hypatia guest rootfs: refusals', () => {
  it('an existing output is kept unless --force; --force replaces it (here with a raw image)', () => {
    const out = join(tmp, 'exists.img');
    writeFileSync(out, 'precious');
    const r = cli('guest', 'rootfs', out, '--format', 'raw', '--size', '256M');
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `hypatia guest rootfs: ${out} exists (use --force to replace it)\n`);
    assert.equal(readFileSync(out, 'utf8'), 'precious');
    const f = cli('guest', 'rootfs', out, '--format', 'raw', '--size', '256M', '--force', '--quiet');
    assert.equal(f.status, 0, f.stderr);
    assert.equal(f.stderr, '');
    assert.equal(statSync(out).size, 256 * MiB);
    assert.match(debugfs(out, 'stat /sbin/init'), /Type: regular/);
  });

  it('bad sizes, formats and arguments are usage errors; a size too small for the files says how much is needed', () => {
    const out = join(tmp, 'x.vhdx');
    for (const [args, msg] of [
      [['--size', '5X'], /--size: bad size "5X"/],
      [['--size', '1000K'], /--size: size "1000K" is not a multiple of 1M/],
      [['--format', 'qcow2'], /--format: "qcow2" is not one of vhdx, vhd, raw/],
      [['--add', '/nonexistent/file:/x'], /--add: no such file \/nonexistent\/file/],
      [['--add', `${CLI}:relative/path`], /--add: expected HOST:GUEST with an absolute guest file path/],
      [['--bogus'], /unknown option --bogus for guest rootfs/],
    ] as [string[], RegExp][]) {
      const r = cli('guest', 'rootfs', out, ...args);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, msg);
    }
    const small = cli('guest', 'rootfs', out, '--size', '64M');
    assert.equal(small.status, 1);
    assert.match(small.stderr, /^hypatia guest rootfs: size 64 MiB is too small: the files take [\d.]+ MiB, use at least \d+M$/m);
    assert.deepEqual(readdirSync(tmp).filter((f) => f.startsWith('.x.vhdx') || f === 'x.vhdx'), [], 'nothing left behind');
  });

  it('without fetched guest images it says to run hypatia guest fetch', () => {
    const empty = join(tmp, 'empty-cache');
    mkdirSync(empty);
    const r = cli('guest', 'rootfs', join(tmp, 'y.vhdx'), '--cache', empty);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /hypatia guest rootfs: .*run "hypatia guest fetch"/);
  });

  it('--help describes the command; no arguments print the help and fail', () => {
    const h = cli('guest', 'rootfs', '--help');
    assert.equal(h.status, 0);
    assert.match(h.stdout, /^Usage: hypatia guest rootfs OUT /);
    assert.match(h.stdout, /root=\/dev\/sda/);
    const none = cli('guest', 'rootfs');
    assert.equal(none.status, 2);
    assert.match(none.stderr, /^Usage: hypatia guest rootfs OUT /);
  });
});
