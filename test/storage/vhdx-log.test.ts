// VHDX log replay: an image whose metadata update was logged but not applied opens consistent after replay,
// both in Hypatia and in qemu (which checks our log entry format independently); torn entries are ignored and
// hostile ones refused.
import { after, before, describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createDisk, CorruptImageError, LogReplayRequiredError, openDisk } from '../../src/storage/index.js';
import { payloadIndex, batGeometry, setEntry } from '../../src/storage/vhdx-bat.js';
import { PAYLOAD_BLOCK_FULLY_PRESENT } from '../../src/storage/vhdx-constants.js';
import { MiB, removeDir, scratchDir } from './helpers.js';
import { ensureQemuTools, qemuCheckClean, qemuImg, qemuIo } from './qemu-tools.js';
import { currentHeader, readAt, regions, writeAt, writeDirtyLog } from './vhdx-image-surgery.js';

let dir = '';
before(() => { ensureQemuTools(); dir = scratchDir('vhdx-log'); });
after(() => removeDir(dir));

const SIZE = 32 * MiB;

/** A clean image with block 0 written, plus a new block 5 (0x5c, with a zeroed hole) whose BAT entry is only in the log. */
function dirtyImage(name: string, opts: { corrupt?: boolean } = {}): string {
  const file = path.join(dir, name);
  const d = createDisk(file, { format: 'vhdx', type: 'dynamic', size: SIZE, blockSize: MiB });
  d.write(0, Buffer.alloc(MiB, 0x11));
  d.close();
  const { batOffset } = regions(file);
  const newOff = Math.ceil(fs.statSync(file).size / MiB) * MiB;
  writeAt(file, newOff, Buffer.alloc(MiB, 0x5c));
  const page = readAt(file, batOffset, 4096);
  setEntry(page, payloadIndex(batGeometry(SIZE, MiB, 512, false), 5), PAYLOAD_BLOCK_FULLY_PRESENT, newOff);
  writeDirtyLog(file, [
    { kind: 'data', offset: batOffset, data: page },
    { kind: 'zero', offset: newOff + 512 * 1024, length: 64 * 1024 },
  ], opts);
  return file;
}

const EXPECT_BLOCK5 = [
  `read -P 17 0 ${MiB}`, `read -P 92 ${5 * MiB} ${512 * 1024}`, `read -P 0 ${5 * MiB + 512 * 1024} ${64 * 1024}`,
  `read -P 92 ${5 * MiB + 576 * 1024} ${448 * 1024}`,
];

describe('VHDX log replay', () => {
  it('qemu replays the log entries Hypatia writes', () => {
    const file = dirtyImage('qemu-replay.vhdx');
    const r = qemuImg('check', '-r', 'all', '-f', 'vhdx', file);
    assert.equal(r.status, 0, r.stderr + r.stdout);
    qemuIo(file, 'vhdx', EXPECT_BLOCK5);
    qemuCheckClean(file, 'vhdx');
  });

  it('Hypatia refuses a dirty image read-only, replays it read-write, and the result is clean', () => {
    const file = dirtyImage('our-replay.vhdx');
    assert.throws(() => openDisk(file, { readOnly: true }), LogReplayRequiredError);
    const d = openDisk(file);
    const b = Buffer.alloc(MiB);
    d.read(5 * MiB, b);
    assert.equal(b[0], 0x5c);
    assert.equal(b[512 * 1024], 0);
    assert.equal(b[576 * 1024], 0x5c);
    d.close();
    assert.ok(currentHeader(file).header.logGuid.every((x) => x === 0), 'log marked clear');
    qemuCheckClean(file, 'vhdx');
    qemuIo(file, 'vhdx', EXPECT_BLOCK5);
  });

  it('ignores a torn (bad checksum) entry: the image opens in its state before the update', () => {
    const file = dirtyImage('torn.vhdx', { corrupt: true });
    const d = openDisk(file);
    const b = Buffer.alloc(4096);
    d.read(5 * MiB, b);
    assert.ok(b.every((x) => x === 0));
    d.read(0, b);
    assert.equal(b[0], 0x11);
    d.close();
    qemuCheckClean(file, 'vhdx');
  });

  it('refuses log entries that write into the header section, past the file, or after truncation', () => {
    const mk = (name: string) => {
      const file = path.join(dir, name);
      createDisk(file, { format: 'vhdx', size: SIZE, blockSize: MiB }).close();
      return file;
    };
    const a = mk('h1.vhdx');
    writeDirtyLog(a, [{ kind: 'data', offset: 64 * 1024, data: Buffer.alloc(4096, 1) }]);
    assert.throws(() => openDisk(a), (e: unknown) => e instanceof CorruptImageError && /header section/.test(e.message));
    const b = mk('h2.vhdx');
    writeDirtyLog(b, [{ kind: 'zero', offset: 4 * MiB, length: 2 ** 40 }]);
    assert.throws(() => openDisk(b), (e: unknown) => e instanceof CorruptImageError && /past the end of the file/.test(e.message));
    const c = mk('h3.vhdx');
    writeDirtyLog(c, [{ kind: 'data', offset: 4 * MiB, data: Buffer.alloc(4096) }], { flushedFileOffset: 2 ** 36 });
    assert.throws(() => openDisk(c), (e: unknown) => e instanceof CorruptImageError && /truncated/.test(e.message));
    const d = mk('h4.vhdx');
    const { header } = currentHeader(d);
    writeDirtyLog(d, [{ kind: 'data', offset: header.logOffset, data: Buffer.alloc(4096) }]);
    assert.throws(() => openDisk(d), (e: unknown) => e instanceof CorruptImageError && /log itself/.test(e.message));
  });
});
