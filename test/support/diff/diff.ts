// Differential testing of the software x86-64 processor against the host processor.
//
// A test file lists instruction *forms* (one snippet of assembly each) and calls `diffSuite` (or `runDiff`).
// The harness:
//   1. assembles every snippet of the call in one batch with GNU as (cached by content hash under
//      os.tmpdir()/hypatia-diff-<uid>), giving each snippet a slot at a fixed offset from CODE (0x100000);
//   2. generates random initial states per form: all 16 GPRs, the arithmetic flags and DF, and a data window
//      at DATA (0x200000), mixing in edge values (0, 1, -1, 0x7f/0x80/0xff, 0x7fff/0x8000, 0x7fffffff/
//      0x80000000, 2^63-1, 2^63, shift counts 0/1/width-1/width/width+1, ...) with random upper bits;
//   3. runs all cases on the host in one process (native-runner.c, compiled on first use with `cc`, cached by
//      source hash) and on one reused BareMachine (snippet + HLT; registers, flags and data reset per case);
//   4. compares all GPRs, the data window, the exception vector (the VP must raise #DE where the host got
//      SIGFPE, ...; with the RIP of the faulting instruction and the precise register state) and the flags the
//      form defines.
//
// Snippet syntax: Intel syntax as GNU as reads it after `.intel_syntax noprefix`: `add rax, rbx`,
// `shl DWORD PTR [0x200010], cl`, `movabs al, [0x200010]`. Several instructions go on one line separated by `;`
// (or by newlines). Local numeric labels (`1:` / `jmp 1f`) work; references to other snippets do not. Use
// `.byte` for encodings the assembler will not pick. Memory operands must stay inside the data window: absolute
// addresses `[0x2000xx]` are identical in both worlds, or pin a base register with `init: { rbx: DATA }`.
// RSP starts at STACK (inside the window) unless the form sets it, so PUSH/POP land in the compared window.
//
// Compatibility mode (DiffOptions.mode 'compat32'): the snippets are assembled as 32-bit code (`.code32`; use
// 66/67 for 16-bit operand/address sizes) and run in a 32-bit code segment at CPL 3 in long mode: on the host in
// Linux's 32-bit user code segment (native-runner.c), in the VP on a machine laid out like a Linux process
// (compat-machine.ts). Only EAX..EDI exist there: their low 32 bits are compared (the upper halves are undefined
// in compatibility mode, SDM vol. 1 3.4.1.1) and R8..R15 must come back unchanged. The window's first page is
// also mapped at LOW_ALIAS (0xc000) in both worlds, so 16-bit addressing (67) reaches compared memory. Error codes of #TS/#NP/#SS/#GP
// are compared too, and software interrupts (INT3, INTO, ICEBP) are traps reported with the RIP after them.
//
// Undefined flags: each form declares the arithmetic flags the Intel SDM (vol. 2, the instruction's "Flags
// Affected" section; summary in vol. 1 appendix A, "EFLAGS Cross-Reference") leaves undefined, as a mask or as a
// function of the initial state (e.g. OF of a shift is defined only when the masked count is 1). Those bits are
// not compared; everything else is, including flags an instruction must leave unchanged.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BareMachine } from '../bare-machine.js';
import { compatMachine, enterUser32, FRAME, STUBS, USER64_CS } from './compat-machine.js';

/** Compatibility mode: the window's first page appears again at this address below 64 KiB (16-bit addressing). */
export { LOW_ALIAS } from './compat-machine.js';
import { EXIT_HLT } from '../../../src/vp/index.js';
import { LZ_NONE, readFlags } from '../../../src/vp/x86/flags.js';
import { S_LZ_OP, S_RFLAGS, S_RIP } from '../../../src/vp/x86/state.js';
import type { Fault } from '../../../src/vp/x86/interrupts.js';

// ---------------------------------------------------------------- public constants

export const CF = 0x1, PF = 0x4, AF = 0x10, ZF = 0x40, SF = 0x80, DF = 0x400, OF = 0x800;
/** All six arithmetic flags. */
export const ARITH = CF | PF | AF | ZF | SF | OF;
/** The flag bits that are loaded from a case and compared (arithmetic flags and DF). */
export const COMPARED_FLAGS = ARITH | DF;

/** Where snippets are placed (the BareMachine's code address; the native runner maps the same). */
export const CODE = 0x100000;
/** Data buffer, mapped at the same address in both worlds. */
export const DATA = 0x200000;
/** Default initial RSP: inside the compared window, with room to push and pop. */
export const STACK = DATA + 0x1c0;
/** Default size of the compared data window. */
export const WINDOW = 0x200;

export const REGS = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'] as const;
export type RegName = typeof REGS[number];
/** Bit for a register in an undefRegs mask. */
export function regBit(r: RegName): number {
  return 1 << REGS.indexOf(r);
}

// ---------------------------------------------------------------- random numbers

/** Small deterministic generator (sfc32). */
export class Rng {
  private a: number; private b: number; private c: number; private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9; this.b = 0x243f6a88; this.c = 0xb7e15162; this.d = seed | 0;
    for (let k = 0; k < 16; k++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  below(n: number): number {
    return this.u32() % n;
  }

  pick<T>(a: readonly T[]): T {
    return a[this.below(a.length)];
  }

  u64(): bigint {
    return (BigInt(this.u32()) << 32n) | BigInt(this.u32());
  }

  /** A 64-bit value from the edge-biased distribution the harness uses for registers and memory. */
  value(): bigint {
    const out = [0, 0];
    genValue(this, out);
    return (BigInt(out[1] >>> 0) << 32n) | BigInt(out[0] >>> 0);
  }
}

/** Interesting 64-bit values, as [lo, hi] u32 pairs. */
const EDGES: [number, number][] = [];
{
  const add = (v: bigint): void => {
    v = BigInt.asUintN(64, v);
    EDGES.push([Number(v & 0xffffffffn), Number(v >> 32n)]);
  };
  for (const v of [0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n, 15n, 16n, 17n, 31n, 32n, 33n, 63n, 64n, 65n]) add(v);
  for (const w of [8n, 16n, 32n, 64n]) {
    const max = (1n << (w - 1n)) - 1n;
    add(max); add(max + 1n); add(max - 1n); add(max + 2n); // 0x7f.. 0x80.. 0x7e.. 0x81..
    add((1n << w) - 1n); add((1n << w) - 2n); // 0xff.. 0xfe..
    add(1n << w); add(-(max + 1n)); add(-max); // 2^w, sign-extended minimums
  }
  add(-1n); add(-2n); add(0x5555555555555555n); add(0xaaaaaaaaaaaaaaaan); add(0x0f0f0f0f0f0f0f0fn);
  add(0x8000000000000001n); add(0xffffffff00000000n); add(0x00000000ffff0000n);
}

/** Fill out[0], out[1] (lo, hi) with a value: edges (optionally with random upper bits), small or random. */
function genValue(r: Rng, out: number[]): void {
  const k = r.below(16);
  if (k < 6) {
    const e = EDGES[r.below(EDGES.length)];
    let lo = e[0], hi = e[1];
    const keep = r.below(5); // keep 8, 16, 32 or 64 bits of the edge and randomise the rest (or not)
    if (keep === 0) { lo = (lo & 0xff) | (r.u32() & ~0xff); hi = r.u32(); }
    else if (keep === 1) { lo = (lo & 0xffff) | (r.u32() & ~0xffff); hi = r.u32(); }
    else if (keep === 2) hi = r.u32();
    out[0] = lo | 0; out[1] = hi | 0;
  } else if (k < 8) {
    out[0] = r.below(72); out[1] = 0;
  } else if (k < 9) {
    // small with random upper bits (e.g. shift counts in CL with garbage above)
    out[0] = (r.u32() & ~0x7f) | r.below(72); out[1] = r.u32() | 0;
  } else {
    out[0] = r.u32() | 0; out[1] = r.u32() | 0;
  }
}

// ---------------------------------------------------------------- forms and results

/** Read-only view of a case's initial state, for undefFlags/undefRegs callbacks. */
export interface CaseInit {
  reg(r: RegName): bigint;
  flags: number;
  /** The data window's initial bytes. */
  mem: Uint8Array;
}

/** Mutable view of a case being generated, for DiffForm.setup. */
export interface CaseSetup extends CaseInit {
  set(r: RegName, v: bigint | number): void;
  setFlags(f: number): void;
}

export type RegInit = bigint | number | ((r: Rng) => bigint | number);

export interface DiffForm {
  /** Assembly, Intel syntax (see the top of this file). */
  asm: string;
  /**
   * Run this on the host instead of `asm` (the VP still runs `asm`): for forms the VP must execute differently
   * from this host, e.g. an encoding whose meaning depends on CPUID features the VP does not report.
   */
  hostAsm?: string;
  /** Label for reports (defaults to asm). */
  name?: string;
  /** Arithmetic flags the SDM leaves undefined after this form. */
  undefFlags?: number | ((c: CaseInit) => number);
  /** GPRs whose final value is undefined (regBit mask). */
  undefRegs?: number | ((c: CaseInit) => number);
  /** Initial values (or generators) for some registers; the rest are random. */
  init?: Partial<Record<RegName, RegInit>>;
  /** Initial flags (only COMPARED_FLAGS bits are used) or a generator; default random. */
  flags?: number | ((r: Rng) => number);
  /** Prepare the data window (after it was filled with random values). */
  mem?: (r: Rng, bytes: Uint8Array) => void;
  /** Adjust a generated case (after init, flags and mem): for values that depend on each other. */
  setup?: (r: Rng, c: CaseSetup) => void;
  /** Cases for this form (default from the options). */
  cases?: number;
  /** The form is expected to raise #UD on the host (and so in the VP). */
  ud?: boolean;
  /** Allow every case to fault (otherwise at least one case must complete, so tests cannot pass vacuously). */
  allFault?: boolean;
}

export interface DiffOptions {
  /** Where the snippets run: 64-bit mode at CPL 0 (default), or a 32-bit code segment at CPL 3 (see the top). */
  mode?: 'long64' | 'compat32';
  /** Cases per form (default 256). */
  cases?: number;
  /** Data window size in bytes (default WINDOW). */
  window?: number;
  /** Seed (default: from HYPATIA_DIFF_SEED or fixed per form text). */
  seed?: number;
  /** Mismatches to describe in full per form (default 3). */
  maxReports?: number;
}

export interface FormResult {
  form: DiffForm;
  cases: number;
  faulted: number;
  mismatches: number;
  reports: string[];
}

export interface DiffReport {
  forms: number;
  cases: number;
  mismatches: number;
  results: FormResult[];
  ms: number;
}

// ---------------------------------------------------------------- assembling

const CACHE_DIR = join(tmpdir(), `hypatia-diff-${userInfo().uid}`);

function ensureCache(): void {
  mkdirSync(CACHE_DIR, { recursive: true });
}

function sha(s: string | Buffer): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 24);
}

function writeAtomic(path: string, data: string | Buffer): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

interface Assembled {
  bytes: Uint8Array[];
}

/** Assemble every snippet in one run of GNU as (cached by source hash); as 32-bit code when `code32`. */
function assemble(snippets: string[], code32 = false): Assembled {
  const lines = ['.intel_syntax noprefix', '.text'];
  const lineOwner: number[] = [-1, -1];
  if (code32) { lines.push('.code32'); lineOwner.push(-1); }
  snippets.forEach((s, k) => {
    lines.push(`hv_s${k}:`); lineOwner.push(k);
    for (const l of s.split('\n')) { lines.push(l); lineOwner.push(k); }
    lines.push(`hv_e${k}:`); lineOwner.push(k);
  });
  const src = lines.join('\n') + '\n';
  ensureCache();
  const key = sha(src);
  const cached = join(CACHE_DIR, `asm-${key}.json`);
  if (existsSync(cached)) {
    const hex = JSON.parse(readFileSync(cached, 'utf8')) as string[];
    return { bytes: hex.map((h) => Uint8Array.from(Buffer.from(h, 'hex'))) };
  }
  const base = join(CACHE_DIR, `asm-${key}.${process.pid}`);
  writeFileSync(`${base}.s`, src);
  try {
    const as = spawnSync('as', ['--64', '-o', `${base}.o`, `${base}.s`], { encoding: 'utf8' });
    if (as.status !== 0) {
      // Point at the snippets the assembler complained about.
      const msgs = (as.stderr || as.error?.message || 'as failed').split('\n').map((m) => {
        const mm = /\.s:(\d+): (.*)$/.exec(m);
        if (!mm) return m;
        const owner = lineOwner[Number(mm[1]) - 1];
        return owner >= 0 ? `snippet ${JSON.stringify(snippets[owner])}: ${mm[2]}` : m;
      });
      throw new Error(`GNU as failed:\n${msgs.join('\n')}`);
    }
    const nm = spawnSync('nm', ['--defined-only', `${base}.o`], { encoding: 'utf8' });
    if (nm.status !== 0) throw new Error(`nm failed: ${nm.stderr}`);
    const sym = new Map<string, number>();
    for (const l of nm.stdout.split('\n')) {
      const p = l.trim().split(/\s+/);
      if (p.length === 3) sym.set(p[2], parseInt(p[0], 16));
    }
    const oc = spawnSync('objcopy', ['-O', 'binary', '-j', '.text', `${base}.o`, `${base}.bin`], { encoding: 'utf8' });
    if (oc.status !== 0) throw new Error(`objcopy failed: ${oc.stderr}`);
    const text = readFileSync(`${base}.bin`);
    const bytes: Uint8Array[] = [];
    for (let k = 0; k < snippets.length; k++) {
      const a = sym.get(`hv_s${k}`), b = sym.get(`hv_e${k}`);
      if (a === undefined || b === undefined) throw new Error(`snippet ${k} has no symbols`);
      if (b === a) throw new Error(`snippet ${JSON.stringify(snippets[k])} assembled to nothing`);
      bytes.push(Uint8Array.from(text.subarray(a, b)));
    }
    writeAtomic(cached, JSON.stringify(bytes.map((b) => Buffer.from(b).toString('hex'))));
    return { bytes };
  } finally {
    for (const ext of ['.s', '.o', '.bin']) rmSync(`${base}${ext}`, { force: true });
  }
}

// ---------------------------------------------------------------- the native runner

function runnerSource(): string {
  // Compiled tests live in dist/test/support/diff; the C source stays in test/support/diff.
  const candidates = [
    fileURLToPath(new URL('./native-runner.c', import.meta.url)),
    fileURLToPath(new URL('../../../../test/support/diff/native-runner.c', import.meta.url)),
  ];
  for (const c of candidates) if (existsSync(c)) return c;
  throw new Error(`native-runner.c not found (looked in ${candidates.join(', ')})`);
}

const CC_FLAGS = ['-O1', '-Wall', '-Wextra', '-Werror'];
let runnerPath: string | undefined;

/** Path of the compiled runner, building it if its source (or flags) changed. */
export function nativeRunner(): string {
  if (runnerPath !== undefined) return runnerPath;
  const srcPath = runnerSource();
  const src = readFileSync(srcPath);
  ensureCache();
  const exe = join(CACHE_DIR, `runner-${sha(Buffer.concat([src, Buffer.from(CC_FLAGS.join(' '))]))}`);
  if (!existsSync(exe)) {
    const tmp = `${exe}.${process.pid}.tmp`;
    const r = spawnSync('cc', [...CC_FLAGS, '-o', tmp, srcPath], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`cc failed building the native runner:\n${r.stderr || r.error?.message}`);
    renameSync(tmp, exe);
  }
  runnerPath = exe;
  return exe;
}

// ---------------------------------------------------------------- case state

/**
 * Run the native runner on one chunk's input. The input goes through a file, not a pipe: a runner that dies part
 * way must show its exit status, signal and stderr, which a pipe would hide behind EPIPE. A runner killed by
 * SIGKILL (something outside it, such as the OOM killer on a loaded machine) is run once more, saying so; any
 * other failure is the test's.
 */
export function runRunner(input: Buffer): ReturnType<typeof spawnSync> & { stdout: Buffer } {
  ensureCache();
  const file = join(CACHE_DIR, `input-${process.pid}-${chunkSeq++}`);
  writeFileSync(file, input);
  try {
    for (let attempt = 1; ; attempt++) {
      const fd = openSync(file, 'r');
      let r: ReturnType<typeof spawnSync>;
      try {
        r = spawnSync(nativeRunner(), [], { stdio: [fd, 'pipe', 'pipe'], maxBuffer: 1 << 30, timeout: 300_000 });
      } finally {
        closeSync(fd);
      }
      const stderr = r.stderr === null ? '' : r.stderr.toString();
      if (r.error === undefined && r.status === 0) return r as ReturnType<typeof spawnSync> & { stdout: Buffer };
      const why = `native runner failed (${r.error !== undefined ? `${r.error.message}, ` : ''}status ${r.status}, signal ${r.signal})${stderr ? `: ${stderr}` : ''}`;
      if (r.signal === 'SIGKILL' && r.error === undefined && attempt === 1) {
        console.log(`# ${why}; killed from outside, running the chunk again`);
        continue;
      }
      throw new Error(why);
    }
  } finally {
    rmSync(file, { force: true });
  }
}
let chunkSeq = 0;

/** Per case: 16 GPRs as (lo, hi), then flags. */
const CASE_INTS = 34;

interface Batch {
  snippet: Int32Array; // per case: snippet index
  regs: Int32Array; // CASE_INTS per case
  mem: Uint8Array; // window per case
}

interface Outcome {
  vector: Int32Array;
  err: Int32Array; // error code of the exception (0 when it has none)
  rip: Float64Array; // fault RIP offset from CODE, or -1
  regs: Int32Array;
  mem: Uint8Array;
  note: (string | undefined)[];
}

function toPair(v: bigint | number, out: number[]): void {
  const b = BigInt.asUintN(64, BigInt(v));
  out[0] = Number(b & 0xffffffffn) | 0;
  out[1] = Number(b >> 32n) | 0;
}

function pairBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

function hex64(lo: number, hi: number): string {
  return '0x' + pairBig(lo, hi).toString(16).padStart(16, '0');
}

function flagNames(f: number): string {
  const n: string[] = [];
  if (f & OF) n.push('OF'); if (f & DF) n.push('DF'); if (f & SF) n.push('SF'); if (f & ZF) n.push('ZF');
  if (f & AF) n.push('AF'); if (f & PF) n.push('PF'); if (f & CF) n.push('CF');
  return n.join(' ') || '-';
}

function formSeed(form: DiffForm, opts: DiffOptions): number {
  const env = process.env.HYPATIA_DIFF_SEED;
  const base = opts.seed ?? (env !== undefined ? Number(env) : 0x5eed);
  const h = createHash('sha256').update(form.asm).digest();
  return (h.readInt32LE(0) ^ base) | 0;
}

const EDGE_BYTES = 512;
const POOL_BYTES = 1 << 18;
let poolBytes: Uint8Array | undefined;

/** A fixed pool of random bytes (made once from the first generator that asks). */
function pool(rng: Rng): Uint8Array {
  if (poolBytes === undefined) {
    const w = new Int32Array(POOL_BYTES / 4);
    for (let k = 0; k < w.length; k++) w[k] = rng.u32() | 0;
    poolBytes = new Uint8Array(w.buffer);
  }
  return poolBytes;
}

function putValue(rng: Rng, mem: Uint8Array, off: number, tmp: number[]): void {
  genValue(rng, tmp);
  for (let b = 0; b < 8 && off + b < mem.length; b++) mem[off + b] = (b < 4 ? tmp[0] >>> (8 * b) : tmp[1] >>> (8 * (b - 4))) & 0xff;
}

/** Cases per form: the form's own count, the options', HYPATIA_DIFF_CASES (soak runs), or 256. */
function caseCount(f: DiffForm, opts: DiffOptions): number {
  const env = process.env.HYPATIA_DIFF_CASES;
  return env !== undefined ? Number(env) : f.cases ?? opts.cases ?? 256;
}

/** Generate the cases of forms[first..last) (snippet numbers stay global). */
function generate(forms: DiffForm[], first: number, last: number, opts: DiffOptions, window: number): Batch {
  let total = 0;
  for (let k = first; k < last; k++) total += caseCount(forms[k], opts);
  const batch: Batch = {
    snippet: new Int32Array(total),
    regs: new Int32Array(total * CASE_INTS),
    mem: new Uint8Array(total * window),
  };
  const tmp = [0, 0];
  let c = 0;
  for (let fi = first; fi < last; fi++) {
    const form = forms[fi];
    const rng = new Rng(formSeed(form, opts));
    const n = caseCount(form, opts);
    for (let k = 0; k < n; k++, c++) {
      batch.snippet[c] = fi;
      const base = c * CASE_INTS;
      for (let r = 0; r < 16; r++) {
        const name = REGS[r];
        const init = form.init?.[name];
        if (init !== undefined) toPair(typeof init === 'function' ? init(rng) : init, tmp);
        else if (name === 'rsp') toPair(STACK, tmp);
        else genValue(rng, tmp);
        batch.regs[base + 2 * r] = tmp[0];
        batch.regs[base + 2 * r + 1] = tmp[1];
      }
      const fl = form.flags === undefined ? rng.u32() : typeof form.flags === 'function' ? form.flags(rng) : form.flags;
      batch.regs[base + 32] = fl & COMPARED_FLAGS;
      batch.regs[base + 33] = 0;
      const mem = batch.mem.subarray(c * window, (c + 1) * window);
      // The first EDGE_BYTES bytes get edge-biased values in every 8-byte slot; past that (large windows) a
      // slice of a random pool with an edge value in one slot of eight keeps generation cheap.
      if (window > EDGE_BYTES) {
        const start = rng.below(POOL_BYTES - window) & ~7;
        mem.set(pool(rng).subarray(start, start + window));
      }
      const edgeEnd = Math.min(window, EDGE_BYTES);
      for (let off = 0; off < edgeEnd; off += 8) putValue(rng, mem, off, tmp);
      for (let k = (window - edgeEnd) >> 8; k > 0; k--) putValue(rng, mem, edgeEnd + 8 * rng.below((window - edgeEnd) >> 3), tmp);
      form.mem?.(rng, mem);
      if (form.setup !== undefined) form.setup(rng, caseSetup(batch, c, window));
    }
  }
  return batch;
}

/** Lay the snippets out at 16-byte aligned offsets with room for the return stub (HLT or a 14-byte jump). */
function layout(bytes: Uint8Array[], hostBytes: Uint8Array[]): number[] {
  const offs: number[] = [];
  let off = 0;
  for (let k = 0; k < bytes.length; k++) {
    offs.push(off);
    off = (off + Math.max(bytes[k].length, hostBytes[k].length) + 16 + 15) & ~15;
  }
  if (off > 0x100000) throw new Error('too many snippets for the code area');
  return offs;
}

function runNative(bytes: Uint8Array[], offs: number[], batch: Batch, window: number, compat: boolean): Outcome {
  const n = batch.snippet.length;
  let codeSize = 0;
  for (const b of bytes) codeSize += 8 + ((b.length + 3) & ~3);
  const caseBytes = 8 + 4 * CASE_INTS + window;
  const buf = Buffer.alloc(12 + codeSize + 4 + n * caseBytes);
  let p = 0;
  p = buf.writeUInt32LE(compat ? 0x31435648 : 0x31445648, p); // 'HVC1' / 'HVD1'
  p = buf.writeUInt32LE(window, p);
  p = buf.writeUInt32LE(bytes.length, p);
  bytes.forEach((b, k) => {
    p = buf.writeUInt32LE(offs[k], p);
    p = buf.writeUInt32LE(b.length, p);
    buf.set(b, p); p += b.length;
  });
  p = buf.writeUInt32LE(n, p);
  const body = buf.subarray(p);
  // Cases as int32 words where the layout allows it (window is a multiple of 4).
  const aligned = (window & 3) === 0;
  const words = aligned ? new Int32Array(n * (caseBytes >> 2)) : undefined;
  for (let c = 0; c < n; c++) {
    const q = c * caseBytes;
    if (words !== undefined) {
      const w = q >> 2;
      words[w] = batch.snippet[c];
      words.set(batch.regs.subarray(c * CASE_INTS, (c + 1) * CASE_INTS), w + 2);
    } else {
      body.writeUInt32LE(batch.snippet[c], q);
      for (let k = 0; k < CASE_INTS; k++) body.writeInt32LE(batch.regs[c * CASE_INTS + k], q + 8 + 4 * k);
    }
  }
  if (words !== undefined) body.set(new Uint8Array(words.buffer, 0, words.byteLength));
  for (let c = 0; c < n; c++) body.set(batch.mem.subarray(c * window, (c + 1) * window), c * caseBytes + 8 + 4 * CASE_INTS);
  const r = runRunner(buf);
  // Copy once into an aligned buffer and read it as int32 words.
  const out = new Int32Array(new Uint8Array(r.stdout).buffer, 0, r.stdout.length >> 2);
  const outBytes = new Uint8Array(out.buffer);
  const o: Outcome = {
    vector: new Int32Array(n), err: new Int32Array(n), rip: new Float64Array(n), regs: new Int32Array(n * CASE_INTS),
    mem: batch.mem.slice(), note: new Array<string | undefined>(n),
  };
  let w = 0;
  for (let c = 0; c < n; c++) {
    if (w + 39 > out.length) throw new Error(`native runner output ends early (case ${c} of ${n})`);
    o.vector[c] = out[w];
    o.err[c] = out[w + 1];
    // Compatibility mode: EIP offsets modulo 2^32 (a target below CODE wraps the same way in both worlds).
    o.rip[c] = o.vector[c] < 0 ? -1 : compat ? out[w + 2] >>> 0 : (out[w + 2] >>> 0) + (out[w + 3] >>> 0) * 4294967296;
    o.regs.set(out.subarray(w + 4, w + 4 + CASE_INTS), c * CASE_INTS);
    const runs = out[w + 4 + CASE_INTS];
    w += 5 + CASE_INTS;
    for (let k = 0; k < runs; k++) {
      const off = out[w], len = out[w + 1];
      o.mem.set(outBytes.subarray(4 * w + 8, 4 * w + 8 + len), c * window + off);
      w += 2 + ((len + 3) >> 2);
    }
  }
  if (w !== out.length) throw new Error(`native runner returned ${r.stdout.length} bytes, parsed ${4 * w}`);
  return o;
}

let machine: BareMachine | undefined;
let vpFault: Fault | null = null;

function getMachine(): BareMachine {
  if (machine === undefined) {
    machine = new BareMachine();
    const cpu = machine.engine.cpu;
    // Record exceptions instead of delivering them (the bare machine has no IDT): stop the run with RIP at the
    // faulting instruction, as the run loop leaves it.
    cpu.handleFault = (f: Fault): void => {
      vpFault = f;
      cpu.requestExit(-1);
    };
  }
  return machine;
}

function runVp(bytes: Uint8Array[], offs: number[], batch: Batch, window: number): Outcome {
  const m = getMachine();
  const cpu = m.engine.cpu;
  const s = cpu.s;
  const n = batch.snippet.length;
  // Lay the code out: snippet then HLT, the rest int3 (so a runaway is visible).
  let end = 0;
  for (let k = 0; k < bytes.length; k++) end = Math.max(end, offs[k] + bytes[k].length + 16);
  const code = new Uint8Array(end).fill(0xcc);
  bytes.forEach((b, k) => { code.set(b, offs[k]); code[offs[k] + b.length] = 0xf4; });
  m.load(CODE, code);
  const o: Outcome = {
    vector: new Int32Array(n), err: new Int32Array(n), rip: new Float64Array(n), regs: new Int32Array(n * CASE_INTS),
    mem: new Uint8Array(n * window), note: new Array<string | undefined>(n),
  };
  for (let c = 0; c < n; c++) {
    const sn = batch.snippet[c];
    const base = c * CASE_INTS;
    for (let k = 0; k < 32; k++) s[k] = batch.regs[base + k];
    s[S_RFLAGS] = (s[S_RFLAGS] & ~COMPARED_FLAGS) | (batch.regs[base + 32] & COMPARED_FLAGS) | 2;
    s[S_LZ_OP] = LZ_NONE;
    s[S_RIP] = CODE + offs[sn];
    s[S_RIP + 1] = 0;
    m.u8.set(batch.mem.subarray(c * window, (c + 1) * window), DATA);
    vpFault = null;
    let exit = -2;
    try {
      exit = cpu.run(10_000);
    } catch (e) {
      o.note[c] = `VP threw ${(e as Error).stack ?? String(e)}`;
    }
    const f = vpFault as Fault | null;
    if (f !== null) {
      o.vector[c] = f.vector;
      o.err[c] = f.errorCode < 0 ? 0 : f.errorCode;
      o.rip[c] = s[S_RIP] - CODE;
    } else {
      o.vector[c] = -1;
      o.rip[c] = -1;
      const want = CODE + offs[sn] + bytes[sn].length + 1;
      if (o.note[c] === undefined && (exit !== EXIT_HLT || s[S_RIP] !== want)) {
        o.note[c] = `VP stopped with exit ${exit} at RIP ${hex64(s[S_RIP], s[S_RIP + 1])}, expected HLT after the snippet`;
      }
    }
    for (let k = 0; k < 32; k++) o.regs[base + k] = s[k];
    o.regs[base + 32] = readFlags(s);
    o.regs[base + 33] = 0;
    o.mem.set(m.u8.subarray(DATA, DATA + window), c * window);
  }
  return o;
}

let compat: BareMachine | undefined;
/** The exception the compat machine recorded in the current case (copied out of the shared FAULT object). */
let compatVector = -1, compatErr = 0;

function getCompatMachine(): BareMachine {
  if (compat === undefined) {
    compat = compatMachine();
    const cpu = compat.engine.cpu;
    cpu.handleFault = (f: Fault): void => {
      compatVector = f.vector;
      compatErr = f.errorCode < 0 ? 0 : f.errorCode;
      cpu.requestExit(-1);
    };
  }
  return compat;
}

/**
 * The VP side in compatibility mode: each case starts in the 32-bit user code segment at CPL 3. As on the host,
 * each snippet ends with a direct far JMP to the 64-bit user code segment, at a trampoline after the last snippet
 * (the same bytes at the same addresses, so a snippet that left 32-bit mode meets the same #UD); the trampoline's
 * HLT raises #GP(0) at CPL 3, which marks normal completion. A software interrupt reaches its HLT stub at CPL 0
 * and is reported like the host's signal: vector, RIP, RSP and RFLAGS from the frame the processor pushed.
 */
function runVpCompat(bytes: Uint8Array[], offs: number[], batch: Batch, window: number): Outcome {
  const m = getCompatMachine();
  const cpu = m.engine.cpu;
  const s = cpu.s;
  const n = batch.snippet.length;
  let end = 0;
  for (let k = 0; k < bytes.length; k++) end = Math.max(end, offs[k] + bytes[k].length + 16);
  const tramp = (end + 15) & ~15;
  const code = new Uint8Array(tramp + 16).fill(0xcc);
  const t32 = CODE + tramp;
  bytes.forEach((b, k) => {
    code.set(b, offs[k]);
    code.set([0xea, t32 & 0xff, (t32 >> 8) & 0xff, (t32 >> 16) & 0xff, t32 >>> 24, USER64_CS, 0], offs[k] + b.length);
  });
  code[tramp] = 0xf4;
  m.load(CODE, code);
  const o: Outcome = {
    vector: new Int32Array(n), err: new Int32Array(n), rip: new Float64Array(n), regs: new Int32Array(n * CASE_INTS),
    mem: new Uint8Array(n * window), note: new Array<string | undefined>(n),
  };
  for (let c = 0; c < n; c++) {
    const sn = batch.snippet[c];
    const base = c * CASE_INTS;
    enterUser32(m);
    for (let k = 0; k < 32; k++) s[k] = batch.regs[base + k];
    s[S_RFLAGS] = (batch.regs[base + 32] & COMPARED_FLAGS) | 0x202; // IF=1, as in any user process
    s[S_LZ_OP] = LZ_NONE;
    s[S_RIP] = CODE + offs[sn];
    s[S_RIP + 1] = 0;
    m.u8.set(batch.mem.subarray(c * window, (c + 1) * window), DATA);
    compatVector = -1;
    compatErr = 0;
    let exit = -2;
    try {
      exit = cpu.run(10_000);
    } catch (e) {
      o.note[c] = `VP threw ${(e as Error).stack ?? String(e)}`;
    }
    for (let k = 0; k < 32; k++) o.regs[base + k] = s[k];
    o.regs[base + 32] = readFlags(s);
    o.regs[base + 33] = 0;
    const done = t32;
    const rip = s[S_RIP];
    o.vector[c] = -1;
    o.err[c] = 0;
    o.rip[c] = -1;
    if (compatVector === 13 && compatErr === 0 && rip === done && s[S_RIP + 1] === 0 && cpu.cpl === 3) {
      // the HLT after the snippet: completed
    } else if (compatVector >= 0) {
      o.vector[c] = compatVector;
      o.err[c] = compatErr;
      o.rip[c] = (rip - CODE) >>> 0;
    } else if (exit === EXIT_HLT && cpu.cpl === 0 && rip > STUBS && rip <= STUBS + 256) {
      const dv = m.dv;
      o.vector[c] = rip - STUBS - 1;
      o.rip[c] = (dv.getUint32(FRAME, true) - CODE) >>> 0;
      o.regs[base + 32] = dv.getUint32(FRAME + 16, true);
      o.regs[base + 2 * 4] = dv.getInt32(FRAME + 24, true);
      o.regs[base + 2 * 4 + 1] = dv.getInt32(FRAME + 28, true);
    } else if (o.note[c] === undefined) {
      o.note[c] = `VP stopped with exit ${exit} at RIP ${hex64(rip, s[S_RIP + 1])} (CPL ${cpu.cpl}), expected the return to 64-bit code`;
    }
    o.mem.set(m.u8.subarray(DATA, DATA + window), c * window);
  }
  return o;
}

// ---------------------------------------------------------------- comparison

function caseInit(batch: Batch, c: number, window: number): CaseInit {
  const base = c * CASE_INTS;
  return {
    reg: (r: RegName) => { const k = REGS.indexOf(r); return pairBig(batch.regs[base + 2 * k], batch.regs[base + 2 * k + 1]); },
    flags: batch.regs[base + 32],
    mem: batch.mem.subarray(c * window, (c + 1) * window),
  };
}

function caseSetup(batch: Batch, c: number, window: number): CaseSetup {
  const base = c * CASE_INTS;
  const tmp = [0, 0];
  const v = caseInit(batch, c, window);
  return {
    reg: v.reg,
    get flags() { return batch.regs[base + 32]; },
    mem: v.mem,
    set: (r: RegName, x: bigint | number) => {
      const k = REGS.indexOf(r);
      toPair(x, tmp);
      batch.regs[base + 2 * k] = tmp[0];
      batch.regs[base + 2 * k + 1] = tmp[1];
    },
    setFlags: (f: number) => { batch.regs[base + 32] = f & COMPARED_FLAGS; },
  };
}

function vecName(v: number): string {
  const names: Record<number, string> = { 0: '#DE', 1: '#DB', 3: '#BP', 4: '#OF', 5: '#BR', 6: '#UD', 7: '#NM', 12: '#SS', 13: '#GP', 14: '#PF', 16: '#MF', 17: '#AC', 19: '#XM' };
  return v < 0 ? 'none' : names[v] ?? `vector ${v}`;
}

function describe(form: DiffForm, bytes: Uint8Array, batch: Batch, nat: Outcome, vp: Outcome, c: number,
  window: number, flagMask: number, regMask: number, problems: string[]): string {
  const base = c * CASE_INTS;
  const lines = [`${form.name ?? form.asm}  [${Buffer.from(bytes).toString('hex')}]  case ${c}: ${problems.join('; ')}`];
  const init: string[] = [];
  for (let r = 0; r < 16; r++) init.push(`${REGS[r]}=${hex64(batch.regs[base + 2 * r], batch.regs[base + 2 * r + 1])}`);
  lines.push(`  initial: ${init.join(' ')} flags=[${flagNames(batch.regs[base + 32])}]`);
  for (let r = 0; r < 16; r++) {
    const a = [nat.regs[base + 2 * r], nat.regs[base + 2 * r + 1]], b = [vp.regs[base + 2 * r], vp.regs[base + 2 * r + 1]];
    const undef = (regMask >> r) & 1 ? ' (undefined)' : '';
    if (a[0] !== b[0] || a[1] !== b[1]) lines.push(`  ${REGS[r]}: host ${hex64(a[0], a[1])}  vp ${hex64(b[0], b[1])}${undef}`);
  }
  const fn = nat.regs[base + 32] & COMPARED_FLAGS, fv = vp.regs[base + 32] & COMPARED_FLAGS;
  lines.push(`  flags: host [${flagNames(fn)}]  vp [${flagNames(fv)}]  compared [${flagNames(flagMask)}]`);
  const mo = c * window;
  const diffs: string[] = [];
  for (let k = 0; k < window && diffs.length < 16; k++) {
    if (nat.mem[mo + k] !== vp.mem[mo + k]) diffs.push(`+${k.toString(16)}: host ${nat.mem[mo + k].toString(16)} vp ${vp.mem[mo + k].toString(16)} (was ${batch.mem[mo + k].toString(16)})`);
  }
  if (diffs.length > 0) lines.push(`  memory: ${diffs.join(', ')}`);
  return lines.join('\n');
}

/** Run the forms on the host and on the VP and compare. Synchronous; one native process, one BareMachine. */
export function runDiff(forms: DiffForm[], opts: DiffOptions = {}): DiffReport {
  const t0 = Date.now();
  const window = opts.window ?? WINDOW;
  const maxReports = opts.maxReports ?? 3;
  // One assembler run for both worlds: the VP's snippets, then the host's replacements (hostAsm).
  const hostIdx = forms.flatMap((f, k) => (f.hostAsm !== undefined ? [k] : []));
  const all = assemble([...forms.map((f) => f.asm), ...hostIdx.map((k) => forms[k].hostAsm!)], opts.mode === 'compat32').bytes;
  const bytes = all.slice(0, forms.length);
  const hostBytes = bytes.slice();
  hostIdx.forEach((k, j) => { hostBytes[k] = all[forms.length + j]; });
  const offs = layout(bytes, hostBytes);
  const results: FormResult[] = forms.map((form) => ({ form, cases: caseCount(form, opts), faulted: 0, mismatches: 0, reports: [] }));
  let mismatches = 0, total = 0;
  // Run in chunks of forms so memory stays bounded however many cases are asked for.
  for (let first = 0; first < forms.length;) {
    let last = first, n = 0;
    const limit = Math.max(1, Math.floor(CHUNK_BYTES / (window + 4 * CASE_INTS)));
    while (last < forms.length && (last === first || n + results[last].cases <= limit)) n += results[last++].cases;
    mismatches += compareChunk(forms, bytes, hostBytes, offs, generate(forms, first, last, opts, window), window, maxReports, results,
      opts.mode === 'compat32');
    total += n;
    first = last;
  }
  for (const res of results) {
    if (res.faulted === res.cases && !res.form.allFault && res.mismatches === 0) {
      res.mismatches++;
      mismatches++;
      res.reports.push(`${res.form.name ?? res.form.asm}: every case faulted on the host (set allFault if intended)`);
    }
  }
  return { forms: forms.length, cases: total, mismatches, results, ms: Date.now() - t0 };
}

/** Bytes of case data per chunk (native process): bounds memory and keeps the working set small. */
const CHUNK_BYTES = 24 << 20;

function compareChunk(forms: DiffForm[], bytes: Uint8Array[], hostBytes: Uint8Array[], offs: number[], batch: Batch,
  window: number, maxReports: number, results: FormResult[], compat32: boolean): number {
  const nat = runNative(hostBytes, offs, batch, window, compat32);
  const vp = compat32 ? runVpCompat(bytes, offs, batch, window) : runVp(bytes, offs, batch, window);
  let mismatches = 0;
  const n = batch.snippet.length;
  for (let c = 0; c < n; c++) {
    const fi = batch.snippet[c];
    const form = forms[fi];
    const res = results[fi];
    const problems: string[] = [];
    let flagMask = COMPARED_FLAGS, regMask = 0;
    if (form.undefFlags !== undefined || form.undefRegs !== undefined) {
      const ci = caseInit(batch, c, window);
      if (form.undefFlags !== undefined) flagMask &= ~(typeof form.undefFlags === 'function' ? form.undefFlags(ci) : form.undefFlags);
      if (form.undefRegs !== undefined) regMask = typeof form.undefRegs === 'function' ? form.undefRegs(ci) : form.undefRegs;
    }
    if (vp.note[c] !== undefined) problems.push(vp.note[c]!);
    const nv = nat.vector[c], vv = vp.vector[c];
    // A fault on the snippet's first instruction means nothing retired: every flag must be as it was.
    if (nv >= 0 && nv === vv && nat.rip[c] === offs[fi]) flagMask = COMPARED_FLAGS;
    if (nv >= 0) res.faulted++;
    if (nv === 6 && !form.ud) problems.push('the host raised #UD (unsupported instruction or wrong assembly?)');
    if (nv !== vv) problems.push(`exception: host ${vecName(nv)} vp ${vecName(vv)}`);
    else if (nv >= 0 && nat.rip[c] !== vp.rip[c]) problems.push(`fault RIP offset: host ${nat.rip[c]} vp ${vp.rip[c]}`);
    else if (compat32 && nv >= 10 && nv <= 13 && nat.err[c] !== vp.err[c]) {
      problems.push(`error code: host 0x${nat.err[c].toString(16)} vp 0x${vp.err[c].toString(16)}`);
    }
    const base = c * CASE_INTS;
    let regBad = false;
    for (let r = 0; r < 16; r++) {
      if ((regMask >> r) & 1) continue;
      // Compatibility mode: EAX..EDI's upper halves are undefined; R8..R15 must survive unchanged.
      const hiDiffers = nat.regs[base + 2 * r + 1] !== vp.regs[base + 2 * r + 1] && !(compat32 && r < 8);
      if (nat.regs[base + 2 * r] !== vp.regs[base + 2 * r] || hiDiffers) regBad = true;
    }
    if (regBad) problems.push('registers differ');
    if (((nat.regs[base + 32] ^ vp.regs[base + 32]) & flagMask) !== 0) problems.push('flags differ');
    const mo = c * window;
    if (Buffer.compare(nat.mem.subarray(mo, mo + window), vp.mem.subarray(mo, mo + window)) !== 0) problems.push('memory differs');
    if (problems.length > 0) {
      res.mismatches++;
      mismatches++;
      if (res.reports.length < maxReports) res.reports.push(describe(form, bytes[fi], batch, nat, vp, c, window, flagMask, regMask, problems));
    }
  }
  return mismatches;
}

/** Format the failures of a report (or '' when there are none). */
export function formatFailures(rep: DiffReport, maxForms = 12): string {
  const bad = rep.results.filter((r) => r.mismatches > 0);
  if (bad.length === 0) return '';
  const parts = bad.slice(0, maxForms).map((r) => `${r.form.name ?? r.form.asm}: ${r.mismatches}/${r.cases} cases differ\n${r.reports.join('\n')}`);
  if (bad.length > maxForms) parts.push(`... and ${bad.length - maxForms} more forms`);
  return `${bad.length} of ${rep.forms} forms differ from the host:\n${parts.join('\n\n')}`;
}

/** Totals printed by each differential test file. */
export const totals = { forms: 0, cases: 0 };

/** Register a node:test test that runs the forms differentially and fails with a readable report. */
export function diffSuite(name: string, forms: DiffForm[], opts: DiffOptions = {}): void {
  test(`diff: ${name}`, () => {
    const rep = runDiff(forms, opts);
    totals.forms += rep.forms;
    totals.cases += rep.cases;
    console.log(`diff ${name}: ${rep.forms} forms, ${rep.cases} cases, ${rep.ms} ms`);
    // HYPATIA_DIFF_VERBOSE=1: per-form counts (to check that a form's cases are not mostly faults, for example).
    if (process.env.HYPATIA_DIFF_VERBOSE) for (const r of rep.results) console.log(`  ${r.form.name ?? r.form.asm}: ${r.cases} cases, ${r.faulted} faulted, ${r.mismatches} differ`);
    assert.equal(rep.mismatches, 0, formatFailures(rep));
  });
}

/** Print the totals of every diffSuite in the file (call once, at the end of a test file). */
export function printTotals(file: string): void {
  test(`diff: ${file} totals`, () => {
    console.log(`diff ${file}: ${totals.forms} forms, ${totals.cases} cases in total`);
    assert.ok(totals.forms > 0);
  });
}
