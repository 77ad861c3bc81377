// `hypatia run --disk`: what the command line refuses before any VM exists — a missing file, a directory, a
// damaged image, a kernel without VMBus — each with status 2 and one line naming the disk.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createDisk } from '../../src/storage/index.js';
import { MiB, removeDir, scratchDir } from '../storage/helpers.js';

const CLI = join(resolve('.'), 'bin', 'hypatia.js');
let dir: string;

function run(...args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, 'run', ...args], { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stderr: r.stderr };
}

before(() => {
  dir = scratchDir('storvsp-cli');
  // Not a kernel: the disks are checked before the kernel is parsed, so any readable file will do.
  writeFileSync(join(dir, 'kernel'), Buffer.alloc(4096));
  mkdirSync(join(dir, 'adir'));
  const bad = Buffer.alloc(1 * MiB);
  bad.write('vhdxfile', 0, 'latin1'); // a VHDX signature and nothing valid after it
  writeFileSync(join(dir, 'bad.vhdx'), bad);
  createDisk(join(dir, 'good.vhdx'), { format: 'vhdx', size: 8 * MiB }).close();
});
after(() => removeDir(dir));

describe('hypatia run --disk: bad disks are refused with status 2', () => {
  it('a missing file', () => {
    const r = run('--kernel', join(dir, 'kernel'), '--disk', join(dir, 'nope.vhdx'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^hypatia run: --disk \S+nope\.vhdx: .*no such file\n$/);
  });

  it('a directory', () => {
    const r = run('--kernel', join(dir, 'kernel'), '--disk', `${join(dir, 'adir')},ro`);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^hypatia run: --disk \S+adir: is a directory\n$/);
  });

  it('a damaged VHDX, after a good one (which is closed again)', () => {
    const r = run('--kernel', join(dir, 'kernel'), '--disk', join(dir, 'good.vhdx'), '--disk', join(dir, 'bad.vhdx'));
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^hypatia run: --disk \S+bad\.vhdx: vhdx: .+\n$/);
  });

  it('a kernel that gets no VMBus (not a bzImage)', () => {
    const r = run('--kernel', join(dir, 'kernel'), '--disk', `${join(dir, 'good.vhdx')},ro`);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /^hypatia run: disks need VMBus/);
  });

  it('--disk without a file', () => {
    const r = run('--kernel', join(dir, 'kernel'), '--disk', ',ro');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--disk needs a file/);
  });
});
