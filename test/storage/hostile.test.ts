// Damaged and hostile images are refused with a clear, typed error: bad signatures and checksums, region
// overlaps, BAT entries past the end of the file or overlapping, absurd sizes, parent loops.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createDisk, CorruptImageError, openDisk, StorageError } from '../../src/storage/index.js';
import { batGeometry, payloadIndex, setEntry } from '../../src/storage/vhdx-bat.js';
import { HEADER_OFFSETS, MiB, PAYLOAD_BLOCK_FULLY_PRESENT, REGION_TABLE_OFFSETS } from '../../src/storage/vhdx-constants.js';
import { buildRegionTable } from '../../src/storage/vhdx-region.js';
import { BAT_REGION_GUID, METADATA_REGION_GUID } from '../../src/storage/vhdx-constants.js';
import { buildFooter, parseFooter } from '../../src/storage/vhd-format.js';
import { readAt, regions, writeAt } from './vhdx-image-surgery.js';
import { removeDir, scratchDir } from './helpers.js';

let dir = '';
let n = 0;
before(() => { dir = scratchDir('hostile'); });
after(() => removeDir(dir));

function vhdx(size = 16 * MiB): string {
  const file = path.join(dir, `v${n++}.vhdx`);
  const d = createDisk(file, { format: 'vhdx', size, blockSize: MiB });
  d.write(0, Buffer.alloc(MiB, 1));
  d.write(3 * MiB, Buffer.alloc(MiB, 2));
  d.close();
  return file;
}

function refused(file: string, pattern: RegExp): void {
  assert.throws(() => openDisk(file).close(), (e: unknown) => {
    assert.ok(e instanceof StorageError, `expected a StorageError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

describe('hostile VHDX images', () => {
  it('bad file signature', () => {
    const f = vhdx();
    writeAt(f, 0, Buffer.from('vhdxfilf'));
    // No VHDX signature: detection falls back to raw, so force the format.
    assert.throws(() => openDisk(f, { format: 'vhdx' }), /vhdx: bad file signature/);
  });

  it('one corrupted header falls back to the other; two are refused', () => {
    const f = vhdx();
    writeAt(f, HEADER_OFFSETS[1] + 100, Buffer.from([0xde, 0xad]));
    openDisk(f).close();
    const g = vhdx();
    writeAt(g, HEADER_OFFSETS[0] + 8, Buffer.from([9]));
    writeAt(g, HEADER_OFFSETS[1], Buffer.from('xxxx'));
    refused(g, /vhdx: no valid header \(header 1: bad checksum; header 2: bad signature\)/);
  });

  it('both region tables corrupted', () => {
    const f = vhdx();
    writeAt(f, REGION_TABLE_OFFSETS[0] + 20, Buffer.from([1]));
    writeAt(f, REGION_TABLE_OFFSETS[1] + 20, Buffer.from([1]));
    refused(f, /vhdx: no valid region table/);
  });

  it('overlapping regions', () => {
    const f = vhdx();
    const { batOffset } = regions(f);
    const t = buildRegionTable([
      { guid: BAT_REGION_GUID, offset: batOffset, length: MiB, required: true },
      { guid: METADATA_REGION_GUID, offset: batOffset, length: MiB, required: true },
    ]);
    writeAt(f, REGION_TABLE_OFFSETS[0], t);
    writeAt(f, REGION_TABLE_OFFSETS[1], t);
    refused(f, /vhdx: BAT region overlaps metadata region|metadata region overlaps BAT region/);
  });

  it('BAT entry past the end of the file', () => {
    const f = vhdx();
    const { batOffset } = regions(f);
    const page = readAt(f, batOffset, 4096);
    const i = payloadIndex(batGeometry(16 * MiB, MiB, 512, false), 9);
    setEntry(page, i, PAYLOAD_BLOCK_FULLY_PRESENT, 1024 * MiB);
    writeAt(f, batOffset, page);
    refused(f, new RegExp(`vhdx: BAT entry ${i} points past end of file`));
  });

  it('BAT entries that overlap each other or the metadata', () => {
    const f = vhdx();
    const { batOffset, metadataOffset } = regions(f);
    const g = batGeometry(16 * MiB, MiB, 512, false);
    const page = readAt(f, batOffset, 4096);
    const data0 = readAt(f, batOffset, 8).readBigUInt64LE(0);
    page.writeBigUInt64LE(data0, payloadIndex(g, 7) * 8);
    writeAt(f, batOffset, page);
    refused(f, /vhdx: payload block \(BAT entry \d+\) overlaps payload block/);
    const h = vhdx();
    const p2 = readAt(h, batOffset, 4096);
    setEntry(p2, payloadIndex(g, 2), PAYLOAD_BLOCK_FULLY_PRESENT, metadataOffset);
    writeAt(h, batOffset, p2);
    refused(h, /overlaps/);
  });

  it('absurd metadata: block size, sector size, virtual size', () => {
    const cases: [number, number, RegExp][] = [
      [0, 3 * MiB, /block size 3145728 is not a power of two/],
      [3, 1000, /logical sector size 1000/],
    ];
    for (const [item, value, re] of cases) {
      const f = vhdx();
      const { metadataOffset } = regions(f);
      const table = readAt(f, metadataOffset, 64 * 1024);
      const itemOff = table.readUInt32LE(32 + item * 32 + 16);
      const b = Buffer.alloc(4);
      b.writeUInt32LE(value);
      writeAt(f, metadataOffset + itemOff, b);
      refused(f, re);
    }
    const f = vhdx();
    const { metadataOffset } = regions(f);
    const table = readAt(f, metadataOffset, 64 * 1024);
    const sizeOff = table.readUInt32LE(32 + 1 * 32 + 16);
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(2n ** 60n);
    writeAt(f, metadataOffset + sizeOff, b);
    refused(f, /virtual disk size \d+ is not a multiple of the sector size up to 64 TiB/);
    b.writeBigUInt64LE(BigInt(200 * 1024 * MiB));
    writeAt(f, metadataOffset + sizeOff, b);
    refused(f, /BAT region \(\d+ bytes\) is too small for \d+ entries/);
  });

  it('a truncated file', () => {
    const f = vhdx();
    fs.truncateSync(f, 2 * MiB);
    refused(f, /extends past end of file/);
  });

  it('parent chain loops', () => {
    const a = path.join(dir, 'loop-a.vhdx');
    const b = path.join(dir, 'loop-b.vhdx');
    const p = path.join(dir, 'loop-p.vhdx');
    createDisk(p, { format: 'vhdx', size: 8 * MiB }).close();
    createDisk(a, { format: 'vhdx', parentPath: p }).close();
    createDisk(b, { format: 'vhdx', parentPath: a }).close();
    // Replace the base with a copy of b: a -> p(=b) -> a.
    fs.copyFileSync(b, p);
    assert.throws(() => openDisk(a), (e: unknown) => e instanceof CorruptImageError && /parent chain loops: loop-a.vhdx -> loop-p.vhdx -> loop-a.vhdx/.test(e.message));
  });

  it('a missing parent', () => {
    const p = path.join(dir, 'gone-p.vhdx');
    const c = path.join(dir, 'gone-c.vhdx');
    createDisk(p, { format: 'vhdx', size: 8 * MiB }).close();
    createDisk(c, { format: 'vhdx', parentPath: p }).close();
    fs.rmSync(p);
    refused(c, /vhdx: parent of .* not found/);
  });
});

describe('hostile VHD images', () => {
  function vhd(type: 'fixed' | 'dynamic'): string {
    const file = path.join(dir, `h${n++}.vhd`);
    const d = createDisk(file, { format: 'vhd', type, size: 8 * MiB });
    d.write(0, Buffer.alloc(4096, 3));
    d.close();
    return file;
  }

  it('bad footer checksum on a fixed disk', () => {
    const f = vhd('fixed');
    writeAt(f, 8 * MiB + 70, Buffer.from([0x42]));
    refused(f, /vhd: bad footer checksum/);
  });

  it('a fixed disk claiming more data than the file holds', () => {
    const f = vhd('fixed');
    const footer = parseFooter(readAt(f, 8 * MiB, 512));
    assert.ok(typeof footer !== 'string');
    writeAt(f, 8 * MiB, buildFooter({ ...footer, currentSize: 100 * MiB }));
    refused(f, /vhd: footer says 104857600 bytes but the file holds only/);
  });

  it('a dynamic disk with a BAT entry past the end of the file', () => {
    const f = vhd('dynamic');
    const e = Buffer.alloc(4);
    e.writeUInt32BE(0x00100000);
    writeAt(f, 1536 + 4, e);
    refused(f, /vhd: BAT entry 1 points past end of file/);
  });

  it('a dynamic disk with an absurd size', () => {
    const f = vhd('dynamic');
    const footer = parseFooter(readAt(f, 0, 512));
    assert.ok(typeof footer !== 'string');
    const bad = buildFooter({ ...footer, currentSize: 2 ** 50 });
    writeAt(f, 0, bad);
    writeAt(f, fs.statSync(f).size - 512, bad);
    refused(f, /vhd: disk size \d+ is absurd/);
  });
});
