// The newc cpio writer and reader against GNU cpio (the real tool lists and extracts what we wrote, bit for
// bit; we read what it wrote), and our gzip'd initramfs against gunzip.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  buildInitramfs, cpioName, GuestImageError, initramfsTree, orderEntries, readCpio, readInitramfs, writeCpio,
  type CpioEntry,
} from '../../src/guest-images/index.js';
import { ensureDebianTool } from './debian-tools.js';

const MTIME = 1_700_000_000;

/** A set covering every entry type, permission oddities, and names/sizes hitting each padding remainder. */
function sampleEntries(): CpioEntry[] {
  const random = randomBytes(100_001);
  return [
    { name: 'd', type: 'dir', perm: 0o755, mtime: MTIME },
    { name: 'd/sub', type: 'dir', perm: 0o700, mtime: MTIME + 1 },
    { name: 'sticky', type: 'dir', perm: 0o1777, mtime: MTIME },
    { name: 'setgid', type: 'dir', perm: 0o2755, mtime: MTIME },
    { name: 'empty-dir', type: 'dir', perm: 0o555, mtime: MTIME },
    { name: 'd/empty', type: 'file', perm: 0o644, data: new Uint8Array(0), mtime: MTIME },
    { name: 'd/a', type: 'file', perm: 0o644, data: Buffer.from('x'), mtime: MTIME + 2 },
    { name: 'd/abc', type: 'file', perm: 0o640, data: Buffer.from('abc'), mtime: MTIME },
    { name: 'd/four', type: 'file', perm: 0o600, data: Buffer.from('four'), mtime: MTIME },
    { name: 'd/sub/random.bin', type: 'file', perm: 0o600, data: random, mtime: MTIME },
    { name: 'n', type: 'file', perm: 0o644, data: Buffer.from('1\n'), mtime: MTIME },
    { name: 'nn', type: 'file', perm: 0o644, data: Buffer.from('22\n'), mtime: MTIME },
    { name: 'nnn', type: 'file', perm: 0o644, data: Buffer.from('333\n'), mtime: MTIME },
    { name: 'nnnn', type: 'file', perm: 0o644, data: Buffer.from('4444\n'), mtime: MTIME },
    { name: 'suid', type: 'file', perm: 0o4755, data: Buffer.from('#!/bin/sh\necho hi\n'), mtime: MTIME },
    { name: 'owned', type: 'file', perm: 0o664, data: Buffer.from('mine'), uid: 1000, gid: 100, mtime: MTIME },
    { name: 'ünïcode-näme', type: 'file', perm: 0o644, data: Buffer.from('utf8'), mtime: MTIME },
    { name: 'link-rel', type: 'symlink', perm: 0o777, target: 'd/a', mtime: MTIME },
    { name: 'link-abs', type: 'symlink', perm: 0o777, target: '/bin/busybox', mtime: MTIME },
    { name: 'd/sub/up', type: 'symlink', perm: 0o777, target: '../abc', mtime: MTIME },
    { name: 'null', type: 'char', perm: 0o666, rdevMajor: 1, rdevMinor: 3, mtime: MTIME },
    { name: 'sda', type: 'block', perm: 0o660, rdevMajor: 8, rdevMinor: 0, mtime: MTIME },
    { name: 'fifo', type: 'fifo', perm: 0o644, mtime: MTIME },
  ];
}

/** The ls -l style mode string GNU cpio prints with -tv. */
function modeString(e: CpioEntry): string {
  const t = { file: '-', dir: 'd', symlink: 'l', char: 'c', block: 'b', fifo: 'p', socket: 's' }[e.type];
  const p = e.perm;
  const bit = (m: number, c: string) => (p & m ? c : '-');
  const x = (m: number, special: number, on: string, off: string) => (p & special ? (p & m ? on : off) : bit(m, 'x'));
  return t + bit(0o400, 'r') + bit(0o200, 'w') + x(0o100, 0o4000, 's', 'S') + bit(0o040, 'r') + bit(0o020, 'w')
    + x(0o010, 0o2000, 's', 'S') + bit(0o004, 'r') + bit(0o002, 'w') + x(0o001, 0o1000, 't', 'T');
}

function major(rdev: number): number { return Math.floor(rdev / 256) & 0xfff; }
function minor(rdev: number): number { return (rdev & 0xff) | ((Math.floor(rdev / 4096)) & 0xfff00); }

interface LongRow { mode: string; nlink: number; uid: number; gid: number; size: string; name: string }

/** `cpio -itvn` of an archive: GNU cpio's ls -l style listing, one row per member. */
function cpioLongList(archive: Uint8Array): LongRow[] {
  const out = execFileSync('cpio', ['-i', '-t', '-v', '-n', '--quiet'], { input: archive, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C.UTF-8', TZ: 'UTC' }, maxBuffer: 1 << 26 });
  return out.split('\n').filter((l) => l).map((l) => {
    // mode nlink uid gid size-or-"maj, min" month day time-or-year name
    const m = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+,\s*\d+|\d+)\s+\S+\s+\d+\s+\S+\s(.*)$/.exec(l);
    assert.ok(m, `unparsed cpio -tv line: ${l}`);
    return { mode: m[1], nlink: Number(m[2]), uid: Number(m[3]), gid: Number(m[4]), size: m[5].replace(/\s/g, ''), name: m[6] };
  });
}

let tmp: string;

before(() => {
  ensureDebianTool('cpio', 'cpio');
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-cpio-'));
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('newc writer checked by GNU cpio', () => {
  it('cpio -t lists exactly our names, types, modes, owners, sizes and device numbers', () => {
    const entries = sampleEntries();
    const file = path.join(tmp, 'list.cpio');
    fs.writeFileSync(file, writeCpio(entries));
    const names = execFileSync('cpio', ['-i', '-t', '--quiet', '-F', file], { encoding: 'utf8' }).split('\n').filter((l) => l);
    assert.deepEqual(names, entries.map((e) => e.name));
    const long = cpioLongList(fs.readFileSync(file));
    assert.equal(long.length, entries.length);
    entries.forEach((e, i) => {
      const row = long[i];
      assert.equal(row.mode, modeString(e), `mode of ${e.name}`);
      assert.equal(row.nlink, e.type === 'dir' ? 2 : 1, `nlink of ${e.name}`);
      assert.equal(row.uid, e.uid ?? 0, `uid of ${e.name}`);
      assert.equal(row.gid, e.gid ?? 0, `gid of ${e.name}`);
      if (e.type === 'char' || e.type === 'block') assert.equal(row.size, `${e.rdevMajor},${e.rdevMinor}`, `device of ${e.name}`);
      else assert.equal(row.size, String(e.type === 'symlink' ? Buffer.byteLength(e.target!) : e.data?.length ?? 0), `size of ${e.name}`);
      assert.equal(row.name, e.type === 'symlink' ? `${e.name} -> ${e.target}` : e.name);
    });
  });

  it('cpio -i extracts exactly what we wrote: contents, symlinks, modes, owners, mtimes, devices', () => {
    const entries = sampleEntries();
    const file = path.join(tmp, 'extract.cpio');
    fs.writeFileSync(file, writeCpio(entries));
    const dest = path.join(tmp, 'extract');
    fs.mkdirSync(dest);
    const r = spawnSync('cpio', ['-i', '-d', '-m', '--no-absolute-filenames', '--quiet', '-F', file], { cwd: dest, encoding: 'utf8' });
    assert.equal(r.status, 0, `cpio -i failed: ${r.stderr}`);
    for (const e of entries) {
      const p = path.join(dest, e.name);
      const st = fs.lstatSync(p);
      const type = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isCharacterDevice() ? 'char' : st.isBlockDevice() ? 'block' : st.isFIFO() ? 'fifo' : 'other';
      assert.equal(type, e.type, `type of ${e.name}`);
      if (e.type === 'symlink') {
        assert.equal(fs.readlinkSync(p), e.target);
        continue; // a symlink's own mode and times are not meaningful on Linux
      }
      assert.equal((st.mode & 0o7777).toString(8), e.perm.toString(8), `mode of ${e.name}`);
      assert.equal(st.uid, e.uid ?? 0, `uid of ${e.name}`);
      assert.equal(st.gid, e.gid ?? 0, `gid of ${e.name}`);
      if (e.type === 'file') {
        assert.ok(Buffer.from(e.data!).equals(fs.readFileSync(p)), `contents of ${e.name}`);
        assert.equal(Math.floor(st.mtimeMs / 1000), e.mtime, `mtime of ${e.name}`);
      }
      if (e.type === 'char' || e.type === 'block') assert.deepEqual([major(st.rdev), minor(st.rdev)], [e.rdevMajor, e.rdevMinor], `device of ${e.name}`);
    }
    // Nothing else came out of the archive.
    const found: string[] = [];
    const walk = (rel: string) => {
      for (const n of fs.readdirSync(path.join(dest, rel))) {
        const r2 = rel ? `${rel}/${n}` : n;
        found.push(r2);
        if (fs.lstatSync(path.join(dest, r2)).isDirectory()) walk(r2);
      }
    };
    walk('');
    assert.deepEqual(found.sort(), entries.map((e) => e.name).sort());
  });

  it('is deterministic: the same entries give the same bytes', () => {
    const e = sampleEntries().filter((x) => x.name !== 'd/sub/random.bin');
    assert.ok(writeCpio(e).equals(writeCpio(e)));
  });
});

describe('newc reader checked against GNU cpio -o', () => {
  it('reads an archive cpio -o -H newc made from a real tree (padded to 512-byte blocks)', () => {
    const src = path.join(tmp, 'tree');
    fs.mkdirSync(path.join(src, 'etc', 'deep'), { recursive: true });
    fs.writeFileSync(path.join(src, 'etc', 'hostname'), 'guest\n');
    fs.writeFileSync(path.join(src, 'etc', 'deep', 'blob'), randomBytes(5003));
    fs.writeFileSync(path.join(src, 'empty'), '');
    fs.writeFileSync(path.join(src, 'tool'), '#!/bin/sh\n');
    fs.chmodSync(path.join(src, 'tool'), 0o4751);
    fs.chmodSync(path.join(src, 'etc', 'deep'), 0o710);
    fs.symlinkSync('etc/hostname', path.join(src, 'hn'));
    fs.linkSync(path.join(src, 'etc', 'hostname'), path.join(src, 'hardlink')); // cpio stores the data once
    const list = execFileSync('find', ['.', '-mindepth', '1'], { cwd: src, encoding: 'utf8' });
    const archive = execFileSync('cpio', ['-o', '-H', 'newc', '--quiet'], { cwd: src, input: list, maxBuffer: 1 << 26 });
    assert.equal(archive.length % 512, 0);
    const { members, end } = readCpio(archive);
    assert.ok(end <= archive.length);
    assert.ok(archive.subarray(end).every((b) => b === 0), 'only zero padding follows the trailer');
    const names = list.split('\n').filter((l) => l).map((l) => l.slice(2));
    // (GNU cpio defers hard-linked files to the end, so compare as sets.)
    assert.deepEqual(members.map((m) => m.name.replace(/^\.\//, '')).sort(), names.sort());
    for (const m of members) {
      const p = path.join(src, m.name);
      const st = fs.lstatSync(p);
      assert.equal(m.mode, st.mode, `mode of ${m.name}`);
      assert.equal(m.perm, st.mode & 0o7777);
      assert.equal(m.uid, st.uid);
      assert.equal(m.mtime, Math.floor(st.mtimeMs / 1000));
      if (m.type === 'file') assert.ok(fs.readFileSync(p).equals(Buffer.from(m.data)), `data of ${m.name}`);
      if (m.type === 'symlink') assert.equal(m.target, fs.readlinkSync(p));
      if (m.type === 'dir') assert.ok(st.isDirectory());
    }
    const links = members.filter((m) => m.nlink === 2 && m.type === 'file');
    assert.equal(links.length, 2, 'both names of the hard-linked file');
    assert.equal(links[0].ino, links[1].ino);
    // readInitramfs skips the block padding and reads the same members.
    assert.deepEqual(readInitramfs(archive).map((m) => m.name), members.map((m) => m.name));
  });
});

describe('initramfs images', () => {
  it('gzip output is what gunzip expands to the plain archive', () => {
    const files = [
      { path: '/init', data: '#!/bin/sh\necho hello\n' },
      { path: '/opt/x/y/z.txt', data: 'deep' },
      { path: '/bin/sh', target: 'busybox' },
    ];
    const gz = buildInitramfs({ files });
    const plain = buildInitramfs({ files, compress: false });
    const file = path.join(tmp, 'img.gz');
    fs.writeFileSync(file, gz);
    execFileSync('gzip', ['-t', file]);
    const unzipped = execFileSync('gunzip', ['-c', file], { maxBuffer: 1 << 26 });
    assert.ok(unzipped.equals(plain));
    // And cpio agrees on its contents: parents first, the executable script mode from its #!.
    assert.deepEqual(cpioLongList(unzipped).map((r) => [r.mode, r.name]), [
      ['-rwxr-xr-x', 'init'], ['drwxr-xr-x', 'opt'], ['drwxr-xr-x', 'opt/x'], ['drwxr-xr-x', 'opt/x/y'],
      ['-rw-r--r--', 'opt/x/y/z.txt'], ['drwxr-xr-x', 'bin'], ['lrwxrwxrwx', 'bin/sh -> busybox'],
    ]);
  });

  it('a variant on top of a base replaces same-named files and keeps the rest', () => {
    const base = buildInitramfs({ files: [
      { path: '/init', data: '#!/bin/sh\nold\n' }, { path: '/etc/a', data: 'A' }, { path: '/bin/busybox', data: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 1]) },
    ] });
    const hostFile = path.join(tmp, 'prog');
    fs.writeFileSync(hostFile, 'program');
    fs.chmodSync(hostFile, 0o750);
    const variant = buildInitramfs({ base, files: [
      { path: '/init', data: '#!/bin/sh\nnew\n' }, { path: '/usr/local/bin/prog', source: hostFile },
    ] });
    const tree = initramfsTree(variant);
    assert.equal(Buffer.from(tree.get('init')!.data).toString(), '#!/bin/sh\nnew\n');
    assert.equal(Buffer.from(tree.get('etc/a')!.data).toString(), 'A');
    assert.equal(tree.get('bin/busybox')!.perm, 0o755, 'an ELF defaults to executable');
    assert.equal(tree.get('usr/local/bin/prog')!.perm, 0o750, 'a host file keeps its mode');
    assert.equal(tree.get('usr/local')!.type, 'dir');
    const names = readInitramfs(variant).map((m) => m.name);
    assert.equal(names.filter((n) => n === 'init').length, 1, 'the replaced /init is written once');
    for (const [i, n] of names.entries()) {
      const parent = n.includes('/') ? n.slice(0, n.lastIndexOf('/')) : undefined;
      if (parent) assert.ok(names.indexOf(parent) >= 0 && names.indexOf(parent) < i, `${parent} precedes ${n}`);
    }
  });

  it('reads concatenated segments as the kernel does: plain cpio, zero padding, then gzip members', () => {
    const a = writeCpio([{ name: 'early/a', type: 'file', perm: 0o644, data: Buffer.from('1') }]);
    const b = gzipSync(writeCpio([{ name: 'b', type: 'file', perm: 0o644, data: Buffer.from('2') }]));
    const c = gzipSync(writeCpio([{ name: 'early/a', type: 'file', perm: 0o600, data: Buffer.from('3') }]));
    const image = Buffer.concat([a, Buffer.alloc(512 - (a.length % 512)), b, c]);
    assert.deepEqual(readInitramfs(image).map((m) => [m.name, Buffer.from(m.data).toString()]), [['early/a', '1'], ['b', '2'], ['early/a', '3']]);
    assert.equal(initramfsTree(image).get('early/a')!.perm, 0o600);
  });

  it('orders directories before their contents and rejects a file used as a directory', () => {
    const out = orderEntries([
      { name: 'a/b/c', type: 'file', perm: 0o644 }, { name: 'a', type: 'dir', perm: 0o711 },
    ]);
    assert.deepEqual(out.map((e) => [e.name, e.type, e.perm]), [['a', 'dir', 0o711], ['a/b', 'dir', 0o755], ['a/b/c', 'file', 0o644]]);
    assert.throws(() => orderEntries([{ name: 'x', type: 'file', perm: 0o644 }, { name: 'x/y', type: 'file', perm: 0o644 }]), GuestImageError);
  });
});

describe('hostile input', () => {
  it('rejects unsafe names and impossible entries when writing', () => {
    assert.equal(cpioName('//bin/sh'), 'bin/sh');
    assert.equal(cpioName('./etc/'), 'etc');
    for (const bad of ['../etc', 'a/../b', 'a//b', 'x\0y']) assert.throws(() => cpioName(bad), GuestImageError, bad);
    assert.throws(() => writeCpio([{ name: 'f', type: 'file', perm: 0o10000 }]), GuestImageError);
    assert.throws(() => writeCpio([{ name: 'l', type: 'symlink', perm: 0o777 }]), GuestImageError);
    assert.throws(() => writeCpio([{ name: 'd', type: 'dir', perm: 0o755, data: Buffer.from('x') }]), GuestImageError);
    assert.throws(() => writeCpio([{ name: 'f', type: 'file', perm: 0o644, uid: -1 }]), GuestImageError);
  });

  it('every truncation and corrupted byte of an archive is a GuestImageError, never an out-of-bounds read', () => {
    const archive = writeCpio(sampleEntries().slice(0, 12));
    for (let n = 0; n < archive.length; n += 1 + (n % 97)) {
      assert.throws(() => readCpio(archive.subarray(0, n)), GuestImageError, `truncated at ${n}`);
    }
    for (let i = 0; i < 2000; i++) {
      const copy = Buffer.from(archive);
      const at = Math.floor(Math.random() * Math.min(copy.length, 4096));
      copy[at] = Math.floor(Math.random() * 256);
      try {
        readCpio(copy);
      } catch (e) {
        assert.ok(e instanceof GuestImageError, `byte ${at}: ${(e as Error).message}`);
      }
    }
    assert.throws(() => readInitramfs(Buffer.from([0x1f, 0x8b, 8, 0, 1, 2, 3])), GuestImageError);
    assert.throws(() => readInitramfs(Buffer.from('not an archive at all')), GuestImageError);
  });
});
