// End to end: `npm run guest:fetch` (the CLI) fetches Debian's cloud kernel, busybox-static, hyperv-daemons and libc6
// with apt-get download into the default cache (shared with every other test and run, so the download
// happens once per machine) and builds the initramfs. Its outputs are checked with independent tools: apt-cache
// for the versions, GNU cpio and gunzip for the initramfs, kmod's modinfo for module dependencies, busybox sh
// for the /init syntax, the raw bytes for the bzImage signature.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  aptDownload, buildInitramfs, debFileName, defaultGuestCacheDir, ensureGuestImages, GuestImageError, HYPERV_MODULES, initramfsTree,
  moduleName, MODULES_LIST_PATH, readManifest, READY_MARKER, type GuestManifest,
} from '../../src/guest-images/index.js';
import { REPO_ROOT } from '../support/guest-build.js';
import { ensureDebianTool } from './debian-tools.js';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let cache: string;
let manifest: GuestManifest;
let cli: { status: number; stdout: string; stderr: string; ms: number };
let tmp: string;
let extracted: string; // the initramfs unpacked by GNU cpio

before(() => {
  ensureDebianTool('cpio', 'cpio');
  ensureDebianTool('modinfo', 'kmod');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-fetch-'));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'guest-fetch.mjs')], { encoding: 'utf8', cwd: REPO_ROOT });
  cli = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
  assert.equal(cli.status, 0, `guest fetch failed:\n${cli.stderr}`);
  cache = defaultGuestCacheDir();
  manifest = readManifest(path.join(cache, 'manifest.json'))!;
  assert.ok(manifest, 'manifest.json readable');
  extracted = path.join(tmp, 'initramfs');
  fs.mkdirSync(extracted);
  const plain = execFileSync('gunzip', ['-c', path.join(cache, 'initrd.img')], { maxBuffer: 1 << 28 });
  execFileSync('cpio', ['-i', '-d', '--quiet', '--no-absolute-filenames'], { cwd: extracted, input: plain });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('guest fetch', () => {
  it('prints where the cache is and the paths of its outputs', () => {
    assert.match(cli.stderr, new RegExp(`^guest: cache: ${cache.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'));
    assert.match(cli.stdout, new RegExp(`^kernel: ${path.join(cache, 'vmlinuz')}$`, 'm'));
    assert.match(cli.stdout, new RegExp(`^initrd: ${path.join(cache, 'initrd.img')}$`, 'm'));
    console.log(`# guest fetch took ${cli.ms} ms: ${cli.stderr.trim().split('\n').pop()}`);
  });

  it('picked the newest cloud kernel, busybox-static, hyperv-daemons and libc6 that apt-cache knows', () => {
    const dep = /Depends:\s*(linux-image-\S+-cloud-amd64)\b/.exec(execFileSync('apt-cache', ['depends', 'linux-image-cloud-amd64'], { encoding: 'utf8' }))![1];
    assert.equal(manifest.kernel.package, `${dep}-unsigned`);
    assert.equal(manifest.kernel.release, dep.slice('linux-image-'.length));
    for (const p of manifest.packages) {
      const policy = execFileSync('apt-cache', ['policy', p.name], { encoding: 'utf8' });
      assert.equal(p.version, /Candidate:\s*(\S+)/.exec(policy)![1], `${p.name} version`);
      const deb = path.join(cache, p.deb);
      assert.equal(sha256(fs.readFileSync(deb)), p.sha256, `${p.deb} hash`);
      assert.equal(execFileSync('dpkg-deb', ['-f', deb, 'Package'], { encoding: 'utf8' }).trim(), p.name);
    }
    assert.deepEqual(manifest.packages.map((p) => p.name).sort(), ['busybox-static', 'hyperv-daemons', 'libc6', manifest.kernel.package].sort());
    assert.ok(manifest.hvKvpDaemon && fs.existsSync(path.join(cache, manifest.hvKvpDaemon)), 'hv_kvp_daemon unpacked');
  });

  it('vmlinuz is a bzImage ("HdrS" at 0x202) of the release whose modules are in the initramfs', () => {
    const k = fs.readFileSync(path.join(cache, 'vmlinuz'));
    assert.equal(k.toString('latin1', 0x202, 0x206), 'HdrS');
    assert.equal(k.readUInt16LE(0x1fe), 0xaa55);
    assert.ok(k.readUInt16LE(0x206) >= 0x20c, 'boot protocol 2.12 or later (64-bit entry)');
    assert.ok(manifest.kernel.bzImageVersion.startsWith(`${manifest.kernel.release} `));
    assert.equal(sha256(k), manifest.files.vmlinuz.sha256);
    assert.equal(sha256(fs.readFileSync(path.join(cache, 'initrd.img'))), manifest.files['initrd.img'].sha256);
    assert.ok(fs.statSync(path.join(extracted, 'lib', 'modules', manifest.kernel.release)).isDirectory());
  });

  it('the initramfs holds busybox and its applet links, /init and /dev/console (per GNU cpio)', () => {
    const bbPkg = manifest.packages.find((p) => p.name === 'busybox-static')!;
    const pkgRoot = path.join(cache, 'root', `${bbPkg.name}_${bbPkg.version.replace(/:/g, '%3a')}`);
    const busybox = fs.readFileSync(path.join(extracted, 'bin', 'busybox'));
    assert.ok(busybox.equals(fs.readFileSync(path.join(pkgRoot, 'bin', 'busybox'))), 'the package\'s busybox');
    assert.equal(fs.statSync(path.join(extracted, 'bin', 'busybox')).mode & 0o777, 0o755);
    const applets = execFileSync(path.join(extracted, 'bin', 'busybox'), ['--list-full'], { encoding: 'utf8' }).split('\n').filter((l) => l && l !== 'bin/busybox');
    assert.equal(manifest.busybox.appletLinks, applets.length);
    for (const a of applets) assert.equal(fs.readlinkSync(path.join(extracted, a)), '/bin/busybox', a);
    for (const a of ['bin/sh', 'sbin/insmod', 'bin/mount', 'usr/bin/setsid', 'bin/cttyhack', 'usr/bin/tr']) assert.ok(applets.includes(a), a);
    const init = path.join(extracted, 'init');
    assert.equal(fs.statSync(init).mode & 0o777, 0o755);
    const text = fs.readFileSync(init, 'utf8');
    assert.ok(text.startsWith('#!/bin/busybox sh\n'));
    assert.ok(text.includes(`echo "${READY_MARKER}"`));
    assert.ok(text.includes('setsid cttyhack sh'));
    const sh = spawnSync(path.join(extracted, 'bin', 'busybox'), ['sh', '-n', init], { encoding: 'utf8' });
    assert.equal(sh.status, 0, `busybox sh -n /init: ${sh.stderr}`);
    const consoleDev = fs.lstatSync(path.join(extracted, 'dev', 'console'));
    assert.ok(consoleDev.isCharacterDevice());
    assert.equal(consoleDev.rdev, (5 << 8) | 1);
    // Our reader sees exactly what cpio extracted.
    const tree = initramfsTree(fs.readFileSync(path.join(cache, 'initrd.img')));
    const listed = execFileSync('sh', ['-c', `gunzip -c '${path.join(cache, 'initrd.img')}' | cpio -i -t --quiet`], { encoding: 'utf8', maxBuffer: 1 << 26 }).split('\n').filter((l) => l);
    assert.deepEqual([...tree.keys()].sort(), listed.sort());
  });

  it('every Hyper-V module and each dependency modinfo names is there, listed after what it needs', () => {
    const release = manifest.kernel.release;
    const list = fs.readFileSync(path.join(extracted, MODULES_LIST_PATH), 'utf8').split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(' '));
    const order = list.map(([name]) => name);
    assert.deepEqual(order, manifest.modules.map((m) => m.name));
    for (const w of HYPERV_MODULES) assert.ok(order.includes(moduleName(w)) || manifest.builtinModules.includes(moduleName(w)), `${w} included`);
    const kernelPkg = manifest.packages.find((p) => p.name === manifest.kernel.package)!;
    const pkgModules = path.join(cache, 'root', `${kernelPkg.name}_${kernelPkg.version.replace(/:/g, '%3a')}`, 'lib', 'modules', release);
    for (const [pos, [name, file, deps]] of list.entries()) {
      assert.ok(file.startsWith(`/lib/modules/${release}/kernel/`) && file.endsWith('.ko'), file);
      const inImage = path.join(extracted, file);
      const m = manifest.modules.find((x) => x.name === name)!;
      assert.ok(fs.readFileSync(inImage).equals(fs.readFileSync(path.join(pkgModules, m.path))), `${name} is the package's module`);
      const modinfo = execFileSync('modinfo', ['-F', 'depends', inImage], { encoding: 'utf8' }).trim();
      const needs = modinfo ? modinfo.split(',').map(moduleName) : [];
      assert.deepEqual((deps ?? '').split(',').filter((d) => d), needs.filter((d) => !manifest.builtinModules.includes(d)), `${name} deps`);
      for (const d of needs) {
        if (manifest.builtinModules.includes(d)) continue;
        const at = order.indexOf(d);
        assert.ok(at >= 0 && at < pos, `${d} (needed by ${name}) is loaded before it`);
      }
      assert.equal(execFileSync('modinfo', ['-F', 'vermagic', inImage], { encoding: 'utf8' }).split(' ')[0], release);
    }
  });

  it('apt-get download really fetches the package the cache holds', async () => {
    const bb = manifest.packages.find((p) => p.name === 'busybox-static')!;
    const dir = path.join(tmp, 'dl');
    fs.mkdirSync(dir);
    const file = await aptDownload(bb.name, bb.version, dir);
    assert.equal(path.basename(file), debFileName(bb.name, bb.version));
    assert.equal(sha256(fs.readFileSync(file)), bb.sha256);
    await assert.rejects(aptDownload('hypatia-no-such-package', '1.0', dir), (e: unknown) => e instanceof GuestImageError && e.code === 'no-package' && !e.message.includes('\n'));
  });

  it('a re-run finds everything up to date, fast', async () => {
    const lines: string[] = [];
    const t0 = Date.now();
    const r = await ensureGuestImages({ log: (l) => lines.push(l) });
    const ms = Date.now() - t0;
    assert.equal(r.upToDate, true, lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith('up to date: ')), lines.join('\n'));
    assert.ok(ms < 10_000, `re-run took ${ms} ms`);
    console.log(`# up-to-date re-run: ${ms} ms`);
    // The CLI's --json form says the same, with nothing but the JSON on stdout.
    const j = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'guest-fetch.mjs'), '--json', '--quiet'], { encoding: 'utf8' });
    assert.equal(j.status, 0, j.stderr);
    assert.equal(j.stderr, '');
    const parsed = JSON.parse(j.stdout) as { kernel: string; initrd: string; upToDate: boolean; manifest: GuestManifest };
    assert.deepEqual([parsed.kernel, parsed.initrd, parsed.upToDate], [r.kernel, r.initrd, true]);
    assert.deepEqual(parsed.manifest.files, manifest.files);
  });

  it('package lists older than allowed are refreshed with apt-get update first', async () => {
    const lines: string[] = [];
    const r = await ensureGuestImages({ listsMaxAgeMs: 0, log: (l) => lines.push(l) });
    assert.ok(lines.includes('apt: package lists stale, running apt-get update'), lines.join('\n'));
    assert.ok(!lines.some((l) => l.includes('update failed')), lines.join('\n'));
    assert.ok(Date.now() - fs.statSync(path.join(cache, 'apt-updated')).mtimeMs < 60_000, 'the refresh is recorded');
    assert.equal(r.manifest.kernel.release, manifest.kernel.release);
    const again: string[] = [];
    await ensureGuestImages({ listsMaxAgeMs: 60_000, log: (l) => again.push(l) });
    assert.ok(!again.some((l) => l.startsWith('apt:')), `just refreshed, so no update: ${again.join('\n')}`);
  });

  it('a build from the cached .debs in another directory logs each step and gives byte-identical images', async () => {
    const other = path.join(tmp, 'cache2');
    fs.mkdirSync(path.join(other, 'debs'), { recursive: true });
    // The other .debs shared with the default cache; busybox-static a truncated copy, which must be fetched again.
    const bb = manifest.packages.find((p) => p.name === 'busybox-static')!;
    for (const p of manifest.packages) {
      if (p === bb) fs.writeFileSync(path.join(other, p.deb), fs.readFileSync(path.join(cache, p.deb)).subarray(0, 300_000));
      else fs.linkSync(path.join(cache, p.deb), path.join(other, p.deb));
    }
    const lines: string[] = [];
    const r = await ensureGuestImages({ cacheDir: other, log: (l) => lines.push(l) });
    assert.equal(r.upToDate, false);
    assert.ok(lines.includes('download: busybox-static: the cached .deb does not match the package lists, fetching it again'), lines.join('\n'));
    assert.ok(lines.some((l) => l.startsWith(`download: busybox-static ${bb.version} (`)), lines.join('\n'));
    assert.equal(sha256(fs.readFileSync(path.join(other, bb.deb))), bb.sha256);
    for (const p of manifest.packages) {
      if (p === bb) continue;
      assert.ok(lines.includes(`download: ${p.name} ${p.version}: cached`), `download line for ${p.name}:\n${lines.join('\n')}`);
      assert.ok(lines.some((l) => l.startsWith(`extract: ${p.name} ${p.version} (`)), `extract line for ${p.name}`);
    }
    assert.ok(lines.some((l) => /^build: initrd\.img: \d+ modules/.test(l)), lines.join('\n'));
    assert.ok(fs.readFileSync(r.initrd).equals(fs.readFileSync(path.join(cache, 'initrd.img'))), 'same initramfs bytes');
    assert.ok(fs.readFileSync(r.kernel).equals(fs.readFileSync(path.join(cache, 'vmlinuz'))), 'same kernel');
    // Offline use of a complete cache needs no apt at all.
    const saved = process.env.PATH;
    process.env.PATH = path.join(tmp, 'no-such-dir');
    try {
      const off = await ensureGuestImages({ cacheDir: other, offline: true });
      assert.equal(off.manifest.files['initrd.img'].sha256, manifest.files['initrd.img'].sha256);
    } finally {
      process.env.PATH = saved;
    }
  });

  it('a variant initramfs adds a static program to the standard one', () => {
    const src = path.join(tmp, 'hello.c');
    fs.writeFileSync(src, '#include <stdio.h>\nint main(void) { puts("hello from the guest"); return 0; }\n');
    const exe = path.join(tmp, 'hello');
    execFileSync('cc', ['-static', '-O1', '-o', exe, src]);
    const variant = buildInitramfs({ base: path.join(cache, 'initrd.img'), files: [{ path: '/usr/local/bin/hello', source: exe }] });
    const base = initramfsTree(fs.readFileSync(path.join(cache, 'initrd.img')));
    const tree = initramfsTree(variant);
    assert.equal(tree.size, base.size + 3, 'hello plus usr/local and usr/local/bin');
    assert.ok(Buffer.from(tree.get('usr/local/bin/hello')!.data).equals(fs.readFileSync(exe)));
    assert.equal(tree.get('usr/local/bin/hello')!.perm, 0o755);
    for (const [name, m] of base) assert.ok(Buffer.from(tree.get(name)!.data).equals(Buffer.from(m.data)), name);
  });

  it('fails with one clear line: offline without a cache, no apt on PATH', async () => {
    const empty = path.join(tmp, 'empty-cache');
    await assert.rejects(ensureGuestImages({ cacheDir: empty, offline: true }), (e: unknown) => e instanceof GuestImageError && e.code === 'offline');
    const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'guest-fetch.mjs'), '--cache', empty], {
      encoding: 'utf8', env: { ...process.env, PATH: path.join(tmp, 'no-such-dir') },
    });
    assert.equal(r.status, 1);
    assert.equal(r.stderr.split('\n').filter((l) => l && !l.startsWith('guest: ')).length, 1, r.stderr);
    assert.match(r.stderr, /^hypatia guest fetch: apt-config not found: fetching the guest needs Debian's apt-get, apt-cache and dpkg-deb/m);
  });

  it('a cache path that cannot be a directory fails at once with one clear line (no endless mkdir under /proc)', () => {
    // Node 20's recursive mkdirSync never returns for /proc/<missing> (ENOENT under an existing parent): run
    // in a child with a deadline so a regression fails rather than hangs the suite.
    const file = path.join(tmp, 'a-file');
    fs.writeFileSync(file, 'not a directory');
    for (const [cache, why] of [['/proc/hypatia-no-such-cache', 'ENOENT'], [path.join(file, 'cache'), 'ENOTDIR'], [file, 'not a directory']]) {
      const r = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'guest-fetch.mjs'), '--cache', cache], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(r.error, undefined, `${cache}: ${r.error?.message}`);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`^hypatia guest fetch: cannot create the cache directory ${cache}: .*${why}`, 'm'));
    }
  });

  it('refuses to start on a file system without room for the packages', async () => {
    const small = path.join(tmp, 'small');
    fs.mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4M', 'tmpfs', small]);
    try {
      await assert.rejects(ensureGuestImages({ cacheDir: small }),
        (e: unknown) => e instanceof GuestImageError && e.code === 'no-space' && /^no space left on device: .* has [\d.]+ MiB free, fetching the guest needs 256\.0 MiB$/.test(e.message));
      assert.deepEqual(fs.readdirSync(small), [], 'nothing left behind');
    } finally {
      execFileSync('umount', [small]);
    }
  });
});
