// storvsc disk throughput, two ways:
//  - host side: storvsp behind the real VMBus channel server, driven by the TypeScript guest bus client with
//    EXECUTE_SRB packets as storvsc sends them (GPA-direct, 256 KiB sequential and 4 KiB random READ/WRITE(10)),
//    over a dynamic VHDX and a raw image: the cost of the VSP, the rings and the guest-memory copies;
//  - in the guest: Debian 12 boots with a VHDX on --disk and test/linux/disk-check.c (static, built with the
//    system cc) measures O_DIRECT sequential (1 MiB requests) and random 4 KiB throughput on /dev/sda.
// `npm run bench storvsc`.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInitramfs, ensureGuestImages, READY_MARKER } from '../src/guest-images/index.js';
import { createDisk, type Disk } from '../src/storage/index.js';
import { createLoopbackBus, PAGE_SIZE, type GuestChannel } from '../src/vmbus/index.js';
import { Storvsp, STORVSC_CLASS_ID } from '../src/vsp/storvsp/index.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.join(here, '..', '..');
const CLI = path.join(ROOT, 'bin', 'hypatia.js');
const MiB = 1 << 20;
const DISK_SIZE = 512 * MiB;
const SEQ_BYTES = 256 * MiB;
const SEQ_REQUEST = 256 * 1024;
const RAND_OPS = 20000;
const GUEST_MIB = 64;

function vstor(op: number): Uint8Array {
  const b = new Uint8Array(64);
  new DataView(b.buffer).setUint32(0, op, true);
  b[4] = 1;
  return b;
}

function srb(write: boolean, lba: number, blocks: number): Uint8Array {
  const b = vstor(3);
  const dv = new DataView(b.buffer);
  dv.setUint16(12, 0x34, true);
  b[20] = 10; b[21] = 20; b[22] = write ? 0 : 1;
  dv.setUint32(24, blocks * 512, true);
  b[28] = write ? 0x2a : 0x28;
  dv.setUint32(30, lba); // big-endian LBA
  dv.setUint16(35, blocks);
  return b;
}

export function hostSide(disk: Disk): Record<string, number> {
  const bus = createLoopbackBus({ ramPages: 1024 });
  bus.server.addVsp(new Storvsp({ disks: [{ disk }], instanceId: '0badf00d-0000-4000-8000-000000000001' }));
  bus.client.connect();
  bus.client.requestOffers();
  const ch: GuestChannel = bus.client.openChannel(bus.client.offerOf(STORVSC_CLASS_ID).childRelid, { sendPages: 64, recvPages: 64 });
  for (const op of [7, 9, 10, 8]) {
    const p = vstor(op);
    if (op === 9) { p[12] = 0x02; p[13] = 0x06; } // protocol 6.2
    ch.send(p, { flags: 1, transIdLo: 0xfffffffd, transIdHi: 0xffffffff });
    if (!ch.receive()) throw new Error('storvsp did not answer the init handshake');
  }
  const pfns = bus.ram.alloc(SEQ_REQUEST / PAGE_SIZE);
  let id = 0;
  const io = (write: boolean, offset: number, bytes: number): void => {
    ch.sendGpaDirect([{ byteCount: bytes, byteOffset: 0, pfns: pfns.slice(0, bytes / PAGE_SIZE) }], srb(write, offset / 512, bytes / 512), { flags: 1, transIdLo: ++id });
    const c = ch.receive();
    if (!c || c.payload[14] !== 1) throw new Error(`SRB failed: ${c ? `srb status ${c.payload[14]}` : 'no completion'}`);
  };
  const r: Record<string, number> = {};
  let t = performance.now();
  for (let o = 0; o < SEQ_BYTES; o += SEQ_REQUEST) io(true, o, SEQ_REQUEST);
  disk.flush();
  r['seq write MiB/s'] = SEQ_BYTES / MiB / ((performance.now() - t) / 1000);
  t = performance.now();
  for (let o = 0; o < SEQ_BYTES; o += SEQ_REQUEST) io(false, o, SEQ_REQUEST);
  r['seq read MiB/s'] = SEQ_BYTES / MiB / ((performance.now() - t) / 1000);
  let x = 12345;
  const offs: number[] = [];
  for (let i = 0; i < RAND_OPS; i++) { x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0; offs.push((x % (SEQ_BYTES / 4096)) * 4096); }
  t = performance.now();
  for (const o of offs) io(true, o, 4096);
  disk.flush();
  r['rand 4K write IOPS'] = RAND_OPS / ((performance.now() - t) / 1000);
  t = performance.now();
  for (const o of offs) io(false, o, 4096);
  r['rand 4K read IOPS'] = RAND_OPS / ((performance.now() - t) / 1000);
  return r;
}

function guestSide(dir: string): Promise<string> {
  const exe = path.join(dir, 'disk-check');
  execFileSync('cc', ['-O2', '-static', '-o', exe, path.join(ROOT, 'test', 'linux', 'disk-check.c')], { stdio: ['ignore', 'ignore', 'inherit'] });
  return ensureGuestImages().then((images) => new Promise<string>((resolve) => {
    const initrd = path.join(dir, 'initrd.img');
    fs.writeFileSync(initrd, buildInitramfs({ base: images.initrd, files: [{ path: '/dc', source: exe }] }));
    const disk = path.join(dir, 'guest.vhdx');
    createDisk(disk, { format: 'vhdx', size: 256 * MiB }).close();
    const child = spawn(process.execPath, [CLI, 'run', '--kernel', images.kernel, '--initrd', initrd, '--append', 'console=ttyS0', '--disk', disk],
      { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let sent = false;
    /** When each "disk-check: phase X" line reached the host (its wall clock). */
    const phases: [string, number][] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 10 * 60 * 1000);
    child.stdout.on('data', (b: Buffer) => {
      const before = out.length;
      out += b.toString('latin1');
      const re = /disk-check: phase (\S+)/g;
      re.lastIndex = Math.max(0, before - 40);
      for (let m = re.exec(out); m !== null; m = re.exec(out)) {
        if (!phases.some(([p]) => p === m![1]) && /\r?\n/.test(out.slice(m.index + m[0].length, m.index + m[0].length + 2))) phases.push([m[1], performance.now()]);
      }
      if (!sent && out.includes(READY_MARKER)) {
        sent = true;
        child.stdin.write(`until [ -b /dev/sda ];do sleep 1;done; /dc bench /dev/sda ${GUEST_MIB}; poweroff -f\n`);
      }
    });
    child.stderr.on('data', (b: Buffer) => { out += b.toString('latin1'); });
    child.on('close', () => {
      clearTimeout(timer);
      const line = /^disk-check: (bench .*|FAIL .*)$/m.exec(out.replace(/\r/g, ''));
      if (!line) { resolve(`no result; console tail: ${out.slice(-400)}`); return; }
      // The same phases by the host's clock (the guest's runs slow while the software processor is busy).
      const at = (p: string): number | undefined => phases.find(([n]) => n === p)?.[1];
      const span = (a: string, b: string): number => ((at(b) ?? NaN) - (at(a) ?? NaN)) / 1000;
      const ops = Math.min(GUEST_MIB * 256, 2048);
      resolve(`guest clock: ${line[1]}\n  host clock:  seq-write ${(GUEST_MIB / span('seq-write', 'seq-read')).toFixed(1)} MiB/s seq-read ${(GUEST_MIB / span('seq-read', 'rand-write')).toFixed(1)} MiB/s rand-write-4k ${(ops / span('rand-write', 'rand-read')).toFixed(0)} IOPS rand-read-4k ${(ops / span('rand-read', 'end')).toFixed(0)} IOPS`);
    });
  }));
}

export async function benchStorvsc(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-bench-storvsc-'));
  try {
    const cols: [string, Record<string, number>][] = [];
    for (const format of ['raw', 'vhdx'] as const) {
      const file = path.join(dir, `host.${format}`);
      const disk = createDisk(file, { format, type: format === 'raw' ? 'fixed' : 'dynamic', size: DISK_SIZE });
      try { cols.push([format === 'raw' ? 'raw' : 'vhdx dynamic', hostSide(disk)]); } finally { disk.close(); fs.rmSync(file, { force: true }); }
    }
    console.log('host side: storvsp behind the VMBus server, SRBs from the TS guest client (256 KiB sequential, 4 KiB random)');
    console.log(`${''.padEnd(22)}${cols.map(([n]) => n.padStart(14)).join('')}`);
    for (const row of Object.keys(cols[0][1])) console.log(`${row.padEnd(22)}${cols.map(([, r]) => r[row].toFixed(0).padStart(14)).join('')}`);
    if (spawnSync('sh', ['-c', 'command -v cc']).status !== 0) { console.log('in the guest: skipped (no C compiler)'); return; }
    console.log(`in the guest (Debian 12, hv_storvsc, dynamic VHDX, O_DIRECT, ${GUEST_MIB} MiB):`);
    console.log(`  ${await guestSide(dir)}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
