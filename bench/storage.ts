// Host-side disk throughput: sequential and random 4 KiB reads and writes through a dynamic VHDX and a raw image,
// side by side, on sparse files in the temporary folder. Writes end with a flush, so VHDX log commits count.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createDisk, type Disk } from '../src/storage/index.js';

const MiB = 1024 * 1024;
const SIZE = 1024 * MiB;
const SEQ_BYTES = 256 * MiB;
const SEQ_CHUNK = MiB;
const RAND_OPS = 20000;
const RAND_SIZE = 4096;

function offsets(seed: number): number[] {
  let x = seed;
  const out: number[] = [];
  for (let i = 0; i < RAND_OPS; i++) {
    x ^= x << 13; x >>>= 0; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out.push((x % (SEQ_BYTES / RAND_SIZE)) * RAND_SIZE);
  }
  return out;
}

function mbps(bytes: number, ms: number): number { return bytes / MiB / (ms / 1000); }

function measure(disk: Disk): Record<string, number> {
  const big = Buffer.alloc(SEQ_CHUNK, 0xa5);
  const small = Buffer.alloc(RAND_SIZE, 0x5a);
  const r: Record<string, number> = {};
  let t = performance.now();
  for (let off = 0; off < SEQ_BYTES; off += SEQ_CHUNK) disk.write(off, big);
  disk.flush();
  r['sequential write'] = mbps(SEQ_BYTES, performance.now() - t);
  t = performance.now();
  for (let off = 0; off < SEQ_BYTES; off += SEQ_CHUNK) disk.read(off, big);
  r['sequential read'] = mbps(SEQ_BYTES, performance.now() - t);
  const offs = offsets(12345);
  t = performance.now();
  for (const o of offs) disk.write(o, small);
  disk.flush();
  r['random 4K write'] = mbps(RAND_OPS * RAND_SIZE, performance.now() - t);
  t = performance.now();
  for (const o of offs) disk.read(o, small);
  r['random 4K read'] = mbps(RAND_OPS * RAND_SIZE, performance.now() - t);
  // Fresh-allocation writes: 4 KiB into untouched blocks of the VHDX (raw: untouched sparse areas).
  t = performance.now();
  let n = 0;
  for (let off = SEQ_BYTES; off < SIZE; off += 4 * MiB, n++) disk.write(off, small);
  disk.flush();
  r['4K write, new block'] = mbps(n * RAND_SIZE, performance.now() - t);
  return r;
}

export async function benchStorage(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hypatia-bench-'));
  try {
    // Two alternating rounds on fresh files; the better figure of each counts (the first round warms the host).
    const results: [string, Record<string, number>][] = [['raw', {}], ['vhdx dynamic', {}]];
    for (let round = 0; round < 2; round++) {
      for (const [i, format] of (['raw', 'vhdx'] as const).entries()) {
        const file = path.join(dir, `bench-${round}.${format}`);
        const disk = createDisk(file, { format, type: format === 'raw' ? 'fixed' : 'dynamic', size: SIZE, blockSize: format === 'vhdx' ? 32 * MiB : undefined });
        try {
          const r = measure(disk);
          for (const [k, v] of Object.entries(r)) results[i][1][k] = Math.max(results[i][1][k] ?? 0, v);
        } finally {
          disk.close();
          fs.rmSync(file, { force: true });
        }
      }
    }
    const rows = Object.keys(results[0][1]);
    console.log(`${'MB/s'.padEnd(22)}${results.map(([n]) => n.padStart(14)).join('')}`);
    for (const row of rows) console.log(`${row.padEnd(22)}${results.map(([, r]) => r[row].toFixed(0).padStart(14)).join('')}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${path.resolve(process.argv[1])}`).href) {
  void benchStorage();
}
