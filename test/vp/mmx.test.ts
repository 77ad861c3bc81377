// MMX behaviour the differential test cannot reach from user mode on the host, or where this AMD host and the SDM
// part ways: the availability faults (#UD on CR0.EM, #NM on CR0.TS, #MF for a pending x87 exception only with
// CR0.NE; CR4.OSFXSR matters only to forms with an XMM operand), the aliasing of MMx onto x87 physical register
// x (an MMX write is visible to FSTP m80 with bits 64-79 all ones; FLD after MMX overflows unless EMMS ran), the
// state surviving FXSAVE/FXRSTOR, precise faults (nothing changes, not even TOP or the tags), CVTPI2PS with a
// memory source making the transition as the SDM says (AMD leaves the x87 state alone), and #XM on an
// MMX-destination conversion leaving the MMX register and the x87 state untouched.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BareMachine, CODE } from '../support/bare-machine.js';
import type { Fault } from '../../src/vp/x86/interrupts.js';
import { S_CR0, S_CR4, S_FPR_RAW, S_FPU_TOP, S_FSW, S_FTW, S_MXCSR, S_XMM } from '../../src/vp/x86/state.js';

const DATA = 0x200000;

/** Assemble Intel-syntax `src` with GNU as (64-bit) and return the bytes of .text. */
function asm(src: string): number[] {
  const dir = mkdtempSync(join(tmpdir(), 'hypatia-mmx-'));
  try {
    writeFileSync(join(dir, 'a.s'), `.intel_syntax noprefix\n.text\n${src}\n`);
    const as = spawnSync('as', ['--64', '-o', join(dir, 'a.o'), join(dir, 'a.s')], { encoding: 'utf8' });
    if (as.status !== 0) throw new Error(`as: ${as.stderr}`);
    const oc = spawnSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')], { encoding: 'utf8' });
    if (oc.status !== 0) throw new Error(`objcopy: ${oc.stderr}`);
    return [...readFileSync(join(dir, 'a.bin'))];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Run { vector: number; m: BareMachine; s: Int32Array }

/** Run `src` (then HLT) on a fresh machine after `setup`; the exception vector is -1 when none was raised. */
function run(src: string, setup: (m: BareMachine, s: Int32Array) => void = () => undefined): Run {
  const m = new BareMachine();
  const cpu = m.engine.cpu;
  let vector = -1;
  cpu.handleFault = (f: Fault): void => { vector = f.vector; cpu.requestExit(-1); };
  setup(m, cpu.s);
  m.load(CODE, [...asm(src), 0xf4]);
  m.run(10_000);
  return { vector, m, s: cpu.s };
}

const CR0_EM = 4, CR0_TS = 8, CR0_NE = 0x20, CR4_OSFXSR = 0x200;
/** An unmasked zero-divide left pending: FCW with ZM clear, then 1/0. */
const PENDING = 'fninit\nmov WORD PTR [0x200800], 0x37b\nfldcw WORD PTR [0x200800]\nfldz\nfld1\nfdiv st(0), st(1)';

function mm(s: Int32Array, r: number): bigint {
  return (BigInt(s[S_FPR_RAW + 3 * r + 1] >>> 0) << 32n) | BigInt(s[S_FPR_RAW + 3 * r] >>> 0);
}

test('MMX: #UD with CR0.EM (before #NM), #NM with CR0.TS, for EMMS too; CR4.OSFXSR only matters with an XMM operand', () => {
  for (const insn of ['paddb mm1, mm2', 'movq mm0, rax', 'emms', 'pshufw mm1, mm2, 3', 'pavgb mm1, mm2', 'movq QWORD PTR [0x200000], mm1']) {
    assert.equal(run(insn).vector, -1, insn);
    assert.equal(run(insn, (_m, s) => { s[S_CR0] |= CR0_EM; }).vector, 6, `${insn} with CR0.EM`);
    assert.equal(run(insn, (_m, s) => { s[S_CR0] |= CR0_TS; }).vector, 7, `${insn} with CR0.TS`);
    assert.equal(run(insn, (_m, s) => { s[S_CR0] |= CR0_TS | CR0_EM; }).vector, 6, `${insn} with CR0.EM and TS`);
    assert.equal(run(insn, (_m, s) => { s[S_CR4] &= ~CR4_OSFXSR; }).vector, -1, `${insn} without CR4.OSFXSR`);
  }
  for (const insn of ['cvtpi2ps xmm1, mm2', 'movq2dq xmm1, mm2', 'movdq2q mm1, xmm2', 'cvtps2pi mm1, xmm2', 'cvtpi2pd xmm1, QWORD PTR [0x200000]']) {
    assert.equal(run(insn).vector, -1, insn);
    assert.equal(run(insn, (_m, s) => { s[S_CR4] &= ~CR4_OSFXSR; }).vector, 6, `${insn} without CR4.OSFXSR`);
    assert.equal(run(insn, (_m, s) => { s[S_CR0] |= CR0_TS; }).vector, 7, `${insn} with CR0.TS`);
  }
});

test('MMX: a pending unmasked x87 exception raises #MF before the instruction only when CR0.NE is set', () => {
  for (const insn of ['paddb mm1, mm2', 'emms', 'movd eax, mm3', 'cvtpi2ps xmm1, mm2', 'cvtpi2ps xmm1, QWORD PTR [0x200000]', 'movq2dq xmm1, mm2']) {
    let r = run(`${PENDING}\n${insn}`);
    assert.equal(r.vector, 16, insn);
    assert.equal(r.s[S_FPU_TOP], 6, `${insn}: no transition before #MF`);
    r = run(`${PENDING}\n${insn}`, (_m, s) => { s[S_CR0] &= ~CR0_NE; });
    assert.equal(r.vector, -1, `${insn} with CR0.NE clear`);
    assert.equal(r.s[S_FPU_TOP], 0, `${insn}: TOP = 0 after the MMX instruction`);
  }
  // CVTPI2PD with a memory source touches no MMX state: no #MF, TOP and tags kept.
  const r = run(`${PENDING}\ncvtpi2pd xmm1, QWORD PTR [0x200000]`);
  assert.equal(r.vector, -1);
  assert.equal(r.s[S_FPU_TOP], 6);
  assert.equal(r.s[S_FTW], 0xc0);
});

test('MMX: MMx is the significand of physical register x; writes set bits 64-79; FSTP m80 sees it at TOP 0', () => {
  const r = run('mov rax, 0x0123456789abcdef\nfld1\nfld1\nmovq mm0, rax\nfstp TBYTE PTR [0x200000]\nmovd mm5, eax\nfnstsw WORD PTR [0x200010]');
  assert.equal(r.vector, -1);
  const dv = new DataView(r.m.memory, DATA, 32);
  assert.equal(dv.getBigUint64(0, true), 0x0123456789abcdefn);
  assert.equal(dv.getUint16(8, true), 0xffff);
  // FSTP popped: TOP 1 with tag 0 empty; then MOVD made TOP 0 and every tag valid again.
  assert.equal(r.s[S_FPU_TOP], 0);
  assert.equal(r.s[S_FTW], 0xff);
  assert.equal(mm(r.s, 5), 0x89abcdefn);
  assert.equal(r.s[S_FPR_RAW + 3 * 5 + 2], 0xffff);
  assert.equal(r.s[S_FPR_RAW + 3 * 0 + 2], 0xffff);
  // A register only read keeps its exponent; FNSTSW's TOP is the MMX one.
  const r2 = run('fninit\nfld1\nmovq rax, mm7\nfnstsw WORD PTR [0x200010]');
  assert.equal(r2.s[S_FPR_RAW + 3 * 7 + 2], 0x3fff);
  assert.equal(r2.m.dv.getUint16(DATA + 0x10, true) & 0x3800, 0);
  assert.equal(r2.m.reg('rax'), 0x8000000000000000n, 'MM7 is the significand of 1.0 (pushed into physical 7)');
});

test('MMX: FLD after MMX overflows the stack; after EMMS it does not', () => {
  // Without EMMS every tag is valid: FLD1 finds ST7 in use (IE, SF, C1) and, masked, loads the indefinite.
  let r = run('movq mm3, rax\nfld1\nfnstsw ax');
  assert.equal(Number(r.m.reg('rax') & 0x243n), 0x241, 'FSW IE | SF | C1');
  r = run('movq mm3, rax\nemms\nfld1\nfnstsw ax\nfstp TBYTE PTR [0x200000]');
  assert.equal(Number(r.m.reg('rax') & 0x7fn), 0, 'no exception');
  assert.equal(r.m.dv.getBigUint64(DATA, true), 0x8000000000000000n);
  assert.equal(r.m.dv.getUint16(DATA + 8, true), 0x3fff);
  assert.equal(r.s[S_FTW], 0);
  assert.equal(r.s[S_FPU_TOP], 0, 'EMMS sets TOP to 0 like every MMX instruction; FLD1/FSTP return to it');
});

test('MMX: the registers survive FXSAVE64 / FNINIT / FXRSTOR64, exponents and tags included', () => {
  const value = (k: number): bigint => BigInt.asUintN(64, (0x1111111111111111n * BigInt(k + 1)) ^ 0x8000000000000001n);
  const load = Array.from({ length: 8 }, (_, k) => `mov rax, 0x${value(k).toString(16)}\nmovq mm${k}, rax`).join('\n');
  const r = run(`${load}\nfxsave64 [0x200000]\nfninit\npxor mm0, mm0\nemms\nfxrstor64 [0x200000]\n`
    + Array.from({ length: 8 }, (_, k) => `movq QWORD PTR [${0x200400 + 8 * k}], mm${k}`).join('\n'));
  assert.equal(r.vector, -1);
  for (let k = 0; k < 8; k++) {
    const want = value(k);
    assert.equal(r.m.dv.getBigUint64(0x200400 + 8 * k, true), want, `mm${k}`);
    assert.equal(r.m.dv.getBigUint64(DATA + 32 + 16 * k, true), want, `FXSAVE ST${k} significand`);
    assert.equal(r.m.dv.getUint16(DATA + 32 + 16 * k + 8, true), 0xffff, `FXSAVE ST${k} exponent`);
    assert.equal(r.s[S_FPR_RAW + 3 * k + 2], 0xffff, `restored exponent ${k}`);
  }
  assert.equal(r.m.u8[DATA + 4], 0xff, 'FXSAVE abridged tags: all valid');
  assert.equal(r.m.dv.getUint16(DATA + 2, true) & 0x3800, 0, 'FXSAVE TOP 0');
});

test('MMX: faults are precise (no transition, no register change)', () => {
  for (const insn of ['movq mm1, QWORD PTR [rbx]', 'paddb mm1, QWORD PTR [rbx]', 'movq QWORD PTR [rbx], mm1', 'movd DWORD PTR [rbx], mm1', 'punpcklbw mm1, DWORD PTR [rbx]']) {
    const r = run(`fninit\nfld1\nfld1\nmov rbx, 0x8000000000000000\n${insn}`);
    assert.equal(r.vector, 13, insn);
    assert.equal(r.s[S_FPU_TOP], 6, `${insn}: TOP kept`);
    assert.equal(r.s[S_FTW], 0xc0, `${insn}: tags kept`);
    assert.equal(r.s[S_FPR_RAW + 3 * 1 + 2], 0, `${insn}: MM1's exponent (empty register) kept`);
  }
  // #XM from CVTPS2PI (invalid unmasked): MM1 and the x87 state unchanged, IE recorded in MXCSR.
  const r = run('fninit\nfld1\ncvtps2pi mm1, xmm2', (_m, s) => {
    s[S_CR4] |= 0x400;
    s[S_MXCSR] = 0x1f80 & ~0x80;
    s[S_XMM + 8] = 0x7fc00000; // xmm2 lane 0: a QNaN
  });
  assert.equal(r.vector, 19);
  assert.equal(r.s[S_FPU_TOP], 7);
  assert.equal(r.s[S_FTW], 0x80);
  assert.equal(r.s[S_MXCSR] & 1, 1);
  assert.equal(r.s[S_FPR_RAW + 3 * 1 + 2], 0, "MM1's exponent (empty register) kept");
  assert.equal(r.s[S_FSW] & 0x7f, 0, 'no x87 exception');
});

test('MMX: CVTPI2PS with a memory source makes the transition (SDM; this AMD host does not), CVTPI2PD m64 does not', () => {
  let r = run('fninit\nfld1\ncvtpi2ps xmm1, QWORD PTR [0x200000]', (m) => { m.dv.setInt32(DATA, -3, true); m.dv.setInt32(DATA + 4, 5, true); });
  assert.equal(r.vector, -1);
  assert.equal(r.s[S_XMM + 4] >>> 0, 0xc0400000);
  assert.equal(r.s[S_XMM + 5] >>> 0, 0x40a00000);
  assert.equal(r.s[S_FPU_TOP], 0);
  assert.equal(r.s[S_FTW], 0xff);
  r = run('fninit\nfld1\ncvtpi2pd xmm1, QWORD PTR [0x200000]');
  assert.equal(r.s[S_FPU_TOP], 7);
  assert.equal(r.s[S_FTW], 0x80);
  r = run('fninit\nfld1\ncvtpi2pd xmm1, mm0');
  assert.equal(r.s[S_FPU_TOP], 0);
  assert.equal(r.s[S_FTW], 0xff);
});
