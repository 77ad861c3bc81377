// Unit checks that need no qemu: CRC-32C vectors, sizes, 4 KiB-sector VHDX (which qemu cannot open), discard,
// unaligned requests, the async wrapper.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { AsyncDisk, crc32c, createDisk, DiskRequestError, formatSize, openDisk, parseSize } from '../../src/storage/index.js';
import { assertDiskEqualsMirror, MiB, randomWrites, RawMirror, removeDir, Rng, scratchDir } from './helpers.js';

let dir = '';
before(() => { dir = scratchDir('unit'); });
after(() => removeDir(dir));

describe('storage units', () => {
  it('CRC-32C matches the standard check values', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(32)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  });

  it('parses and formats sizes', () => {
    assert.equal(parseSize('10G'), 10 * 2 ** 30);
    assert.equal(parseSize('512m'), 512 * MiB);
    assert.equal(parseSize('1.5T'), 1.5 * 2 ** 40);
    assert.equal(parseSize('4096'), 4096);
    assert.equal(parseSize('64KiB'), 65536);
    assert.throws(() => parseSize('ten'), DiskRequestError);
    assert.equal(formatSize(64 * MiB), '64 MiB');
  });

  it('4 KiB-sector VHDX: differencing chain round trip', () => {
    const base = path.join(dir, 'base4k.vhdx');
    const mirror = new RawMirror(path.join(dir, '4k.mirror'), 40 * MiB);
    const b = createDisk(base, { format: 'vhdx', size: 40 * MiB, blockSize: MiB, logicalSectorSize: 4096 });
    const rng = new Rng(4096);
    for (const w of randomWrites(rng, 40 * MiB, 60, 64 * 1024, 4096)) { b.write(w.offset, w.data); mirror.write(w.offset, w.data); }
    b.close();
    const c = createDisk(path.join(dir, 'child4k.vhdx'), { format: 'vhdx', parentPath: base });
    assert.equal(c.logicalSectorSize, 4096);
    for (const w of randomWrites(rng, 40 * MiB, 60, 64 * 1024, 4096)) { c.write(w.offset, w.data); mirror.write(w.offset, w.data); }
    assert.throws(() => c.write(512, Buffer.alloc(512)), /not aligned to the 4096-byte sector/);
    c.close();
    const r = openDisk(path.join(dir, 'child4k.vhdx'), { readOnly: true });
    assertDiskEqualsMirror(r, mirror);
    r.close();
    mirror.close();
  });

  it('discard zeroes whole blocks of a dynamic VHDX and requests are bounds-checked', async () => {
    const d = createDisk(path.join(dir, 'discard.vhdx'), { format: 'vhdx', size: 8 * MiB, blockSize: MiB });
    d.write(MiB, Buffer.alloc(2 * MiB, 9));
    d.discard(MiB + 512, 2 * MiB - 512); // only block 2 is whole
    const b = Buffer.alloc(2 * MiB);
    d.read(MiB, b);
    assert.equal(b[0], 9);
    assert.equal(b[MiB - 1], 9);
    assert.equal(b[MiB], 0);
    assert.throws(() => d.read(8 * MiB, Buffer.alloc(512)), /past the end/);
    assert.throws(() => d.write(3, Buffer.alloc(512)), /not aligned/);
    const a = new AsyncDisk(d);
    await a.writeSectors(10, Buffer.alloc(512, 4));
    const s = Buffer.alloc(512);
    await a.readSectors(10, s);
    assert.equal(s[100], 4);
    await a.close();
    const ro = openDisk(path.join(dir, 'discard.vhdx'), { readOnly: true });
    assert.throws(() => ro.write(0, Buffer.alloc(512)), /read-only/);
    ro.close();
  });
});
