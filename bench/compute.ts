// Processor benchmark: the compute workload (bench/guests/compute.c: integer mixing, 64-bit multiply/divide,
// sorting, string loops, calls through pointers, a switch table) built from the same source as a native
// program and as a freestanding guest, run side by side. Reports guest instructions per second on the software
// VP and the slowdown versus native; both print a checksum, which must agree.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { VmWorker } from '../src/vmwp/index.js';

const here = dirname(fileURLToPath(import.meta.url));
/** bench/guests in the source tree (this file runs from dist/bench). */
const SOURCE = join(here, '..', '..', 'bench', 'guests', 'compute.c');

const GUEST_FLAGS = ['-O2', '-ffreestanding', '-nostdlib', '-static', '-no-pie', '-fno-pic', '-mno-red-zone',
  '-mgeneral-regs-only', '-fno-stack-protector', '-fno-builtin', '-Wl,-Ttext=0x400000', '-Wl,--build-id=none'];
const NATIVE_FLAGS = ['-O2', '-DHOSTED', '-mgeneral-regs-only'];

function build(flags: string[], out: string): string {
  const src = readFileSync(SOURCE);
  const key = createHash('sha256').update(src).update(flags.join(' ')).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'hypatia-bench');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${out}-${key}`);
  if (!existsSync(path)) execFileSync('cc', [...flags, '-o', path, SOURCE], { stdio: 'inherit' });
  return path;
}

interface Run { seconds: number; checksum: string; instructions?: number }

function runNative(path: string): Run {
  const r = spawnSync(path, [], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`native workload failed: ${r.stderr}`);
  const seconds = Number(/nanoseconds (\d+)/.exec(r.stderr)?.[1]) / 1e9;
  const checksum = /checksum ([0-9a-f]+)/.exec(r.stdout)?.[1] ?? '?';
  return { seconds, checksum };
}

/** Native instruction count from `perf stat`, when the machine supports it (it often does not in a VM). */
function nativeInstructions(path: string): number | undefined {
  const r = spawnSync('perf', ['stat', '-x,', '-e', 'instructions:u', path], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const m = /^(\d+),,instructions/m.exec(r.stderr);
  return m ? Number(m[1]) : undefined;
}

function findInstructions(tree: unknown): number | undefined {
  if (tree === null || typeof tree !== 'object') return undefined;
  const o = tree as Record<string, unknown>;
  if (o.engine === 'x86-interpreter' && typeof o.instructions === 'number') return o.instructions;
  for (const v of Object.values(o)) {
    const n = findInstructions(v);
    if (n !== undefined) return n;
  }
  return undefined;
}

async function runGuest(path: string): Promise<Run> {
  let text = '';
  let instructions: number | undefined;
  let worker: VmWorker | null = null;
  const output = {
    write(b: Uint8Array): void {
      text += Buffer.from(b).toString('latin1');
      // The checksum line is the last thing the guest prints before powering off: read the counters while the
      // VP still exists (it is suspended in this very intercept).
      if (instructions === undefined && /checksum [0-9a-f]+\n/.test(text) && worker !== null) {
        instructions = findInstructions(worker.inspect());
      }
    },
  };
  worker = VmWorker.create({ memoryBytes: 64 << 20, kernel: readFileSync(path) },
    { input: null, output, trace: { write: () => true } });
  const t0 = performance.now();
  const exit = await worker.run();
  const seconds = (performance.now() - t0) / 1000;
  if (exit.kind !== 'debug-exit') throw new Error(`guest did not finish: ${JSON.stringify(exit)} output: ${text}`);
  return { seconds, checksum: /checksum ([0-9a-f]+)/.exec(text)?.[1] ?? '?', instructions };
}

export async function benchCompute(): Promise<void> {
  const nativePath = build(NATIVE_FLAGS, 'compute-native');
  const guestPath = build(GUEST_FLAGS, 'compute-guest.elf');
  const natives = [runNative(nativePath), runNative(nativePath), runNative(nativePath)];
  const native = natives.sort((a, b) => a.seconds - b.seconds)[0];
  const nInsns = nativeInstructions(nativePath);
  const guest = await runGuest(guestPath);
  const mips = guest.instructions !== undefined ? guest.instructions / guest.seconds / 1e6 : NaN;
  const rows: [string, string, string, string][] = [
    ['engine', 'seconds', 'guest instr/s', 'checksum'],
    ['native (cc -O2)', native.seconds.toFixed(3), nInsns ? `${(nInsns / native.seconds / 1e6).toFixed(0)} M` : 'n/a (no perf)', native.checksum],
    ['Hypatia software VP', guest.seconds.toFixed(3), `${mips.toFixed(1)} M`, guest.checksum],
  ];
  for (const r of rows) console.log(`${r[0].padEnd(22)} ${r[1].padStart(9)} ${r[2].padStart(16)}  ${r[3]}`);
  console.log(`guest instructions: ${guest.instructions ?? 'unknown'}; slowdown vs native: ${(guest.seconds / native.seconds).toFixed(1)}x`);
  if (guest.checksum !== native.checksum) console.log('WARNING: checksums differ — the guest computed a different result');
}
