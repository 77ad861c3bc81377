// The initramfs /init's root= handling (root-mount-script.ts) run by the guest's own busybox sh on the host,
// with the commands that touch the machine (mount, findfs, sleep, the block-device test) replaced by shell
// functions that record what they were asked: the kernel parameters are parsed as the kernel documents
// them, the wait is bounded and logged, and every failure returns to /init (which keeps its own shell)
// instead of ending PID 1. The successful switch_root is proven by test/linux/root-disk.test.ts.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { ensureGuestImages, rootMountScript, ROOT_WAIT_DEFAULT_S, NEW_ROOT_DIR } from '../../src/guest-images/index.js';

let busybox: string;
let tmp: string;
let runs = 0;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hypatia-root-mount-'));
  const images = await ensureGuestImages();
  const bb = images.manifest.packages.find((p) => p.name === 'busybox-static')!;
  busybox = join(images.cacheDir, 'root', `${bb.name}_${bb.version.replace(/:/g, '%3a')}`, 'bin', 'busybox');
});

after(() => { if (tmp !== undefined) rmSync(tmp, { recursive: true, force: true }); });

interface Stubs {
  blockDevices?: string[];
  findfs?: Record<string, string>;
  /** findfs answers only from its n-th call on (a disk that shows up late). */
  findfsFrom?: number;
  mountSucceeds?: boolean;
  /** With mountSucceeds: a mount whose arguments contain this fails all the same. */
  failMount?: string;
  /** The mount point (default the initramfs's /newroot): a host directory standing in for the mounted root. */
  newroot?: string;
}

/** Runs root_from_cmdline with /proc/cmdline = `cmdline`; returns its status and the lines it and the stubs printed. */
function run(cmdline: string, s: Stubs = {}): { status: number; lines: string[]; slept: number } {
  const script = `${rootMountScript()}
exec 3>&1
log() { echo "LOG $*"; }
cat() { echo "$CMDLINE"; }
slept=0
sleep() { slept=$((slept + 1)); echo "SLEEP $1"; }
root_is_block() { case " ${(s.blockDevices ?? []).join(' ')} " in *" $1 "*) return 0 ;; esac; return 1; }
# findfs runs in a command substitution (a subshell): count its calls in a file.
: > "$LOOKUPS"
findfs() { echo >> "$LOOKUPS"; [ "$(wc -l < "$LOOKUPS")" -ge ${s.findfsFrom ?? 1} ] || return 1; case "$1" in ${Object.entries(s.findfs ?? {}).map(([k, v]) => `'${k}') echo ${v}; return 0 ;;`).join(' ')} esac; return 1; }
mount() { echo "MOUNT $*" >&3; ${s.mountSucceeds ? `case "$*" in *'${s.failMount ?? '\n'}'*) return 1 ;; esac; return 0` : 'return 1'}; }
root_exec_init() { echo "EXEC switch_root $newroot $1"; }
${s.newroot ? `newroot='${s.newroot}'` : ''}
umount() { echo "UMOUNT $*"; }
mkdir() { :; }
grep() { echo "/dev/stub ${NEW_ROOT_DIR} ext4 rw,relatime 0 0"; }
ls() { echo sda; }
root_from_cmdline
status=$?
echo "STATUS $status SLEPT $slept"
`;
  const lookups = join(tmp, `lookups-${++runs}`);
  const r = spawnSync(busybox, ['sh', '-c', script], { encoding: 'utf8', env: { CMDLINE: cmdline, LOOKUPS: lookups, PATH: '/nonexistent' }, timeout: 20_000 });
  assert.equal(r.error, undefined);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const last = /^STATUS (\d+) SLEPT (\d+)$/.exec(lines.pop() ?? '');
  assert.ok(last, `the function returned (stdout ${r.stdout}, stderr ${r.stderr})`);
  return { status: Number(last[1]), lines, slept: Number(last[2]) };
}

describe('initramfs /init: root= handling', () => {
  it('without root= it does nothing and returns 0 (the initramfs boot as before)', () => {
    const r = run('console=ttyS0 quiet hypatia.run=/bin/true rootfstype=ext4 ro');
    assert.deepEqual(r, { status: 0, lines: [], slept: 0 });
  });

  it('a device that never appears: waits the default bound in 1/4 s steps, logging, then gives up and returns', () => {
    const r = run('console=ttyS0 root=/dev/sdz');
    assert.equal(r.status, 1);
    assert.equal(r.slept, ROOT_WAIT_DEFAULT_S * 4);
    assert.equal(r.lines[0], `LOG root: waiting for /dev/sdz (at most ${ROOT_WAIT_DEFAULT_S} s)`);
    assert.ok(r.lines.includes('LOG root: still waiting for /dev/sdz (10 s)'), r.lines.join('\n'));
    assert.equal(r.lines.at(-1), `LOG root: /dev/sdz did not appear within ${ROOT_WAIT_DEFAULT_S} s (block devices: sda )`);
    assert.ok(!r.lines.some((l) => l.startsWith('MOUNT')), 'nothing mounted');
  });

  it('rootwait=N bounds the wait at N s; rootdelay=N sleeps N s first', () => {
    const r = run('root=/dev/sdz rootwait=2 rootdelay=3');
    assert.equal(r.status, 1);
    assert.equal(r.lines[0], 'LOG root: rootdelay=3: waiting 3 s');
    assert.equal(r.lines[1], 'SLEEP 3');
    assert.equal(r.lines[2], 'LOG root: waiting for /dev/sdz (at most 2 s)');
    assert.equal(r.slept, 1 + 2 * 4);
    assert.match(r.lines.at(-1)!, /did not appear within 2 s/);
  });

  it('bad numbers are logged and ignored; unsupported root= forms are refused with a reason', () => {
    const bad = run('root=/dev/sdz rootwait=soon rootdelay=x1');
    assert.ok(bad.lines.includes('LOG root: rootwait=soon is not a number of seconds, ignored'));
    assert.ok(bad.lines.includes('LOG root: rootdelay=x1 is not a number of seconds, ignored'));
    assert.match(bad.lines.at(-1)!, new RegExp(`within ${ROOT_WAIT_DEFAULT_S} s`));
    const r = run('root=PARTUUID=0123-01');
    assert.equal(r.status, 1);
    assert.deepEqual(r.lines, ['LOG root: root=PARTUUID=0123-01 is not supported (use /dev/NAME, UUID=... or LABEL=...)']);
  });

  it('LABEL= goes through findfs; rootfstype= is a list tried in turn with ro and rootflags=; all failing returns', () => {
    const r = run('root=LABEL=hypatia-root rootfstype=ext4,ext2 rootflags=noatime,data=journal ro', {
      blockDevices: ['/dev/sdb'], findfs: { 'LABEL=hypatia-root': '/dev/sdb' },
    });
    assert.equal(r.status, 1);
    assert.deepEqual(r.lines.slice(1), [
      'LOG root: LABEL=hypatia-root is /dev/sdb (after 0.0 s)',
      `MOUNT -t ext4 -o ro,noatime,data=journal /dev/sdb ${NEW_ROOT_DIR}`,
      'LOG root: mount /dev/sdb (ext4, ro,noatime,data=journal) failed: ',
      `MOUNT -t ext2 -o ro,noatime,data=journal /dev/sdb ${NEW_ROOT_DIR}`,
      'LOG root: mount /dev/sdb (ext2, ro,noatime,data=journal) failed: ',
    ]);
  });

  it('a device that appears late is used (findfs asked again each step); without rootfstype mount detects the type, rw by default', () => {
    const uuid = 'UUID=1b4e28ba-2fa1-11d2-883f-0016d3cca427';
    const r = run(`root=${uuid}`, { blockDevices: ['/dev/sdc'], findfs: { [uuid]: '/dev/sdc' }, findfsFrom: 7, mountSucceeds: true });
    assert.equal(r.slept, 6, 'six 1/4 s steps before the seventh look found it');
    // Mounted, but the host has no /newroot/sbin/init: refused, unmounted, returned.
    assert.deepEqual(r.lines.filter((l) => !l.startsWith('SLEEP')), [
      `LOG root: waiting for ${uuid} (at most ${ROOT_WAIT_DEFAULT_S} s)`,
      `LOG root: ${uuid} is /dev/sdc (after 1.50 s)`,
      `MOUNT -o rw /dev/sdc ${NEW_ROOT_DIR}`,
      'LOG root: mounted /dev/stub ext4 rw,relatime',
      'LOG root: /dev/sdc has no executable /sbin/init (init=)',
      `UMOUNT ${NEW_ROOT_DIR}`,
    ]);
    assert.equal(r.status, 1);
  });

  it('init= names the program to check for and run; rootwait alone waits without a bound (logged as such)', () => {
    const r = run('root=/dev/sda init=/bin/my-init rootwait', { blockDevices: ['/dev/sda'], mountSucceeds: true });
    assert.equal(r.lines[0], 'LOG root: waiting for /dev/sda (rootwait: no limit)');
    assert.ok(r.lines.includes('LOG root: /dev/sda has no executable /bin/my-init (init=)'), r.lines.join('\n'));
  });

  /** A directory laid out like a root filesystem: /bin/busybox, /sbin/init -> /bin/busybox, dev proc sys. */
  function fakeRoot(name: string, omit?: string): string {
    const r = join(tmp, name);
    for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys']) if (d !== omit) mkdirSync(join(r, d), { recursive: true });
    writeFileSync(join(r, 'bin/busybox'), '\x7fELF', { mode: 0o755 });
    symlinkSync('/bin/busybox', join(r, 'sbin/init')); // absolute: it means the new root's /bin/busybox
    return r;
  }

  it('a mounted root with a runnable init: /dev, /proc and /sys are moved into it, then switch_root runs its init', () => {
    const r = fakeRoot('good');
    const out = run('root=/dev/sda', { blockDevices: ['/dev/sda'], mountSucceeds: true, newroot: r });
    assert.deepEqual(out.lines.slice(2), [
      `MOUNT -o rw /dev/sda ${r}`,
      'LOG root: mounted /dev/stub ext4 rw,relatime',
      `MOUNT -o move /dev ${r}/dev`,
      `MOUNT -o move /proc ${r}/proc`,
      `MOUNT -o move /sys ${r}/sys`,
      'LOG root: switching to /dev/sda, running /sbin/init',
      `EXEC switch_root ${r} /sbin/init`,
    ]);
  });

  it('a move that fails puts back what was moved, unmounts and returns', () => {
    const r = fakeRoot('move-fails');
    const out = run('root=/dev/sda', { blockDevices: ['/dev/sda'], mountSucceeds: true, failMount: 'move /sys', newroot: r });
    assert.equal(out.status, 1);
    assert.deepEqual(out.lines.slice(4), [
      `MOUNT -o move /dev ${r}/dev`,
      `MOUNT -o move /proc ${r}/proc`,
      `MOUNT -o move /sys ${r}/sys`,
      'LOG root: cannot move /sys into the new root: ',
      `MOUNT -o move ${r}/proc /proc`,
      `MOUNT -o move ${r}/dev /dev`,
      `UMOUNT ${r}`,
    ]);
  });

  it('refuses a root without a /proc to move into, and an init script whose interpreter the root lacks', () => {
    const noProc = fakeRoot('no-proc', 'proc');
    const a = run('root=/dev/sda', { blockDevices: ['/dev/sda'], mountSucceeds: true, newroot: noProc });
    assert.equal(a.status, 1);
    assert.deepEqual(a.lines.slice(-2), ['LOG root: /dev/sda has no /proc directory to move /proc to', `UMOUNT ${noProc}`]);
    const r = fakeRoot('bash-init');
    writeFileSync(join(r, 'sbin/my-init'), '#!/bin/bash -e\necho hi\n', { mode: 0o755 });
    const b = run('root=/dev/sda init=/sbin/my-init', { blockDevices: ['/dev/sda'], mountSucceeds: true, newroot: r });
    assert.equal(b.status, 1);
    assert.deepEqual(b.lines.slice(-2), ['LOG root: /sbin/my-init on /dev/sda is a script for /bin/bash, which /dev/sda does not have', `UMOUNT ${r}`]);
    assert.ok(!b.lines.some((l) => l.startsWith('EXEC') || l.includes('move')), 'nothing moved, no switch');
    writeFileSync(join(r, 'sbin/sh-init'), '#!/bin/busybox sh\necho hi\n', { mode: 0o755 });
    const c = run('root=/dev/sda init=/sbin/sh-init', { blockDevices: ['/dev/sda'], mountSucceeds: true, newroot: r });
    assert.equal(c.lines.at(-1), `EXEC switch_root ${r} /sbin/sh-init`, 'a script for an interpreter the root has is run');
  });
});
