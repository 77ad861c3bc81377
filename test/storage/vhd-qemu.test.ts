// VHD (qemu's "vpc") interoperability: images we create read the same in qemu (qemu-img has no check for vpc,
// so qemu-img info and compare stand in), and qemu's dynamic and fixed images read and write in Hypatia.
// Differencing VHDs (which qemu cannot open) are checked by flattening them and comparing in qemu.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { convertImage, createDisk, openDisk, VhdDisk } from '../../src/storage/index.js';
import { assertDiskEqualsMirror, MiB, randomWrites, RawMirror, removeDir, Rng, scratchDir } from './helpers.js';
import { ensureQemuTools, qemuCompare, qemuImgOk, qemuIo } from './qemu-tools.js';

let dir = '';
before(() => { ensureQemuTools(); dir = scratchDir('vhd-qemu'); });
after(() => removeDir(dir));

describe('VHD images created by Hypatia', () => {
  for (const type of ['dynamic', 'fixed'] as const) {
    it(`${type}: qemu sees the right size and reads our writes`, () => {
      const size = 50 * MiB + 7 * 512;
      const file = path.join(dir, `h-${type}.vhd`);
      const mirror = new RawMirror(`${file}.mirror`, size);
      const disk = createDisk(file, { format: 'vhd', type, size });
      for (const w of randomWrites(new Rng(7), size, 120, 80 * 1024)) {
        disk.write(w.offset, w.data);
        mirror.write(w.offset, w.data);
      }
      disk.close();
      mirror.close();
      const info = JSON.parse(qemuImgOk('info', '-f', 'vpc', '--output=json', file));
      assert.equal(info['virtual-size'], size);
      qemuCompare(file, 'vpc', mirror.path);
    });
  }
});

describe('VHD images created by qemu-img', () => {
  for (const sub of ['dynamic', 'fixed']) {
    it(`${sub}: qemu-io writes read in Hypatia and Hypatia writes read in qemu`, () => {
      const file = path.join(dir, `q-${sub}.vhd`);
      qemuImgOk('create', '-q', '-f', 'vpc', '-o', `subformat=${sub}`, file, '40M');
      const size = JSON.parse(qemuImgOk('info', '-f', 'vpc', '--output=json', file))['virtual-size'] as number;
      const mirror = new RawMirror(`${file}.mirror`, size);
      const rng = new Rng(sub.length);
      const cmds: string[] = [];
      for (let i = 0; i < 40; i++) {
        const len = (1 + rng.int(100)) * 512;
        const off = rng.int((size - len) / 512) * 512;
        const pat = 1 + rng.int(254);
        cmds.push(`write -P ${pat} ${off} ${len}`);
        mirror.write(off, Buffer.alloc(len, pat));
      }
      qemuIo(file, 'vpc', cmds);
      const disk = openDisk(file);
      assert.ok(disk instanceof VhdDisk);
      assert.equal(disk.capacity, size, 'same CHS-derived size as qemu');
      assertDiskEqualsMirror(disk, mirror);
      for (const w of randomWrites(rng, size, 40, 64 * 1024)) {
        disk.write(w.offset, w.data);
        mirror.write(w.offset, w.data);
      }
      disk.close();
      mirror.close();
      qemuCompare(file, 'vpc', mirror.path);
    });
  }
});

describe('VHD differencing disks', () => {
  it('read through to the parent, keep their own writes, and flatten to what qemu expects', () => {
    const base = path.join(dir, 'base.vhd');
    qemuImgOk('create', '-q', '-f', 'vpc', '-o', 'subformat=dynamic', base, '30M');
    const size = JSON.parse(qemuImgOk('info', '-f', 'vpc', '--output=json', base))['virtual-size'] as number;
    const mirror = new RawMirror(path.join(dir, 'diff.mirror'), size);
    const cmds: string[] = [];
    for (let i = 0; i < 12; i++) {
      cmds.push(`write -P ${10 + i} ${i * 2 * MiB + 512} ${300 * 1024}`);
      mirror.write(i * 2 * MiB + 512, Buffer.alloc(300 * 1024, 10 + i));
    }
    qemuIo(base, 'vpc', cmds);
    const child = createDisk(path.join(dir, 'child.vhd'), { format: 'vhd', parentPath: base });
    assert.equal(child.type, 'differencing');
    assert.equal(child.capacity, size);
    for (const w of randomWrites(new Rng(99), size, 80, 16 * 1024)) {
      child.write(w.offset, w.data);
      mirror.write(w.offset, w.data);
    }
    child.close();
    const reopened = openDisk(path.join(dir, 'child.vhd'), { readOnly: true });
    assert.equal(reopened.parent?.path, path.resolve(base));
    assertDiskEqualsMirror(reopened, mirror);
    reopened.close();
    mirror.close();
    convertImage(path.join(dir, 'child.vhd'), path.join(dir, 'flat.vhd'), { format: 'vhd' });
    qemuCompare(path.join(dir, 'flat.vhd'), 'vpc', mirror.path);
  });
});
