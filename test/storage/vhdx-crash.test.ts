// Crash consistency: a writer process is killed with SIGKILL at random moments while writing to a dynamic VHDX
// with flushes and discards (so kills land in block allocation, log writes, log application and header updates). Every time,
// the image opens (replaying its log), qemu-img check is clean, and every write acknowledged by a flush is there;
// sectors touched by the one unacknowledged iteration may hold either their old or their new contents.
import { after, before, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDisk, openDisk } from '../../src/storage/index.js';
import { CRASH_BLOCK, iterationSteps } from './crash-workload.js';
import { MiB, readAll, removeDir, Rng, scratchDir } from './helpers.js';
import { ensureQemuTools, qemuCheckClean, qemuCompare } from './qemu-tools.js';
import { RawMirror } from './helpers.js';

const RUNS = 15;
const SIZE = 256 * MiB;
const SEED = 4242;
let dir = '';
before(() => { ensureQemuTools(); dir = scratchDir('vhdx-crash'); });
after(() => removeDir(dir));

const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'crash-writer.js');

function runAndKill(file: string, first: number, delayMs: number): Promise<{ acked: number; started: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [writer, file, String(SEED), String(first)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!timer && out.includes('READY')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') { reject(new Error(`writer exited by itself (${code}): ${err}`)); return; }
      const acks = [...out.matchAll(/ACK (\d+)/g)].map((m) => Number(m[1]));
      resolve({ acked: acks.length ? acks[acks.length - 1] : first - 1, started: out.includes('READY') });
    });
  });
}

it(`survives ${RUNS} SIGKILLs mid-write with every flushed write intact`, { timeout: 120_000 }, async () => {
  const file = path.join(dir, 'crash.vhdx');
  createDisk(file, { format: 'vhdx', type: 'dynamic', size: SIZE, blockSize: CRASH_BLOCK }).close();
  let model: Buffer = Buffer.alloc(SIZE);
  const rng = new Rng(SEED);
  let first = 0;
  let totalAcked = 0;
  for (let run = 0; run < RUNS; run++) {
    const { acked, started } = await runAndKill(file, first, 40 + rng.int(400));
    assert.ok(started, 'writer opened the image');
    // The model after every acknowledged iteration.
    for (let k = first; k <= acked; k++) for (const w of iterationSteps(SEED, k, SIZE)) w.data.copy(model, w.offset);
    totalAcked += acked - first + 1;
    const pending = iterationSteps(SEED, acked + 1, SIZE);

    const disk = openDisk(file); // replays the log if the writer died mid-commit
    const actual = readAll(disk);
    disk.close();
    qemuCheckClean(file, 'vhdx');
    for (let off = 0; off < SIZE; off += 512) {
      const a = actual.subarray(off, off + 512);
      if (a.equals(model.subarray(off, off + 512))) continue;
      const ok = pending.some((w) => off >= w.offset && off < w.offset + w.data.length && a.equals(w.data.subarray(off - w.offset, off - w.offset + 512)));
      assert.ok(ok, `run ${run}: sector at ${off} holds neither its acknowledged contents nor the pending write (acked through ${acked})`);
    }
    model = actual;
    first = acked + 2;
  }
  assert.ok(totalAcked > RUNS, `the writer made progress (${totalAcked} flushed iterations)`);
  // Finally qemu reads exactly what we do.
  const mirror = new RawMirror(path.join(dir, 'crash.mirror'), SIZE);
  mirror.write(0, model);
  mirror.close();
  qemuCompare(file, 'vhdx', mirror.path);
});
