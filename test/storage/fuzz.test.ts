// Fuzzing: random bytes of valid images (headers, region tables, metadata, BAT, log, VHD footer/header/BAT) are
// mutated, sometimes with checksums fixed up so the damage reaches the deeper parsers. Opening, reading
// everything and writing must either work or fail with a StorageError; any other exception is a bug.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createDisk, openDisk, StorageError } from '../../src/storage/index.js';
import { vhdxChecksum } from '../../src/storage/crc32c.js';
import { vhdChecksum } from '../../src/storage/vhd-format.js';
import { MiB, removeDir, Rng, scratchDir } from './helpers.js';
import { currentHeader, readAt, regions, writeAt, writeDirtyLog } from './vhdx-image-surgery.js';

let dir = '';
before(() => { dir = scratchDir('fuzz'); });
after(() => removeDir(dir));

interface Target { name: string; offset: number; length: number; fix?: (f: string) => void }

function fixCrc(file: string, offset: number, length: number): void {
  const b = readAt(file, offset, length);
  b.writeUInt32LE(vhdxChecksum(b, 4), 4);
  writeAt(file, offset, b.subarray(4, 8));
}

function fixLogEntry(file: string, logOffset: number): void {
  const len = readAt(file, logOffset + 8, 4).readUInt32LE(0);
  if (len >= 4096 && len <= MiB && len % 4096 === 0) fixCrc(file, logOffset, len);
}

function fixVhd(file: string, offset: number, length: number, field: number): void {
  const b = readAt(file, offset, length);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(vhdChecksum(b, field));
  writeAt(file, offset + field, c);
}

/** Opens, reads the whole disk and (if asked) writes and flushes; only StorageErrors may escape. */
function exercise(file: string, write: boolean, rng: Rng): void {
  const disk = openDisk(file, { readOnly: !write });
  try {
    const buf = Buffer.alloc(MiB);
    for (let off = 0; off < disk.capacity && off < 64 * MiB; off += MiB) disk.read(off, buf.subarray(0, Math.min(MiB, disk.capacity - off)));
    if (write) {
      const s = Math.floor(disk.capacity / 512);
      disk.write(rng.int(s) * 512, Buffer.alloc(512, 7));
      disk.write(rng.int(s - 16) * 512, Buffer.alloc(8192, 8));
      disk.discard(0, Math.min(disk.capacity, 2 * MiB));
      disk.flush();
    }
  } finally {
    disk.close();
  }
}

function fuzz(name: string, original: string, targets: Target[], iterations: number, seed: number, write: boolean): { typed: number; ok: number } {
  const rng = new Rng(seed);
  const work = path.join(dir, `${name}.work`);
  let typed = 0;
  let ok = 0;
  for (let it = 0; it < iterations; it++) {
    fs.copyFileSync(original, work);
    const t = targets[rng.int(targets.length)];
    const count = 1 + rng.int(4);
    for (let k = 0; k < count; k++) {
      const off = t.offset + rng.int(t.length);
      const v = Buffer.from([rng.int(4) === 0 ? 0xff : rng.int(256)]);
      writeAt(work, off, v);
    }
    if (t.fix && rng.int(2) === 0) t.fix(work);
    try {
      exercise(work, write && rng.int(3) === 0, rng);
      ok++;
    } catch (e) {
      if (!(e instanceof StorageError)) {
        assert.fail(`${name} iteration ${it} (target ${t.name}): unexpected ${e instanceof Error ? e.stack : String(e)}`);
      }
      assert.ok(e.message.length > 0 && !e.message.includes('\n'), 'one-line message');
      typed++;
    }
  }
  return { typed, ok };
}

function vhdxTargets(file: string): Target[] {
  const { batOffset, metadataOffset } = regions(file);
  const { header } = currentHeader(file);
  const lo = header.logOffset;
  return [
    { name: 'file identifier', offset: 0, length: 16 },
    { name: 'header 1', offset: 64 * 1024, length: 80, fix: (f) => fixCrc(f, 64 * 1024, 4096) },
    { name: 'header 2', offset: 128 * 1024, length: 80, fix: (f) => fixCrc(f, 128 * 1024, 4096) },
    { name: 'region table', offset: 192 * 1024, length: 80, fix: (f) => { fixCrc(f, 192 * 1024, 65536); } },
    { name: 'both region tables', offset: 192 * 1024, length: 80, fix: (f) => { writeAt(f, 256 * 1024, readAt(f, 192 * 1024, 65536)); fixCrc(f, 192 * 1024, 65536); fixCrc(f, 256 * 1024, 65536); } },
    { name: 'metadata table', offset: metadataOffset, length: 32 + 6 * 32 },
    { name: 'metadata items', offset: metadataOffset + 64 * 1024, length: 512 },
    { name: 'BAT', offset: batOffset, length: 256 },
    { name: 'log', offset: lo, length: 8192, fix: (f) => fixLogEntry(f, lo) },
  ];
}

describe('fuzzing', () => {
  it('mutated VHDX images (dynamic, differencing, dirty log) fail only with StorageErrors', () => {
    const dyn = path.join(dir, 'dyn.vhdx');
    const d = createDisk(dyn, { format: 'vhdx', size: 24 * MiB, blockSize: MiB });
    d.write(0, Buffer.alloc(MiB, 1));
    d.write(5 * MiB + 512, Buffer.alloc(4096, 2));
    d.close();
    const parent = path.join(dir, 'parent.vhdx');
    fs.copyFileSync(dyn, parent);
    const child = path.join(dir, 'child.vhdx');
    const c = createDisk(child, { format: 'vhdx', parentPath: parent, blockSize: MiB });
    c.write(MiB + 1024, Buffer.alloc(4096, 3));
    c.write(7 * MiB, Buffer.alloc(MiB, 4));
    c.close();
    const dirty = path.join(dir, 'dirty.vhdx');
    fs.copyFileSync(dyn, dirty);
    const { batOffset } = regions(dirty);
    writeDirtyLog(dirty, [{ kind: 'data', offset: batOffset, data: readAt(dirty, batOffset, 4096) }, { kind: 'zero', offset: 6 * MiB, length: 8192 }]);

    let typed = 0;
    let ok = 0;
    for (const [name, file, n, write] of [['dyn', dyn, 150, true], ['child', child, 100, true], ['dirty', dirty, 80, true]] as const) {
      const r = fuzz(name, file, vhdxTargets(file), n, name.length * 7919, write);
      typed += r.typed;
      ok += r.ok;
    }
    assert.ok(typed > 20, `mutations were detected (${typed} refused, ${ok} accepted)`);
    assert.ok(ok > 20, `harmless mutations were accepted (${ok})`);
  });

  it('mutated VHD images (dynamic and fixed) fail only with StorageErrors', () => {
    const dyn = path.join(dir, 'dyn.vhd');
    const d = createDisk(dyn, { format: 'vhd', type: 'dynamic', size: 12 * MiB });
    d.write(0, Buffer.alloc(65536, 1));
    d.write(5 * MiB, Buffer.alloc(4096, 2));
    d.close();
    const size = fs.statSync(dyn).size;
    const fixed = path.join(dir, 'fixed.vhd');
    createDisk(fixed, { format: 'vhd', type: 'fixed', size: 4 * MiB }).close();
    const r1 = fuzz('vhd-dyn', dyn, [
      { name: 'footer copy', offset: 0, length: 512, fix: (f) => fixVhd(f, 0, 512, 64) },
      { name: 'footer', offset: size - 512, length: 512, fix: (f) => fixVhd(f, size - 512, 512, 64) },
      { name: 'dynamic header', offset: 512, length: 1024, fix: (f) => fixVhd(f, 512, 1024, 36) },
      { name: 'BAT', offset: 1536, length: 32 },
    ], 150, 17, true);
    const r2 = fuzz('vhd-fixed', fixed, [
      { name: 'footer', offset: 4 * MiB, length: 512, fix: (f) => fixVhd(f, 4 * MiB, 512, 64) },
    ], 60, 23, true);
    assert.ok(r1.typed + r2.typed > 20, `mutations were detected (${r1.typed + r2.typed})`);
    assert.ok(r1.ok + r2.ok > 20, `harmless mutations were accepted (${r1.ok + r2.ok})`);
  });
});
