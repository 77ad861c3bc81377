// Disks on the synthetic SCSI controller, proven by Debian 12's own hv_storvsc and sd drivers: `hypatia run
// --disk` attaches a dynamic VHDX (LUN 0), a VHDX with 4 KiB logical sectors (LUN 1), a raw image
// read-only (LUN 2) and a dynamic VHD (LUN 3). In the guest: each disk has its size, sector size, read-only flag, write-back cache and
// discard support as sd read them from our INQUIRY/VPD/READ CAPACITY/MODE SENSE answers; a static program
// writes patterns with O_DIRECT and fsync, reads the host's pattern from the read-only disk, discards a range,
// and sends a raw WRITE(10) through SG_IO to the read-only disk, which must fail with DATA PROTECT sense.
// After power-off the host reads the same bytes with qemu-img convert (an independent VHDX/VHD reader; it does
// not open VHDX with 4 KiB logical sectors, so that one is read back through src/storage) and sees the
// discarded range freed in the VHDX; a second boot reads the data back, writes more with fsync and is killed
// (SIGKILL): what it fsynced is in the image all the same. Two boots in all.
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { buildInitramfs, ensureGuestImages, READY_MARKER, type GuestImages } from '../../src/guest-images/index.js';
import { openDisk } from '../../src/storage/index.js';
import { ensureQemuTools } from '../storage/qemu-tools.js';
import { GuestConsole } from './guest-console.js';
import { bootGuard } from './boot-guard.js';

const ROOT = resolve('.');
const CLI = join(ROOT, 'bin', 'hypatia.js');
const SOURCE = join(ROOT, 'test', 'linux', 'disk-check.c');
/** The machine is shared: a boot that takes 45 s alone can take minutes under load. */
const BOOT_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 120_000;
const MiB = 1 << 20;

/** The pattern disk-check.c writes: word w (4 bytes, little-endian) of the disk is pattern32(seed, w). */
function pattern32(seed: number, word: number): number {
  let x = (Math.imul(word >>> 0, 2654435761 | 0) + seed) >>> 0;
  x = (x ^ (Math.floor(word / 2 ** 32) >>> 0)) >>> 0;
  x ^= x >>> 15;
  x = Math.imul(x, 0x2c1b3c6d) >>> 0;
  x ^= x >>> 12;
  x = Math.imul(x, 0x297a2d39) >>> 0;
  x ^= x >>> 15;
  return x >>> 0;
}
function pattern(seed: number, offset: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i += 4) b.writeUInt32LE(pattern32(seed, (offset + i) / 4), i);
  return b;
}

function aptInstall(pkg: string): void {
  execFileSync('sh', ['-c', `apt-get update && apt-get install -y --no-install-recommends ${pkg}`], {
    stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
}
function ensureStaticToolchain(): void {
  if (spawnSync('sh', ['-c', 'command -v cc']).status !== 0) aptInstall('gcc libc6-dev');
  const libc = spawnSync('cc', ['-print-file-name=libc.a'], { encoding: 'utf8' }).stdout.trim();
  if (!isAbsolute(libc)) aptInstall('libc6-dev');
}

function hypatia(...args: string[]): void {
  execFileSync(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
}

let tmp: string;
let images: GuestImages;
let initrd: string;
let guest: GuestConsole | null = null;
const A = (): string => join(tmp, 'a.vhdx');
const B = (): string => join(tmp, 'b.vhdx');
const C = (): string => join(tmp, 'c.img');
const D = (): string => join(tmp, 'd.vhd');
/** What the first boot writes: [disk (/dev/lN, see LUNS_SCRIPT), seed, offset, length]. */
const WRITES: [string, number, number, number][] = [
  ['l0', 7, 1 * MiB, 4 * MiB],
  ['l0', 8, 63 * MiB, 1 * MiB], // the disk's last MiB
  ['l1', 11, 0, 2 * MiB],
  ['l3', 13, 20 * MiB, 4 * MiB], // the VHD's last 4 MiB: two 2 MiB blocks
];
const RO_SEED = 99;
/**
 * Linux names sd disks in the order their (asynchronous) probes run, which is usually LUN order and not always
 * (seen under load: LUN 1 became sda). The guest finds each LUN's disk through sysfs (H:C:T:L) and links it as
 * /dev/lN, with its sysfs directory as /b/lN (console lines are short).
 */
const LUNS_SCRIPT = `#!/bin/sh
mkdir -p /b
for d in /sys/bus/scsi/devices/*:0:0:*; do
  [ -d "$d/block" ] || continue
  n=$(ls "$d/block"); l=\${d##*:}
  ln -sf /dev/$n /dev/l$l; ln -sf /sys/block/$n /b/l$l
  echo "lun $l: $n"
done
`;

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'hypatia-storvsc-'));
  ensureStaticToolchain();
  ensureQemuTools();
  const exe = join(tmp, 'disk-check');
  execFileSync('cc', ['-O2', '-static', '-o', exe, SOURCE], { stdio: ['ignore', 'ignore', 'inherit'] });
  images = await ensureGuestImages();
  initrd = join(tmp, 'initrd-disk.img');
  writeFileSync(initrd, buildInitramfs({ base: images.initrd, files: [{ path: '/dc', source: exe }, { path: '/luns', data: LUNS_SCRIPT, mode: 0o755 }] }));
  hypatia('vhd', 'create', '--size', '64M', '--block-size', '1M', A());
  hypatia('vhd', 'create', '--size', '40M', '--logical-sector-size', '4096', B());
  writeFileSync(C(), pattern(RO_SEED, 0, 8 * MiB));
  hypatia('vhd', 'create', '--size', '24M', D());
}, { timeout: 900_000 });

const booted = bootGuard(() => ({ guest, tmp }));

async function boot(disks: string[], extra: string[] = []): Promise<GuestConsole> {
  const args = ['run', '--kernel', images.kernel, '--initrd', initrd, '--append', 'console=ttyS0', ...extra];
  for (const d of disks) args.push('--disk', d);
  const g = new GuestConsole(CLI, args);
  guest = g;
  const ready = await g.waitFor(new RegExp(`^${READY_MARKER}\\r?$`, 'm'), 'the ready marker', BOOT_TIMEOUT_MS);
  await g.waitPrompt(COMMAND_TIMEOUT_MS, ready.index);
  return g;
}

async function sh(line: string): Promise<string> {
  const r = await booted().run(line, COMMAND_TIMEOUT_MS);
  assert.equal(r.status, 0, `${line}:\n${r.output}`);
  return r.output;
}

async function powerOff(g: GuestConsole): Promise<void> {
  await g.waitPrompt(COMMAND_TIMEOUT_MS);
  g.write('poweroff -f\n');
  g.endInput();
  const timer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no exit within 60 s of poweroff -f\n${g.tail()}`)), 60_000).unref());
  const exit = await Promise.race([g.closed, timer]);
  assert.deepEqual(exit, { status: 0, signal: null }, g.tail());
  assert.doesNotMatch(g.stderr, /storvsp|refus|drop/i, 'no VMBus or storvsp complaints on stderr');
}

describe('storvsc disks: hypatia run --disk, Debian 12\'s hv_storvsc and sd', () => {
  it('boots with four disks; the guest sees LUNs 0..3 with their sizes, sectors and flags', { timeout: BOOT_TIMEOUT_MS + 60_000 }, async (t) => {
    const g = await boot([A(), B(), `${C()},ro`, D()]);
    const readyAt = Date.now() - g.started;
    await sh('until [ -b /dev/sdd ];do sleep 1;done');
    t.diagnostic(`ready marker after ${(readyAt / 1000).toFixed(1)} s, all four disks after ${((Date.now() - g.started) / 1000).toFixed(1)} s`);
    t.diagnostic((await sh("dmesg|grep -e storvsc -e 'sd '|head -4")).trim());
    const names = await sh('/luns');
    t.diagnostic(names.trim().replace(/\n/g, ', '));
    assert.match(names, /^lun 0: sd[a-d]\nlun 1: sd[a-d]\nlun 2: sd[a-d]\nlun 3: sd[a-d]\n$/, 'four LUNs, each a disk');
    assert.equal(await sh('cat /b/l[0-3]/size'), `${64 * 2048}\n${40 * 2048}\n${8 * 2048}\n${24 * 2048}\n`);
    assert.equal(await sh('cat /b/l[0-3]/ro'), '0\n0\n1\n0\n');
    assert.equal(await sh('cat /b/l[0-3]/queue/logical_b*'), '512\n4096\n512\n512\n');
    assert.equal(await sh('cat /b/l[0-3]/device/vendor'), 'Msft    \n'.repeat(4));
    assert.match(await sh('ls /b/l0/device/scsi_disk'), /^\d+:0:0:0\n$/);
    assert.match(await sh('ls /b/l2/device/scsi_disk'), /^\d+:0:0:2\n$/);
    assert.match(await sh('ls /b/l3/device/scsi_disk'), /^\d+:0:0:3\n$/);
    assert.equal(await sh('cat /b/l0/queue/write_cache'), 'write back\n', 'WCE from the caching mode page');
    assert.equal(await sh('cat /b/l0/queue/rotational'), '0\n', 'VPD 0xB1: non-rotating');
    const [discardA, discardC] = (await sh('cat /b/l[02]/queue/discard_max_bytes')).trim().split('\n').map(Number);
    assert.ok(discardA > 0, 'UNMAP on LUN 0, from VPD 0xB0/0xB2 and LBPME');
    assert.equal(discardC, 0, 'no UNMAP on the read-only disk');
    assert.equal(await sh("dmesg|grep -c 'Attached SCSI disk'"), '4\n');
    const log = await sh('dmesg|grep -e sd -e vsc');
    const bad = log.split('\n').filter((l) => /\b(error|fail(ed|ure)?|timed? ?out|reset)\b/i.test(l));
    assert.deepEqual(bad, [], `no errors from storvsc or sd:\n${log}`);
  });

  it('writes patterns with O_DIRECT and fsync and reads them back; reads the host\'s pattern from the read-only disk', { timeout: COMMAND_TIMEOUT_MS * 8 }, async (t) => {
    for (const [disk, seed, offset, length] of WRITES) {
      assert.match(await sh(`/dc write /dev/${disk} ${seed} ${offset} ${length}`), /^disk-check: wrote \d+ bytes/);
    }
    for (const [disk, seed, offset, length] of WRITES) {
      assert.match(await sh(`/dc verify /dev/${disk} ${seed} ${offset} ${length}`), /^disk-check: verify ok/);
    }
    assert.match(await sh(`/dc verify /dev/l2 ${RO_SEED} 0 ${8 * MiB}`), /^disk-check: verify ok/);
    // Discard: written first so the VHDX has the blocks, then freed through UNMAP.
    assert.match(await sh(`/dc write /dev/l0 5 ${32 * MiB} ${2 * MiB}`), /wrote/);
    assert.match(await sh(`/dc discard /dev/l0 ${32 * MiB} ${2 * MiB}`), /^disk-check: discarded/);
    const r = await booted().run(`/dc verify /dev/l0 7 ${MiB} ${4 * MiB}`, COMMAND_TIMEOUT_MS);
    assert.equal(r.status, 0, 'data beside the discarded range is intact');
    t.diagnostic('patterns written, verified; discard done');
  });

  it('the read-only disk refuses writes: the block layer says so, and a raw WRITE(10) gets DATA PROTECT / WRITE PROTECTED sense', { timeout: COMMAND_TIMEOUT_MS * 3 }, async () => {
    const g = booted();
    const w = await g.run('/dc write /dev/l2 1 0 4096', COMMAND_TIMEOUT_MS);
    assert.notEqual(w.status, 0);
    assert.match(w.output, /^disk-check: FAIL (open for writing|pwrite)/);
    // storvsc logs the failed command (scsi status 2, srb 0x84 = ERROR | AUTOSENSE_VALID) on the console too.
    const sg = await sh('/dc sgwrite /dev/l2 0');
    assert.match(sg, /^disk-check: sg write status 0x02 host 0x0 sense 7\/27\/00$/m, 'CHECK CONDITION, DATA PROTECT, WRITE PROTECTED');
    assert.match(sg, /hv_storvsc .* cmd 0x2a status: scsi 0x2 srb 0x84 hv 0x0$/m);
    // ...and the disk is unchanged (checked on the host after power-off as well).
    assert.match(await sh(`/dc verify /dev/l2 ${RO_SEED} 0 4096`), /verify ok/);
  });

  it('powers off with status 0', { timeout: 120_000 }, async () => {
    await powerOff(booted());
  });

  it('the host reads the same bytes with qemu-img convert; the discarded range is freed; the read-only image is untouched', { timeout: 120_000 }, () => {
    const checks: [string, string][] = [[A(), 'l0'], [D(), 'l3']];
    for (const [image, disk] of checks) {
      const out = join(tmp, `${disk}.raw`);
      execFileSync('qemu-img', ['convert', '-O', 'raw', image, out]);
      const bytes = readFileSync(out);
      for (const [d, seed, offset, length] of WRITES) {
        if (d !== disk) continue;
        assert.ok(bytes.subarray(offset, offset + length).equals(pattern(seed, offset, length)), `${disk}: ${length} bytes at ${offset} as the guest wrote them`);
      }
      rmSync(out);
    }
    // qemu-img checks VHDX metadata (not VHD's): the BAT and log the guest's writes and discards left are sound.
    const check = spawnSync('qemu-img', ['check', A()], { encoding: 'utf8' });
    assert.equal(check.status, 0, `qemu-img check: ${check.stdout}${check.stderr}`);
    const b = openDisk(B(), { readOnly: true });
    try {
      for (const [d, seed, offset, length] of WRITES) {
        if (d !== 'l1') continue;
        const got = Buffer.alloc(length);
        b.read(offset, got);
        assert.ok(got.equals(pattern(seed, offset, length)), `LUN 1 (4 KiB sectors): ${length} bytes at ${offset}`);
      }
    } finally {
      b.close();
    }
    const a = openDisk(A(), { readOnly: true });
    try {
      for (let off = 32 * MiB; off < 34 * MiB; off += MiB) assert.notEqual(a.layerStatus(off, MiB).state, 'data', `VHDX block at ${off / MiB} MiB freed by UNMAP`);
      assert.equal(a.layerStatus(MiB, MiB).state, 'data');
    } finally {
      a.close();
    }
    assert.ok(readFileSync(C()).equals(pattern(RO_SEED, 0, 8 * MiB)), 'the read-only image is byte for byte what the host wrote');
  });

  it('a second boot, on a host capped at VMBus 4.0 (Linux falls back to it), reads the data back from the VHDX', { timeout: BOOT_TIMEOUT_MS + 120_000 }, async () => {
    // The older protocol (no msg_conn_id, connection id 1 throughout) serves the disk the same way.
    const g = await boot([A()], ['--vmbus-version', '4.0']);
    assert.match(g.output, /hv_vmbus: Vmbus version:4\.0\b/, g.tail());
    await sh('until [ -b /dev/sda ];do sleep 1;done'); // the only disk
    for (const [disk, seed, offset, length] of WRITES) {
      if (disk !== 'l0') continue;
      assert.match(await sh(`/dc verify /dev/sda ${seed} ${offset} ${length}`), /^disk-check: verify ok/);
    }
    assert.equal(await sh('ls /sys/block | grep -c ^sd'), '1\n', 'one disk this time');
  });

  it('fsync is durable without a clean exit: data written into new VHDX blocks survives SIGKILL of hypatia', { timeout: 180_000 }, async () => {
    // The VHDX writes a new block's BAT entry only when the disk is flushed; the run is killed, so nothing
    // flushes at exit. The data is there afterwards only if the guest's fsync reached the image as
    // SYNCHRONIZE CACHE -> flush.
    const g = booted();
    assert.match(await sh(`/dc write /dev/sda 21 ${8 * MiB} ${2 * MiB}`), /^disk-check: wrote/);
    g.kill();
    await g.closed;
    const a = openDisk(A()); // read-write: replays the VHDX log if the kill interrupted nothing else
    try {
      const got = Buffer.alloc(2 * MiB);
      a.read(8 * MiB, got);
      assert.ok(got.equals(pattern(21, 8 * MiB, 2 * MiB)), 'the fsynced data is in the image');
    } finally {
      a.close();
    }
    const check = spawnSync('qemu-img', ['check', A()], { encoding: 'utf8' });
    assert.equal(check.status, 0, `qemu-img check: ${check.stdout}${check.stderr}`);
  });
});
