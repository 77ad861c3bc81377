// VHDX differencing chains, merge and resize, verified with qemu-img (which cannot open differencing VHDX
// itself, so chains are checked by flattening and by merging into a base qemu can read).
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { convertImage, createDisk, mergeIntoParent, openDisk } from '../../src/storage/index.js';
import { assertDiskEqualsMirror, MiB, randomWrites, RawMirror, removeDir, Rng, scratchDir } from './helpers.js';
import { ensureQemuTools, qemuCheckClean, qemuCompare, qemuImgOk, qemuIo } from './qemu-tools.js';

let dir = '';
before(() => { ensureQemuTools(); dir = scratchDir('vhdx-chain'); });
after(() => removeDir(dir));

describe('VHDX differencing chains', () => {
  it('base (qemu) <- child <- grandchild read, flatten and merge correctly', () => {
    const size = 64 * MiB;
    const base = path.join(dir, 'base.vhdx');
    const child = path.join(dir, 'child.vhdx');
    const grand = path.join(dir, 'sub', 'grand.vhdx');
    fs.mkdirSync(path.dirname(grand));
    qemuImgOk('create', '-q', '-f', 'vhdx', '-o', 'subformat=dynamic,block_size=4M', base, String(size));
    const mirror = new RawMirror(path.join(dir, 'chain.mirror'), size);
    const cmds: string[] = [];
    for (let i = 0; i < 16; i++) {
      cmds.push(`write -P ${20 + i} ${i * 4 * MiB + 4096} ${MiB}`);
      mirror.write(i * 4 * MiB + 4096, Buffer.alloc(MiB, 20 + i));
    }
    qemuIo(base, 'vhdx', cmds);

    const c = createDisk(child, { format: 'vhdx', parentPath: base });
    assert.equal(c.type, 'differencing');
    assert.equal(c.capacity, size);
    const rng = new Rng(1234);
    for (const w of randomWrites(rng, size, 100, 48 * 1024)) { c.write(w.offset, w.data); mirror.write(w.offset, w.data); }
    // A whole block written in one go becomes fully present; a partial one relies on the sector bitmap.
    const whole = Buffer.alloc(2 * MiB, 0x99);
    c.write(10 * MiB, whole);
    mirror.write(10 * MiB, whole);
    c.close();

    const g = createDisk(grand, { format: 'vhdx', parentPath: child, blockSize: MiB });
    for (const w of randomWrites(rng, size, 100, 48 * 1024)) { g.write(w.offset, w.data); mirror.write(w.offset, w.data); }
    g.close();

    const opened = openDisk(grand, { readOnly: true });
    assert.equal(opened.parent?.path, path.resolve(child));
    assert.equal(opened.parent?.parent?.path, path.resolve(base));
    assertDiskEqualsMirror(opened, mirror);
    opened.close();

    const flat = path.join(dir, 'flat.vhdx');
    convertImage(grand, flat, { format: 'vhdx', blockSize: 2 * MiB });
    qemuCheckClean(flat, 'vhdx');
    qemuCompare(flat, 'vhdx', mirror.path);
    convertImage(grand, path.join(dir, 'flat.raw'), { format: 'raw' });
    assert.ok(fs.readFileSync(path.join(dir, 'flat.raw')).equals(fs.readFileSync(mirror.path)));

    // Merge grandchild into child, then child into base; qemu reads the result.
    assert.equal(mergeIntoParent(grand).parentPath, path.resolve(child));
    assert.ok(!fs.existsSync(grand));
    const afterFirst = openDisk(child, { readOnly: true });
    assertDiskEqualsMirror(afterFirst, mirror);
    afterFirst.close();
    mergeIntoParent(child);
    mirror.close();
    qemuCheckClean(base, 'vhdx');
    qemuCompare(base, 'vhdx', mirror.path);
  });

  it('a child refuses a parent that changed after it was created', () => {
    const base = path.join(dir, 'p2.vhdx');
    const child = path.join(dir, 'c2.vhdx');
    createDisk(base, { format: 'vhdx', size: 8 * MiB }).close();
    createDisk(child, { format: 'vhdx', parentPath: base }).close();
    const p = openDisk(base);
    p.write(0, Buffer.alloc(512, 1));
    p.close();
    assert.throws(() => openDisk(child), /has been modified since/);
  });

  it('a moved chain is found through the relative parent path', () => {
    const a = path.join(dir, 'mv', 'a.vhdx');
    fs.mkdirSync(path.dirname(a));
    createDisk(a, { format: 'vhdx', size: 8 * MiB }).close();
    const b = createDisk(path.join(dir, 'mv', 'b.vhdx'), { format: 'vhdx', parentPath: a });
    b.close();
    fs.renameSync(path.join(dir, 'mv'), path.join(dir, 'moved'));
    const d = openDisk(path.join(dir, 'moved', 'b.vhdx'), { readOnly: true });
    assert.equal(d.parent?.path, path.join(dir, 'moved', 'a.vhdx'));
    d.close();
  });
});

describe('VHDX resize', () => {
  it('grows past the BAT region (relocating the BAT), then shrinks; qemu agrees at every step', () => {
    const file = path.join(dir, 'grow.vhdx');
    const d = createDisk(file, { format: 'vhdx', size: 256 * MiB, blockSize: MiB });
    d.write(5 * MiB, Buffer.alloc(2 * MiB, 0x11));
    d.write(256 * MiB - 4096, Buffer.alloc(4096, 0x22));
    d.resize(200 * 1024 * MiB); // 200 GiB at 1 MiB blocks needs a BAT larger than its 1 MiB region
    d.write(150 * 1024 * MiB, Buffer.alloc(8192, 0x33));
    d.close();
    qemuCheckClean(file, 'vhdx');
    assert.equal(JSON.parse(qemuImgOk('info', '--output=json', file))['virtual-size'], 200 * 1024 * MiB);
    qemuIo(file, 'vhdx', [
      `read -P 17 ${5 * MiB} ${2 * MiB}`, `read -P 34 ${256 * MiB - 4096} 4096`, `read -P 51 ${150 * 1024 * MiB} 8192`,
      `read -P 0 ${256 * MiB} ${MiB}`,
    ]);
    const s = openDisk(file);
    s.resize(6 * MiB + 512);
    s.close();
    qemuCheckClean(file, 'vhdx');
    assert.equal(JSON.parse(qemuImgOk('info', '--output=json', file))['virtual-size'], 6 * MiB + 512);
    qemuIo(file, 'vhdx', [`read -P 17 ${5 * MiB} ${MiB}`, `read -P 17 ${6 * MiB} 512`]);
    const g = openDisk(file);
    g.resize(8 * MiB);
    g.close();
    // What lay past the shrunk end reads as zeros after growing again.
    qemuIo(file, 'vhdx', [`read -P 17 ${5 * MiB} ${MiB}`, `read -P 17 ${6 * MiB} 512`, `read -P 0 ${6 * MiB + 512} ${2 * MiB - 512}`]);
    qemuCheckClean(file, 'vhdx');
  });

  it('grows a fixed VHDX with allocated blocks', () => {
    const file = path.join(dir, 'fixed-grow.vhdx');
    const mirror = new RawMirror(`${file}.mirror`, 40 * MiB);
    const d = createDisk(file, { format: 'vhdx', type: 'fixed', size: 20 * MiB, blockSize: 4 * MiB });
    d.write(19 * MiB, Buffer.alloc(MiB, 5));
    mirror.write(19 * MiB, Buffer.alloc(MiB, 5));
    d.resize(40 * MiB);
    d.write(39 * MiB, Buffer.alloc(MiB, 6));
    mirror.write(39 * MiB, Buffer.alloc(MiB, 6));
    assert.equal(d.info().allocatedSize, 40 * MiB);
    d.close();
    mirror.close();
    qemuCheckClean(file, 'vhdx');
    qemuCompare(file, 'vhdx', mirror.path);
  });

  it('resizes VHD images (dynamic and fixed) as qemu reads them', () => {
    for (const type of ['dynamic', 'fixed'] as const) {
      const file = path.join(dir, `r-${type}.vhd`);
      const d = createDisk(file, { format: 'vhd', type, size: 10 * MiB });
      d.write(9 * MiB, Buffer.alloc(MiB, 7));
      d.resize(30 * MiB);
      d.write(29 * MiB, Buffer.alloc(MiB, 8));
      d.close();
      assert.equal(JSON.parse(qemuImgOk('info', '-f', 'vpc', '--output=json', file))['virtual-size'], 30 * MiB);
      qemuIo(file, 'vpc', [`read -P 7 ${9 * MiB} ${MiB}`, `read -P 0 ${10 * MiB} ${19 * MiB}`, `read -P 8 ${29 * MiB} ${MiB}`]);
      const s = openDisk(file);
      s.resize(9 * MiB + 512);
      s.close();
      assert.equal(JSON.parse(qemuImgOk('info', '-f', 'vpc', '--output=json', file))['virtual-size'], 9 * MiB + 512);
      qemuIo(file, 'vpc', [`read -P 7 ${9 * MiB} 512`]);
    }
  });
});
