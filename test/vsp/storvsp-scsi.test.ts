// The SCSI target storvsp carries, driven with CDBs built from the SPC-4 / SBC-3 field definitions over real
// images (VHDX and raw, from src/storage): what each command must return, byte by byte, what it must do to
// the disk (data at the right offset, SYNCHRONIZE CACHE reaching flush, UNMAP reaching discard), and the
// sense data for every error a Linux disk can meet (read-only disk, out-of-range LBA, absent LUN, unknown
// opcode, bad fields).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createDisk, openDisk, type Disk } from '../../src/storage/index.js';
import { ArrayDataBuffer, CommandResult, Outcome, ScsiController, type DataBuffer } from '../../src/vsp/storvsp/index.js';
import { MiB, removeDir, Rng, scratchDir } from '../storage/helpers.js';

const SIZE = 64 * MiB;
const BLOCKS = SIZE / 512;

interface Calls { flush: number; discard: [number, number][] }

/** The disk with its flush and discard calls recorded (and still performed). */
function recorded(disk: Disk, calls: Calls): Disk {
  return new Proxy(disk, {
    get(target, prop, receiver) {
      if (prop === 'flush') return () => { calls.flush++; target.flush(); };
      if (prop === 'discard') return (o: number, l: number) => { calls.discard.push([o, l]); target.discard(o, l); };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

function cdb(...bytes: number[]): Uint8Array {
  const c = new Uint8Array(16);
  c.set(bytes);
  return c;
}
function be32(v: number): number[] { return [(v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff]; }
function be64(v: number): number[] { return [...be32(Math.floor(v / 2 ** 32)), ...be32(v >>> 0)]; }
function rd32(b: Uint8Array, at: number): number { return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0; }
function rd64(b: Uint8Array, at: number): number { return rd32(b, at) * 2 ** 32 + rd32(b, at + 4); }
function ascii(b: Uint8Array, from: number, to: number): string { return Buffer.from(b.subarray(from, to)).toString('latin1'); }

let dir: string;
let vhdx: Disk, raw: Disk, ro: Disk;
const calls: Calls = { flush: 0, discard: [] };
let ctl: ScsiController;
const r = new CommandResult();

function run(lun: number, c: Uint8Array, data: DataBuffer = new ArrayDataBuffer(new Uint8Array(0)), path = 0, target = 0): CommandResult {
  const len = c[0] >= 0xa0 ? 12 : c[0] >= 0x80 ? 16 : c[0] >= 0x20 ? 10 : 6;
  ctl.execute(path, target, lun, c, len, data, r);
  return r;
}
function dataIn(lun: number, c: Uint8Array, size: number): Uint8Array {
  const b = new Uint8Array(size).fill(0xee);
  const res = run(lun, c, new ArrayDataBuffer(b));
  assert.equal(res.outcome, Outcome.Good, `command 0x${c[0].toString(16)} succeeds`);
  return b.subarray(0, res.transferred);
}
function assertSense(res: CommandResult, key: number, asc: number, ascq: number, outcome = Outcome.CheckCondition): void {
  assert.equal(res.outcome, outcome);
  assert.equal(res.status, 0x02, 'CHECK CONDITION');
  assert.equal(res.senseLength, 18);
  assert.equal(res.sense[0], 0x70, 'fixed format, current error');
  assert.equal(res.sense[7], 10, 'additional sense length');
  assert.deepEqual([res.sense[2] & 0x0f, res.sense[12], res.sense[13]], [key, asc, ascq]);
  assert.equal(res.transferred, 0);
}

before(() => {
  dir = scratchDir('storvsp-scsi');
  vhdx = createDisk(join(dir, 'a.vhdx'), { format: 'vhdx', size: SIZE, blockSize: MiB });
  raw = createDisk(join(dir, 'b.img'), { format: 'raw', size: SIZE });
  createDisk(join(dir, 'c.img'), { format: 'raw', size: 8 * MiB }).close();
  ro = openDisk(join(dir, 'c.img'), { readOnly: true });
  ctl = new ScsiController([{ disk: recorded(vhdx, calls), serial: 'SERIAL-A' }, { disk: raw }, { disk: ro }], 0x40000);
});
after(() => {
  for (const d of [vhdx, raw, ro]) d?.close();
  removeDir(dir);
});

describe('storvsp SCSI target: INQUIRY and VPD pages (SPC-4 6.6, 7.8; SBC-3 6.6)', () => {
  it('standard INQUIRY: direct-access device, SPC-4, format 2, "Msft" "Virtual Disk", cut to the allocation length', () => {
    const d = dataIn(0, cdb(0x12, 0, 0, 0, 96, 0), 96);
    assert.equal(d.length, 36);
    assert.equal(d[0], 0x00, 'peripheral qualifier 0, device type 0');
    assert.equal(d[2], 0x06);
    assert.equal(d[3] & 0x0f, 2);
    assert.equal(d[4], 31, 'additional length = 36 - 5');
    assert.equal(ascii(d, 8, 16), 'Msft    ');
    assert.equal(ascii(d, 16, 32), 'Virtual Disk    ');
    assert.equal(dataIn(0, cdb(0x12, 0, 0, 0, 5, 0), 96).length, 5);
    // A page code without EVPD is an invalid field.
    assertSense(run(0, cdb(0x12, 0, 0x80, 0, 96, 0), new ArrayDataBuffer(new Uint8Array(96))), 0x5, 0x24, 0);
  });

  it('VPD 0x00 lists the pages served, and each of them answers with its page code and length', () => {
    const list = dataIn(0, cdb(0x12, 1, 0x00, 0, 255, 0), 255);
    assert.equal(list[1], 0x00);
    const pages = [...list.subarray(4, 4 + list[3])];
    assert.deepEqual(pages, [0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2]);
    for (const p of pages) {
      const d = dataIn(0, cdb(0x12, 1, p, 0, 255, 0), 255);
      assert.equal(d[1], p);
      assert.equal(d.length, 4 + ((d[2] << 8) | d[3]), `page 0x${p.toString(16)} length`);
    }
    assertSense(run(0, cdb(0x12, 1, 0x89, 0, 255, 0), new ArrayDataBuffer(new Uint8Array(255))), 0x5, 0x24, 0);
  });

  it('VPD 0x80 and 0x83 carry the serial; 0xB0 the limits; 0xB1 a non-rotating medium; 0xB2 UNMAP on writable disks only', () => {
    assert.equal(ascii(dataIn(0, cdb(0x12, 1, 0x80, 0, 255, 0), 255), 4, 12), 'SERIAL-A');
    const id = dataIn(0, cdb(0x12, 1, 0x83, 0, 255, 0), 255);
    assert.deepEqual([id[4] & 0x0f, id[5] & 0x0f], [2, 1], 'ASCII T10 vendor ID designator');
    assert.equal(ascii(id, 8, 8 + id[7]), 'Msft    SERIAL-A');
    const b0 = dataIn(0, cdb(0x12, 1, 0xb0, 0, 255, 0), 255);
    assert.equal(rd32(b0, 8), 0x40000 / 512, 'maximum transfer length in blocks');
    assert.ok(rd32(b0, 20) > 0 && rd32(b0, 24) > 0, 'max unmap LBA count and descriptor count (sd needs both)');
    assert.equal(rd32(b0, 28), MiB / 512, 'unmap granularity = the VHDX block');
    assert.equal((dataIn(0, cdb(0x12, 1, 0xb1, 0, 255, 0), 255)[4] << 8) | dataIn(0, cdb(0x12, 1, 0xb1, 0, 255, 0), 255)[5], 1);
    assert.equal(dataIn(0, cdb(0x12, 1, 0xb2, 0, 255, 0), 255)[5] & 0x80, 0x80, 'LBPU');
    assert.equal(dataIn(2, cdb(0x12, 1, 0xb2, 0, 255, 0), 255)[5] & 0x80, 0, 'no LBPU on a read-only disk');
    assert.equal(dataIn(2, cdb(0x12, 1, 0xb0, 0, 255, 0), 255)[20], 0);
  });
});

describe('storvsp SCSI target: capacity and mode pages', () => {
  it('READ CAPACITY(10) and (16): last LBA and block length; LBPME on writable disks', () => {
    const c10 = dataIn(0, cdb(0x25), 8);
    assert.deepEqual([rd32(c10, 0), rd32(c10, 4)], [BLOCKS - 1, 512]);
    const c16 = dataIn(0, cdb(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32), 32);
    assert.equal(c16.length, 32);
    assert.equal(rd64(c16, 0), BLOCKS - 1);
    assert.equal(rd32(c16, 8), 512);
    assert.equal(c16[13] & 0x0f, Math.log2(vhdx.physicalSectorSize / 512), 'logical blocks per physical block exponent');
    assert.equal(c16[14] & 0x80, 0x80, 'LBPME');
    const ro16 = dataIn(2, cdb(0x9e, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 32), 32);
    assert.equal(rd64(ro16, 0), 8 * MiB / 512 - 1);
    assert.equal(ro16[14] & 0x80, 0);
    assertSense(run(0, cdb(0x9e, 0x11), new ArrayDataBuffer(new Uint8Array(32))), 0x5, 0x24, 0);
  });

  it('MODE SENSE(6)/(10): header, block descriptor, caching page with WCE, WP on the read-only disk', () => {
    const all = dataIn(0, cdb(0x1a, 0, 0x3f, 0, 255, 0), 255);
    assert.equal(all[0], all.length - 1, 'mode data length');
    assert.equal(all[2] & 0x80, 0, 'not write-protected');
    assert.equal(all[3], 8, 'one block descriptor');
    assert.equal(rd32(all, 4), BLOCKS);
    assert.equal(((all[9] << 16) | (all[10] << 8) | all[11]), 512);
    assert.deepEqual([all[12], all[13]], [0x08, 0x12], 'caching page first');
    assert.equal(all[14] & 0x04, 0x04, 'WCE');
    assert.deepEqual([all[32], all[33]], [0x0a, 0x0a], 'then the control page');
    const cache = dataIn(0, cdb(0x1a, 0x08, 0x08, 0, 255, 0), 255); // DBD
    assert.deepEqual([cache.length, cache[3], cache[4], cache[6] & 0x04], [24, 0, 0x08, 0x04]);
    const changeable = dataIn(0, cdb(0x1a, 0x08, 0x48, 0, 255, 0), 255);
    assert.equal(changeable[6] & 0x04, 0, 'WCE is not changeable');
    const ten = dataIn(0, cdb(0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 255, 0), 255);
    assert.equal((ten[0] << 8) | ten[1], ten.length - 2);
    assert.equal((ten[6] << 8) | ten[7], 8);
    assert.equal(dataIn(2, cdb(0x1a, 0, 0x3f, 0, 255, 0), 255)[2] & 0x80, 0x80, 'WP');
    assert.equal(dataIn(2, cdb(0x5a, 0, 0x3f, 0, 0, 0, 0, 0, 255, 0), 255)[3] & 0x80, 0x80, 'WP (10)');
    assert.equal(dataIn(0, cdb(0x1a, 0, 0x3f, 0, 4, 0), 255).length, 4, 'cut to the allocation length');
    assertSense(run(0, cdb(0x1a, 0, 0xc8, 0, 255, 0), new ArrayDataBuffer(new Uint8Array(255))), 0x5, 0x39, 0);
    assertSense(run(0, cdb(0x1a, 0, 0x1c, 0, 255, 0), new ArrayDataBuffer(new Uint8Array(255))), 0x5, 0x24, 0);
  });
});

describe('storvsp SCSI target: data commands', () => {
  it('WRITE(10)/(16) put the data at LBA * 512 on the disk; READ(10)/(16)/(6) bring it back', () => {
    const rng = new Rng(7);
    const pattern = new Uint8Array(8 * 512);
    rng.fill(pattern);
    let res = run(0, cdb(0x2a, 0, ...be32(1000), 0, 0, 8), new ArrayDataBuffer(pattern));
    assert.equal(res.outcome, Outcome.Good);
    assert.equal(res.transferred, 4096);
    const back = new Uint8Array(4096);
    vhdx.read(1000 * 512, back);
    assert.deepEqual(back, pattern, 'the disk holds the data at byte 512000');
    assert.deepEqual(dataIn(0, cdb(0x28, 0, ...be32(1000), 0, 0, 8), 4096), pattern);
    assert.deepEqual(dataIn(0, cdb(0x88, 0, ...be64(1000), ...be32(8)), 4096), pattern);
    assert.deepEqual(dataIn(0, cdb(0x08, 0, 0x03, 0xe8, 8, 0), 4096), pattern, 'READ(6) at LBA 1000');
    // The last block, through WRITE(16) on the raw disk.
    res = run(1, cdb(0x8a, 0, ...be64(BLOCKS - 1), ...be32(1)), new ArrayDataBuffer(pattern.subarray(0, 512)));
    assert.equal(res.outcome, Outcome.Good);
    const last = new Uint8Array(512);
    raw.read(SIZE - 512, last);
    assert.deepEqual(last, pattern.subarray(0, 512));
    // A transfer spanning more than one scratch chunk (1 MiB through a 256 KiB area).
    const big = new Uint8Array(MiB);
    rng.fill(big);
    assert.equal(run(1, cdb(0x2a, 0, ...be32(4096), 0, 0x08, 0x00), new ArrayDataBuffer(big)).transferred, MiB);
    assert.deepEqual(dataIn(1, cdb(0x28, 0, ...be32(4096), 0, 0x08, 0x00), MiB), big);
  });

  it('LBA past the end: ILLEGAL REQUEST, LBA OUT OF RANGE (21/00), nothing written; a buffer too small: overrun', () => {
    assertSense(run(0, cdb(0x28, 0, ...be32(BLOCKS - 1), 0, 0, 2), new ArrayDataBuffer(new Uint8Array(1024))), 0x5, 0x21, 0);
    assertSense(run(0, cdb(0x8a, 0, ...be64(2 ** 40), ...be32(1)), new ArrayDataBuffer(new Uint8Array(512))), 0x5, 0x21, 0);
    const res = run(0, cdb(0x28, 0, ...be32(0), 0, 0, 8), new ArrayDataBuffer(new Uint8Array(1024)));
    assert.equal(res.outcome, Outcome.Overrun);
  });

  it('the read-only disk refuses WRITE, WRITE SAME and UNMAP with DATA PROTECT, WRITE PROTECTED (07/27/00)', () => {
    const before = new Uint8Array(512);
    ro.read(0, before);
    assertSense(run(2, cdb(0x2a, 0, 0, 0, 0, 0, 0, 0, 1), new ArrayDataBuffer(new Uint8Array(512).fill(0x55))), 0x7, 0x27, 0);
    assertSense(run(2, cdb(0x8a, 0, ...be64(0), ...be32(1)), new ArrayDataBuffer(new Uint8Array(512).fill(0x55))), 0x7, 0x27, 0);
    assertSense(run(2, cdb(0x41, 0, 0, 0, 0, 0, 0, 0, 1), new ArrayDataBuffer(new Uint8Array(512))), 0x7, 0x27, 0);
    assertSense(run(2, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, 24), new ArrayDataBuffer(new Uint8Array(24))), 0x7, 0x27, 0);
    const now = new Uint8Array(512);
    ro.read(0, now);
    assert.deepEqual(now, before);
    assert.deepEqual(dataIn(2, cdb(0x28, 0, 0, 0, 0, 0, 0, 0, 1), 512), before, 'reads still work');
    assert.equal(run(2, cdb(0x35)).outcome, Outcome.Good, 'SYNCHRONIZE CACHE on a read-only disk is GOOD');
  });

  it('SYNCHRONIZE CACHE(10)/(16) reach the disk\'s flush', () => {
    const n = calls.flush;
    assert.equal(run(0, cdb(0x35)).outcome, Outcome.Good);
    assert.equal(run(0, cdb(0x91)).outcome, Outcome.Good);
    assert.equal(calls.flush, n + 2);
  });

  it('UNMAP reaches the disk\'s discard with each descriptor\'s byte range; a bad descriptor discards nothing', () => {
    const list = (descs: [number, number][]): Uint8Array => {
      const b = new Uint8Array(8 + 16 * descs.length);
      const dv = new DataView(b.buffer);
      dv.setUint16(0, 6 + 16 * descs.length);
      dv.setUint16(2, 16 * descs.length);
      descs.forEach(([lba, n], i) => { dv.setBigUint64(8 + 16 * i, BigInt(lba)); dv.setUint32(16 + 16 * i, n); });
      return b;
    };
    calls.discard.length = 0;
    let p = list([[2048, 2048], [8192, 16]]);
    assert.equal(run(0, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, p.length), new ArrayDataBuffer(p)).outcome, Outcome.Good);
    assert.deepEqual(calls.discard, [[2048 * 512, 2048 * 512], [8192 * 512, 16 * 512]]);
    calls.discard.length = 0;
    p = list([[0, 8], [BLOCKS - 4, 8]]);
    assertSense(run(0, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, p.length), new ArrayDataBuffer(p)), 0x5, 0x21, 0);
    assert.deepEqual(calls.discard, []);
    // Block descriptor data length not a multiple of 16.
    p = list([[0, 8]]);
    p[3] = 15;
    assertSense(run(0, cdb(0x42, 0, 0, 0, 0, 0, 0, 0, p.length), new ArrayDataBuffer(p)), 0x5, 0x1a, 0);
    assert.deepEqual(calls.discard, []);
  });

  it('WRITE SAME(10)/(16) repeat one block over the range; 0 blocks is refused (WSNZ)', () => {
    const block = new Uint8Array(512);
    for (let i = 0; i < 512; i++) block[i] = i & 0xff;
    assert.equal(run(1, cdb(0x41, 0, ...be32(300), 0, 0, 40), new ArrayDataBuffer(block)).outcome, Outcome.Good);
    const span = new Uint8Array(42 * 512);
    raw.read(299 * 512, span);
    for (let i = 1; i <= 40; i++) assert.deepEqual(span.subarray(i * 512, i * 512 + 512), block, `block ${299 + i}`);
    // NDOB: zeros, no data-out.
    assert.equal(run(1, cdb(0x93, 0x01, ...be64(310), ...be32(5))).outcome, Outcome.Good);
    raw.read(310 * 512, span.subarray(0, 5 * 512));
    assert.ok(span.subarray(0, 5 * 512).every((b) => b === 0));
    assertSense(run(1, cdb(0x41, 0, ...be32(300), 0, 0, 0), new ArrayDataBuffer(block)), 0x5, 0x24, 0);
  });
});

describe('storvsp SCSI target: addressing and errors', () => {
  it('REPORT LUNS lists LUNs 0..2 at path 0 target 0 and none elsewhere; allocation under 16 is refused', () => {
    const d = dataIn(0, cdb(0xa0, 0, 0, 0, 0, 0, ...be32(256)), 256);
    assert.equal(rd32(d, 0), 24, 'LUN list length');
    assert.equal(d.length, 32);
    for (let i = 0; i < 3; i++) assert.deepEqual([...d.subarray(8 + 8 * i, 16 + 8 * i)], [0, i, 0, 0, 0, 0, 0, 0]);
    // Sent to an address without LUN 0 (Linux does, after a peripheral-qualifier-3 INQUIRY).
    const b = new Uint8Array(256);
    ctl.execute(3, 1, 0, cdb(0xa0, 0, 0, 0, 0, 0, ...be32(256)), 12, new ArrayDataBuffer(b), r);
    assert.equal(r.outcome, Outcome.Good);
    assert.equal(r.transferred, 8);
    assert.equal(rd32(b, 0), 0);
    assertSense(run(0, cdb(0xa0, 0, 0, 0, 0, 0, ...be32(8)), new ArrayDataBuffer(new Uint8Array(8))), 0x5, 0x24, 0);
  });

  it('an absent LUN answers INQUIRY with peripheral qualifier 3 (0x7F) and anything else with INVALID LUN, 05/25/00', () => {
    for (const [path, target, lun] of [[0, 0, 3], [0, 1, 0], [7, 0, 0]]) {
      const b = new Uint8Array(96);
      ctl.execute(path, target, lun, cdb(0x12, 0, 0, 0, 96, 0), 6, new ArrayDataBuffer(b), r);
      assert.equal(r.outcome, Outcome.Good);
      assert.equal(r.transferred, 36);
      assert.equal(b[0], 0x7f);
      ctl.execute(path, target, lun, cdb(0x00), 6, new ArrayDataBuffer(new Uint8Array(0)), r);
      assertSense(r, 0x5, 0x25, 0, Outcome.InvalidLun);
    }
  });

  it('an unknown opcode is INVALID COMMAND OPERATION CODE (20/00); a CDB shorter than its group, INVALID FIELD (24/00)', () => {
    assertSense(run(0, cdb(0xa3)), 0x5, 0x20, 0);
    assertSense(run(0, cdb(0x15)), 0x5, 0x20, 0); // MODE SELECT: nothing is changeable
    ctl.execute(0, 0, 0, cdb(0x28, 0, 0, 0, 0, 0, 0, 0, 1), 6, new ArrayDataBuffer(new Uint8Array(512)), r);
    assertSense(r, 0x5, 0x24, 0);
  });

  it('TEST UNIT READY is GOOD; REQUEST SENSE returns NO SENSE', () => {
    assert.equal(run(0, cdb(0x00)).outcome, Outcome.Good);
    const s = dataIn(0, cdb(0x03, 0, 0, 0, 18, 0), 18);
    assert.deepEqual([s[0], s[2], s[12]], [0x70, 0, 0]);
  });
});
