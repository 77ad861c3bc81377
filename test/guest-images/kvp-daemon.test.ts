// hv_kvp_daemon in the guest initramfs, checked with tools that are not ours: binutils' readelf says what the
// daemon and each library need (PT_INTERP, DT_NEEDED), every name must resolve inside the unpacked image (GNU
// cpio) through the glibc loader's directories, and the guest's own loader, run chrooted into the image (or,
// without root, by path with the image's library directory), loads the daemon and prints its --help. Our ELF
// reader is compared with readelf on the same files, and the tree resolver on links like Debian's.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ensureGuestImages, GUEST_LIBRARY_DIRS, KVP_DAEMON_PATH, KVP_POOL_DIR, KVP_SCRIPTS_DIR, readElfDynamic, resolveInTree,
  initScript, type GuestImages,
} from '../../src/guest-images/index.js';
import { ensureDebianTool } from './debian-tools.js';

let images: GuestImages;
let tmp: string;
let root: string; // the initramfs unpacked by GNU cpio

before(async () => {
  ensureDebianTool('cpio', 'cpio');
  ensureDebianTool('readelf', 'binutils');
  images = await ensureGuestImages();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-kvp-'));
  root = path.join(tmp, 'initramfs');
  fs.mkdirSync(root);
  const plain = execFileSync('gunzip', ['-c', images.initrd], { maxBuffer: 1 << 28 });
  execFileSync('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], { cwd: root, input: plain });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

function readelf(args: string[], file: string): string {
  return execFileSync('readelf', ['-W', ...args, file], { encoding: 'utf8' });
}
const neededOf = (file: string) => [...readelf(['-d'], file).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1]);
const interpOf = (file: string) => /Requesting program interpreter: ([^\]]+)\]/.exec(readelf(['-l'], file))?.[1];

/** A guest path inside the unpacked image, symlinks (absolute ones included) resolved against the image. */
function inImage(guestPath: string): string | undefined {
  const hit = resolveInTree(root, guestPath);
  return hit?.hostFile;
}

describe('hv_kvp_daemon in the guest initramfs', () => {
  it('the daemon is the package\'s, with its loader and the DT_NEEDED closure resolvable in the image (per readelf)', () => {
    const pkg = images.manifest.packages.find((p) => p.name === 'hyperv-daemons')!;
    const pkgRoot = path.join(images.cacheDir, 'root', `${pkg.name}_${pkg.version.replace(/:/g, '%3a')}`);
    const daemon = path.join(root, KVP_DAEMON_PATH);
    assert.ok(fs.readFileSync(daemon).equals(fs.readFileSync(path.join(pkgRoot, KVP_DAEMON_PATH))), 'the package\'s binary');
    assert.equal(fs.statSync(daemon).mode & 0o777, 0o755);
    const interp = interpOf(daemon);
    assert.equal(interp, '/lib64/ld-linux-x86-64.so.2');
    const loader = inImage(interp!);
    assert.ok(loader, `${interp} resolves in the image`);
    assert.match(readelf(['-h'], loader!), /Type:\s+DYN/);
    // Breadth-first over DT_NEEDED as the loader does, in its directories (no ld.so.cache in the image).
    const queue = [daemon];
    const found = new Map<string, string>();
    while (queue.length) {
      const file = queue.shift()!;
      for (const name of neededOf(file)) {
        if (found.has(name)) continue;
        const hit = GUEST_LIBRARY_DIRS.map((d) => inImage(`${d}/${name}`)).find((x) => x !== undefined);
        assert.ok(hit, `${name} (needed by ${path.relative(root, file)}) is in ${GUEST_LIBRARY_DIRS.join(' or ')}`);
        assert.match(readelf(['-d'], hit!), new RegExp(`\\(SONAME\\)\\s+Library soname: \\[${name.replace(/\./g, '\\.')}\\]`), `${name} has that soname`);
        found.set(name, hit!);
        queue.push(hit!);
      }
    }
    assert.ok(found.has('libc.so.6'), 'libc.so.6 needed and present');
    const libs = images.manifest.guestKvpDaemon?.libraries ?? [];
    for (const [name, file] of found) assert.ok(libs.includes(`/${path.relative(root, file)}`), `manifest lists ${name}`);
    console.log(`# ${KVP_DAEMON_PATH}: ${[...found.keys()].join(', ')} + ${interp}`);
  });

  it('our ELF reader agrees with readelf on the daemon and its libraries', () => {
    for (const f of [KVP_DAEMON_PATH, '/lib/x86_64-linux-gnu/libc.so.6', '/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2', '/bin/busybox']) {
      const file = inImage(f)!;
      const ours = readElfDynamic(fs.readFileSync(file), f);
      assert.deepEqual(ours.needed, neededOf(file), `${f} NEEDED`);
      assert.equal(ours.interpreter, interpOf(file), `${f} interpreter`);
      const soname = /Library soname: \[([^\]]+)\]/.exec(readelf(['-d'], file))?.[1];
      assert.equal(ours.soname, soname, `${f} soname`);
    }
  });

  it('the guest\'s loader runs the daemon from the image: --help prints its usage', () => {
    const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
    const r = isRoot
      ? spawnSync('chroot', [root, KVP_DAEMON_PATH, '--help'], { encoding: 'utf8' })
      : spawnSync(path.join(root, 'lib/x86_64-linux-gnu/ld-linux-x86-64.so.2'), ['--inhibit-cache', '--library-path', path.join(root, 'lib/x86_64-linux-gnu'), path.join(root, KVP_DAEMON_PATH), '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(`${r.stdout}${r.stderr}`, /-n, --no-daemon/);
    if (isRoot) {
      // What the loader actually mapped, seen from inside the image.
      const list = spawnSync('chroot', [root, '/lib64/ld-linux-x86-64.so.2', '--list', KVP_DAEMON_PATH], { encoding: 'utf8' });
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /libc\.so\.6 => \/lib\/x86_64-linux-gnu\/libc\.so\.6/);
    }
  });

  it('the run-time pieces are there: the pool directory, the helper scripts, /init starting the daemon', () => {
    assert.ok(fs.statSync(path.join(root, KVP_POOL_DIR)).isDirectory());
    for (const s of ['hv_get_dns_info', 'hv_get_dhcp_info']) {
      assert.equal(fs.statSync(path.join(root, KVP_SCRIPTS_DIR, s)).mode & 0o111, 0o111, `${s} executable`);
    }
    const init = fs.readFileSync(path.join(root, 'init'), 'utf8');
    assert.equal(init, initScript({ installApplets: false }));
    assert.ok(init.includes(`elif out=$(${KVP_DAEMON_PATH} 2>&1); then`));
    assert.ok(init.indexOf(KVP_DAEMON_PATH) < init.indexOf('hypatia-init: ready'), 'started before the ready line');
  });
});

describe('resolveInTree', () => {
  it('follows absolute and relative links inside the tree, not out of it', () => {
    const t = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-tree-'));
    try {
      fs.mkdirSync(path.join(t, 'lib/x86_64-linux-gnu'), { recursive: true });
      fs.mkdirSync(path.join(t, 'lib64'));
      fs.writeFileSync(path.join(t, 'lib/x86_64-linux-gnu/ld.so'), 'x');
      fs.symlinkSync('/lib/x86_64-linux-gnu/ld.so', path.join(t, 'lib64/abs'));
      fs.symlinkSync('../lib/x86_64-linux-gnu/ld.so', path.join(t, 'lib64/rel'));
      fs.symlinkSync('/etc/passwd', path.join(t, 'lib64/out')); // exists on the host, not in the tree
      fs.symlinkSync('loop', path.join(t, 'lib64/loop'));
      const abs = resolveInTree(t, '/lib64/abs')!;
      assert.equal(abs.guestFile, '/lib/x86_64-linux-gnu/ld.so');
      assert.deepEqual(abs.links, [['/lib64/abs', '/lib/x86_64-linux-gnu/ld.so']]);
      assert.equal(resolveInTree(t, '/lib64/rel')!.hostFile, path.join(t, 'lib/x86_64-linux-gnu/ld.so'));
      assert.equal(resolveInTree(t, '/lib64/out'), undefined);
      assert.equal(resolveInTree(t, '/lib64/loop'), undefined);
      assert.equal(resolveInTree(t, '/lib64'), undefined, 'a directory is not a file');
    } finally {
      fs.rmSync(t, { recursive: true, force: true });
    }
  });
});
