// VHDX interoperability with qemu-img/qemu-io: images we create pass qemu-img check and read the same in qemu;
// images qemu creates (dynamic and fixed, several block sizes) read and write correctly in Hypatia.
// (qemu supports only 512-byte logical sectors in VHDX; 4 KiB-sector images are covered in vhdx-unit.test.ts.)
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { createDisk, openDisk, VhdxDisk } from '../../src/storage/index.js';
import { assertDiskEqualsMirror, MiB, randomWrites, RawMirror, removeDir, Rng, scratchDir } from './helpers.js';
import { ensureQemuTools, qemuCheckClean, qemuCompare, qemuImgOk, qemuIo } from './qemu-tools.js';

let dir = '';
before(() => { ensureQemuTools(); dir = scratchDir('vhdx-qemu'); });
after(() => removeDir(dir));

describe('VHDX images created by Hypatia', () => {
  const cases = [
    { type: 'dynamic' as const, blockSize: MiB, size: 40 * MiB + 3 * 512, ls: 512 },
    { type: 'dynamic' as const, blockSize: 32 * MiB, size: 100 * MiB, ls: 512 },
    { type: 'dynamic' as const, blockSize: 8 * MiB, size: 64 * MiB, ls: 512 },
    { type: 'fixed' as const, blockSize: 2 * MiB, size: 30 * MiB, ls: 512 },
  ];
  for (const c of cases) {
    it(`${c.type}, ${c.blockSize / MiB} MiB blocks, ${c.ls}-byte sectors: qemu-img check is clean and qemu reads our writes`, () => {
      const file = path.join(dir, `h-${c.type}-${c.blockSize}-${c.ls}.vhdx`);
      const mirror = new RawMirror(`${file}.mirror`, c.size);
      const disk = createDisk(file, { format: 'vhdx', type: c.type, size: c.size, blockSize: c.blockSize, logicalSectorSize: c.ls });
      const rng = new Rng(c.blockSize + c.ls);
      for (const w of randomWrites(rng, c.size, 150, 96 * 1024, c.ls)) {
        disk.write(w.offset, w.data);
        mirror.write(w.offset, w.data);
      }
      // The last sector, and a write spanning a block boundary.
      const tail = Buffer.alloc(c.ls, 0x5a);
      disk.write(c.size - c.ls, tail);
      mirror.write(c.size - c.ls, tail);
      const span = Buffer.alloc(8 * c.ls, 0xc3);
      disk.write(c.blockSize - 4 * c.ls, span);
      mirror.write(c.blockSize - 4 * c.ls, span);
      disk.close();
      mirror.close();
      assert.match(qemuCheckClean(file, 'vhdx'), /No errors/);
      const info = JSON.parse(qemuImgOk('info', '--output=json', file));
      assert.equal(info['virtual-size'], c.size);
      assert.equal(info['format-specific']?.data?.['block-size'] ?? c.blockSize, c.blockSize);
      qemuCompare(file, 'vhdx', mirror.path);
      const again = openDisk(file, { readOnly: true });
      const m2 = new RawMirror(`${file}.mirror`, c.size, true);
      assertDiskEqualsMirror(again, m2);
      again.close();
      m2.close();
    });
  }
});

describe('VHDX images created by qemu-img', () => {
  const cases = [
    { subformat: 'dynamic', blockSize: MiB, size: 48 * MiB },
    { subformat: 'dynamic', blockSize: 32 * MiB, size: 80 * MiB },
    { subformat: 'dynamic', blockSize: 256 * MiB, size: 300 * MiB },
    { subformat: 'fixed', blockSize: MiB, size: 24 * MiB },
    { subformat: 'fixed', blockSize: 32 * MiB, size: 40 * MiB },
  ];
  for (const c of cases) {
    it(`${c.subformat}, ${c.blockSize / MiB} MiB blocks: qemu-io writes read back in Hypatia, Hypatia writes read back in qemu`, () => {
      const file = path.join(dir, `q-${c.subformat}-${c.blockSize}.vhdx`);
      qemuImgOk('create', '-q', '-f', 'vhdx', '-o', `subformat=${c.subformat},block_size=${c.blockSize}`, file, String(c.size));
      const mirror = new RawMirror(`${file}.mirror`, c.size);
      const rng = new Rng(c.blockSize ^ c.size);
      const cmds: string[] = [];
      for (let i = 0; i < 40; i++) {
        const len = (1 + rng.int(128)) * 512;
        const off = rng.int((c.size - len) / 512) * 512;
        const pat = 1 + rng.int(254);
        cmds.push(`write -P ${pat} ${off} ${len}`);
        mirror.write(off, Buffer.alloc(len, pat));
      }
      cmds.push(`write -P 77 ${c.size - 4096} 4096`);
      mirror.write(c.size - 4096, Buffer.alloc(4096, 77));
      qemuIo(file, 'vhdx', cmds);
      const disk = openDisk(file);
      assert.ok(disk instanceof VhdxDisk);
      assert.equal(disk.capacity, c.size);
      assert.equal(disk.info().blockSize, c.blockSize);
      assert.equal(disk.type, c.subformat);
      assertDiskEqualsMirror(disk, mirror);
      // Now the other way: Hypatia writes, qemu reads.
      for (const w of randomWrites(rng, c.size, 60, 64 * 1024)) {
        disk.write(w.offset, w.data);
        mirror.write(w.offset, w.data);
      }
      disk.close();
      mirror.close();
      qemuCheckClean(file, 'vhdx');
      qemuCompare(file, 'vhdx', mirror.path);
    });
  }
});
