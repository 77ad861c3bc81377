// x87 support for the differential harness: snippets that set the x87 state from the data window and dump it
// back into the window in a comparable form, an edge-biased generator of 80-bit operands, and the x87 forms
// (used by test/vp/diff-x87.test.ts).
//
// How the x87 state is set and compared without changing the harness: each snippet
//   1. sets the x87 state itself: FNINIT; FLDCW from the data window (random rounding control, precision control
//      and exception masks per case); FLD TBYTE of the operands B then A from the window (ST0 = A, ST1 = B);
//   2. runs the instruction under test (memory operands in the window, stores into the window);
//   3. dumps the state into the window: LAHF/SETO (EFLAGS of FCOMI), FNSAVE to a scratch area outside the
//      compared window, then copies into the window FSW (ANDed with the mask of the condition codes the SDM
//      leaves undefined for that instruction — only those), the full tag word, FCW, and the eight registers in
//      stack order with empty registers (tag 11) zeroed (their contents are not architectural). FIP/FCS/FOP/FDP/FDS
//      are not copied: they record addresses of the instruction and operand, checked by a dedicated VP test.
// The harness then compares the window bytes, GPRs and EFLAGS exactly.
//
// Operands come from an edge-biased generator of 80-bit values: signed zeros, infinities, QNaNs/SNaNs with random
// payloads, the indefinite, denormals, pseudo-denormals, unnormals and pseudo-NaNs/infinities (invalid
// encodings), extreme exponents, values near rounding boundaries for 24/53/64-bit precision, near-integers and
// integer-range boundaries, and correlated pairs (equal, negated, one ulp apart, exponents 1..70 apart).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BareMachine } from '../bare-machine.js';
import { LZ_NONE } from '../../../src/vp/x86/flags.js';
import { S_LZ_OP, S_RFLAGS, S_RIP } from '../../../src/vp/x86/state.js';
import type { Fault } from '../../../src/vp/x86/interrupts.js';
import { DATA, type DiffForm, Rng, runRunner } from './diff.js';

export const FCW_OFF = 0x00;
export const A_OFF = 0x10;
export const B_OFF = 0x20;
export const M_OFF = 0x40; // memory source operand
export const OUT_OFF = 0x60; // memory destination operand
export const SW_OFF = 0x80; // FSW (masked), tag word, FCW
export const REGS_OFF = 0x90; // 8 x 10 bytes
export const FLAGS_OFF = 0xe0; // LAHF/SETO
const SCRATCH = DATA + 0x1000; // FNSAVE image, outside the compared window

const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000;

const hex = (n: number): string => '0x' + n.toString(16);
const at = (off: number): string => `[${hex(DATA + off)}]`;

function prologue(loads: number): string {
  const l = [`fninit`, `fldcw WORD PTR ${at(FCW_OFF)}`];
  if (loads >= 2) l.push(`fld TBYTE PTR ${at(B_OFF)}`);
  if (loads >= 1) l.push(`fld TBYTE PTR ${at(A_OFF)}`);
  return l.join('\n');
}

function epilogue(undefCc: number): string {
  // Only instructions the VP already implements (no shifts or multiplies): FXAM + FINCSTP find the empty
  // registers (after FNCLEX, so a pending unmasked exception cannot raise #MF here).
  const EMPTY = SCRATCH + 0x200, SAVE = SCRATCH + 0x100;
  return [
    `lahf`, `seto al`, `mov WORD PTR ${at(FLAGS_OFF)}, ax`,
    `fnstenv [${hex(SCRATCH)}]`,
    `mov ax, WORD PTR [${hex(SCRATCH + 4)}]`, `and ax, ${hex(~undefCc & 0xffff)}`, `mov WORD PTR ${at(SW_OFF)}, ax`,
    `mov ax, WORD PTR [${hex(SCRATCH + 8)}]`, `mov WORD PTR ${at(SW_OFF + 2)}, ax`,
    `mov ax, WORD PTR [${hex(SCRATCH)}]`, `mov WORD PTR ${at(SW_OFF + 4)}, ax`,
    `fnclex`,
    `xor edi, edi`,
    `1:`, `fxam`, `fnstsw ax`, `and ax, 0x4500`, `cmp ax, 0x4100`, `sete BYTE PTR [rdi+${hex(EMPTY)}]`, `fincstp`,
    `inc edi`, `cmp edi, 8`, `jne 1b`,
    `fnsave [${hex(SAVE)}]`,
    `xor edi, edi`, `xor esi, esi`,
    `2:`,
    `mov r9, QWORD PTR [rsi+${hex(SAVE + 28)}]`, `movzx r10d, WORD PTR [rsi+${hex(SAVE + 36)}]`,
    `cmp BYTE PTR [rdi+${hex(EMPTY)}], 0`, `je 3f`, `xor r9d, r9d`, `xor r10d, r10d`,
    `3:`,
    `mov QWORD PTR [rsi+${hex(DATA + REGS_OFF)}], r9`, `mov WORD PTR [rsi+${hex(DATA + REGS_OFF + 8)}], r10w`,
    `add esi, 10`, `inc edi`, `cmp edi, 8`, `jne 2b`,
  ].join('\n');
}

// ---------------------------------------------------------------- operand generators

function put16(m: Uint8Array, off: number, v: number): void { m[off] = v & 0xff; m[off + 1] = (v >>> 8) & 0xff; }
function put32(m: Uint8Array, off: number, v: number): void { for (let k = 0; k < 4; k++) m[off + k] = (v >>> (8 * k)) & 0xff; }
function put80(m: Uint8Array, off: number, lo: number, hi: number, se: number): void {
  put32(m, off, lo); put32(m, off + 4, hi); put16(m, off + 8, se);
}

/** A random 80-bit value: [lo, hi, se]. */
function gen80(r: Rng): [number, number, number] {
  const sign = r.below(2) << 15;
  const k = r.below(40);
  const rnd = (): number => r.u32();
  if (k === 0) return [0, 0, sign];
  if (k === 1) return [0, 0x80000000, sign | 0x7fff];
  if (k === 2) return r.below(3) === 0 ? [0, 0xc0000000, 0xffff] : [rnd(), (0xc0000000 | rnd()) >>> 0, sign | 0x7fff]; // QNaN
  if (k === 3) { const h = (0x80000000 | (rnd() & 0x3fffffff)) >>> 0; const l = rnd(); return [h === 0x80000000 && l === 0 ? 1 : l, h, sign | 0x7fff]; } // SNaN
  if (k === 4 || k === 5) { // denormal
    const h = r.below(2) === 0 ? rnd() & 0x7fffffff : 0;
    return [rnd() >>> r.below(32), h, sign];
  }
  if (k === 6) return [rnd(), (0x80000000 | rnd()) >>> 0, sign]; // pseudo-denormal
  if (k === 7) return [rnd(), rnd() & 0x7fffffff, sign | (1 + r.below(0x7ffe))]; // unnormal
  if (k === 8) return [rnd(), rnd() & 0x7fffffff, sign | 0x7fff]; // pseudo-NaN / pseudo-infinity
  // normal numbers
  let e: number;
  const ek = r.below(10);
  if (ek < 4) e = 0x3fff - 40 + r.below(80);
  else if (ek < 6) e = 1 + r.below(0x7ffe);
  else if (ek === 6) e = 0x7ffe - r.below(70);
  else if (ek === 7) e = 1 + r.below(70);
  else e = 0x3ffe + r.below(66); // integer-ish range (FIST, FRNDINT, FBSTP)
  let hi = (0x80000000 | rnd()) >>> 0, lo = rnd();
  const mk = r.below(12);
  if (mk === 0) { hi = 0x80000000; lo = 0; }
  else if (mk === 1) { hi = 0xffffffff; lo = 0xffffffff; }
  else if (mk === 2) lo = (lo & ~0x7ff) | [0x400, 0x3ff, 0x401, 0xc00, 0x800][r.below(5)]; // 53-bit ties
  else if (mk === 3) { hi = (hi & ~0xff) | [0x80, 0x7f, 0x81, 0x180][r.below(4)]; lo = r.below(2) === 0 ? 0 : r.below(2) === 0 ? 1 : 0xffffffff; } // 24-bit
  else if (mk === 4) lo = [0, 1, 0xffffffff, 0x80000000][r.below(4)];
  else if (mk === 5 && e >= 0x3fff && e < 0x403e) {
    // near-integers: clear the fraction below the binary point except maybe a half/quarter
    const fracBits = 0x403e - e; // bits below the binary point among 64
    const v = (BigInt(hi) << 32n) | BigInt(lo);
    let w = (v >> BigInt(fracBits)) << BigInt(fracBits);
    const fk = r.below(4);
    if (fk === 1 && fracBits > 0) w |= 1n << BigInt(fracBits - 1);
    else if (fk === 2 && fracBits > 1) w |= 3n << BigInt(fracBits - 2);
    else if (fk === 3 && fracBits > 0) w |= 1n;
    hi = Number(w >> 32n) >>> 0; lo = Number(w & 0xffffffffn) >>> 0;
  } else if (mk === 6 && e >= 0x400d && e <= 0x403e) {
    // integer-range boundaries: 2^15, 2^31, 2^63 and neighbours
    const b = [0x400e, 0x401e, 0x403e][r.below(3)];
    e = b - r.below(2);
    hi = r.below(2) === 0 ? 0x80000000 : 0xffffffff; lo = r.below(2) === 0 ? 0 : hi === 0x80000000 ? 0 : 0xffffffff;
    if (r.below(2) === 0) { const v = ((BigInt(hi) << 32n) | BigInt(lo)) >> BigInt(0x403e - e) << BigInt(0x403e - e); hi = Number(v >> 32n) >>> 0; lo = Number(v & 0xffffffffn) >>> 0; }
  }
  return [lo >>> 0, hi >>> 0, sign | e];
}

/** A second operand, often related to the first (cancellation, ties, alignment). */
function genRelated(r: Rng, a: [number, number, number]): [number, number, number] {
  const k = r.below(8);
  const e = a[2] & 0x7fff;
  if (k === 0) return [a[0], a[1], a[2] ^ 0x8000];
  if (k === 1) return [a[0], a[1], a[2]];
  if (k === 2) { const lo = (a[0] + (r.below(2) === 0 ? 1 : -1)) >>> 0; return [lo, a[1], a[2] ^ (r.below(2) << 15)]; }
  if (k === 3 && e > 0 && e < 0x7fff) {
    const d = [1, 2, 23, 24, 25, 52, 53, 54, 63, 64, 65, 66, 67, 70][r.below(14)] * (r.below(2) === 0 ? 1 : -1);
    const ne = Math.min(0x7ffe, Math.max(1, e + d));
    return [r.u32(), (0x80000000 | r.u32()) >>> 0, (r.below(2) << 15) | ne];
  }
  return gen80(r);
}

function genF32(r: Rng): number {
  const k = r.below(12);
  const sign = r.below(2) << 31;
  if (k === 0) return sign;
  if (k === 1) return sign | 0x7f800000;
  if (k === 2) return sign | 0x7f800000 | (r.u32() & 0x7fffff) | 1; // NaN (S or Q)
  if (k === 3) return sign | (r.u32() & 0x7fffff) >>> r.below(23); // denormal
  if (k === 4) return sign | ((1 + r.below(0xfe)) << 23) | [0, 0x7fffff][r.below(2)];
  return sign | ((r.below(0xff)) << 23) | (r.u32() & 0x7fffff);
}

function genF64(r: Rng): [number, number] {
  const k = r.below(12);
  const sign = r.below(2) << 31;
  if (k === 0) return [0, sign];
  if (k === 1) return [0, sign | 0x7ff00000];
  if (k === 2) return [r.u32() | 1, sign | 0x7ff00000 | (r.u32() & 0xfffff)];
  if (k === 3) return [r.u32() >>> r.below(32), sign | ((r.u32() & 0xfffff) >>> r.below(21))];
  if (k === 4) return [r.below(2) === 0 ? 0 : 0xffffffff, sign | ((1 + r.below(0x7fe)) << 20) | [0, 0xfffff][r.below(2)]];
  if (k === 5) return [r.u32(), sign | ((1023 - 30 + r.below(60)) << 20) | (r.u32() & 0xfffff)];
  return [r.u32(), sign | (r.below(0x7ff) << 20) | (r.u32() & 0xfffff)];
}

function genInt(r: Rng, bits: number): [number, number] {
  const k = r.below(8);
  if (bits === 16) {
    const v = k < 3 ? [0, 1, -1, 0x7fff, -0x8000, 0x7ffe, -0x7fff][r.below(7)] : r.u32();
    return [v & 0xffff, 0];
  }
  if (bits === 32) {
    const v = k < 3 ? [0, 1, -1, 0x7fffffff, -0x80000000, 0x7ffffffe, 1 << 24, (1 << 24) + 1][r.below(8)] : r.u32() >>> r.below(32);
    return [v | 0, 0];
  }
  if (k < 3) {
    const e: [number, number][] = [[0, 0], [1, 0], [-1, -1], [-1, 0x7fffffff], [0, 0x80000000], [1, 0x80000000], [0x801, 0x00200000], [0x800, 0x00200000]];
    return e[r.below(e.length)];
  }
  return [r.u32(), r.u32() >>> r.below(32)];
}

// ---------------------------------------------------------------- forms

export const forms: DiffForm[] = [];

/** FCW: all four rounding modes, all precision-control settings, mostly masked exceptions. */
function genFcw(r: Rng, allMasked: boolean): number {
  const rc = r.below(4), pc = [0, 2, 3, 3, 1][r.below(5)];
  const masks = allMasked || r.below(4) !== 0 ? 0x3f : r.u32() & 0x3f;
  return 0x40 | masks | (pc << 8) | (rc << 10);
}

interface Opt {
  /** Operands loaded before the instruction: 2 (ST0 = A, ST1 = B), 1 (A only), 0. */
  loads?: number;
  /** Condition-code bits the SDM leaves undefined after the instruction. */
  undefCc?: number;
  /** Fill the memory source operand. */
  mem?: (r: Rng, m: Uint8Array) => void;
  /** Only masked exceptions. */
  masked?: boolean;
  /** Prepare A (e.g. positive for FSQRT). */
  fixA?: (a: [number, number, number], r: Rng) => void;
  name?: string;
  cases?: number;
  /** Extra instructions after the one under test (before the dump). */
  after?: string;
}

function form(insn: string, o: Opt = {}): void {
  const loads = o.loads ?? 2;
  const undefCc = o.undefCc ?? (C0 | C2 | C3);
  forms.push({
    asm: `${prologue(loads)}\n${insn}\n${o.after ?? ''}\n${epilogue(undefCc)}`,
    name: o.name ?? insn.replace(/\n/g, '; '),
    cases: o.cases,
    mem: (r, m) => {
      put16(m, FCW_OFF, genFcw(r, o.masked ?? false));
      const a = gen80(r);
      o.fixA?.(a, r);
      const b = r.below(3) === 0 ? genRelated(r, a) : gen80(r);
      put80(m, A_OFF, a[0], a[1], a[2]);
      put80(m, B_OFF, b[0], b[1], b[2]);
      o.mem?.(r, m);
    },
  });
}

const MEM = at(M_OFF);
const OUT = at(OUT_OFF);
const memF32 = (r: Rng, m: Uint8Array): void => put32(m, M_OFF, genF32(r));
const memF64 = (r: Rng, m: Uint8Array): void => { const v = genF64(r); put32(m, M_OFF, v[0]); put32(m, M_OFF + 4, v[1]); };
const memI = (bits: number) => (r: Rng, m: Uint8Array): void => {
  const v = genInt(r, bits);
  if (bits === 16) put16(m, M_OFF, v[0]);
  else { put32(m, M_OFF, v[0]); if (bits === 64) put32(m, M_OFF + 4, v[1]); }
};
const memF80 = (r: Rng, m: Uint8Array): void => { const v = gen80(r); put80(m, M_OFF, v[0], v[1], v[2]); };
const memBcd = (r: Rng, m: Uint8Array): void => {
  const digits = r.below(19);
  for (let k = 0; k < 9; k++) {
    const d0 = 2 * k < digits ? r.below(10) : 0, d1 = 2 * k + 1 < digits ? r.below(10) : 0;
    m[M_OFF + k] = d0 | (d1 << 4);
  }
  m[M_OFF + 9] = r.below(2) === 0 ? 0 : 0x80;
};

// Arithmetic: register forms (D8: ST0 op ST(i); DC: ST(i) op ST0; DE: ST(i) op ST0 and pop), all six operations.
const ARITH = ['fadd', 'fmul', '', '', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
for (const op of [0, 1, 4, 5, 6, 7]) {
  form(`.byte 0xd8, ${hex(0xc0 | (op << 3) | 1)}`, { name: `${ARITH[op]} st(0), st(1)` });
  // DC/DE: ModRM.reg 4/5 and 6/7 name the reversed operation (DC E0+i is FSUBR ST(i), ST(0))
  const rev = [0, 1, 2, 3, 5, 4, 7, 6][op];
  form(`.byte 0xdc, ${hex(0xc0 | (rev << 3) | 1)}`, { name: `${ARITH[op]} st(1), st(0)` });
  form(`.byte 0xde, ${hex(0xc0 | (rev << 3) | 1)}`, { name: `${ARITH[op]}p st(1), st(0)` });
  form(`.byte 0xd8, ${hex(0xc0 | (op << 3))}`, { name: `${ARITH[op]} st(0), st(0)` });
  form(`${ARITH[op]} DWORD PTR ${MEM}`, { mem: memF32 });
  form(`${ARITH[op]} QWORD PTR ${MEM}`, { mem: memF64 });
  form(`fi${ARITH[op].slice(1)} WORD PTR ${MEM}`, { mem: memI(16) });
  form(`fi${ARITH[op].slice(1)} DWORD PTR ${MEM}`, { mem: memI(32) });
}
// Stack underflow on arithmetic (ST1 empty, ST0 empty).
form(`.byte 0xd8, 0xc1`, { loads: 1, name: 'fadd st(0), st(1) with ST1 empty' });
form(`fmul DWORD PTR ${MEM}`, { loads: 0, mem: memF32, name: 'fmul m32 with ST0 empty' });
form(`.byte 0xde, 0xf9`, { loads: 1, name: 'fdivp st(1), st(0) with ST1 empty' });

// Compares.
const CMP_UNDEF = 0; // FCOM & co. define C0 C2 C3 (result) and C1 (0)
form(`.byte 0xd8, 0xd1`, { undefCc: CMP_UNDEF, name: 'fcom st(1)' });
form(`.byte 0xd8, 0xd9`, { undefCc: CMP_UNDEF, name: 'fcomp st(1)' });
form(`.byte 0xde, 0xd9`, { undefCc: CMP_UNDEF, name: 'fcompp' });
form(`.byte 0xdd, 0xe1`, { undefCc: CMP_UNDEF, name: 'fucom st(1)' });
form(`.byte 0xdd, 0xe9`, { undefCc: CMP_UNDEF, name: 'fucomp st(1)' });
form(`.byte 0xda, 0xe9`, { undefCc: CMP_UNDEF, name: 'fucompp' });
form(`fcom DWORD PTR ${MEM}`, { undefCc: CMP_UNDEF, mem: memF32 });
form(`fcomp QWORD PTR ${MEM}`, { undefCc: CMP_UNDEF, mem: memF64 });
form(`ficom WORD PTR ${MEM}`, { undefCc: CMP_UNDEF, mem: memI(16) });
form(`ficomp DWORD PTR ${MEM}`, { undefCc: CMP_UNDEF, mem: memI(32) });
form(`ftst`, { undefCc: CMP_UNDEF });
form(`fxam`, { undefCc: 0 });
form(`fxam`, { undefCc: C1, loads: 0, name: 'fxam of an empty ST0 (C1 undefined)' });
// FCOMI*: C1 = 0, C0 C2 C3 undefined; ZF PF CF from the compare, OF SF AF cleared (LAHF/SETO capture them).
form(`.byte 0xdb, 0xf1`, { name: 'fcomi st(0), st(1)' });
form(`.byte 0xdf, 0xf1`, { name: 'fcomip st(0), st(1)' });
form(`.byte 0xdb, 0xe9`, { name: 'fucomi st(0), st(1)' });
form(`.byte 0xdf, 0xe9`, { name: 'fucomip st(0), st(1)' });
form(`.byte 0xdb, 0xf1`, { loads: 1, name: 'fcomi with ST1 empty' });

// Loads.
form(`fld DWORD PTR ${MEM}`, { mem: memF32 });
form(`fld QWORD PTR ${MEM}`, { mem: memF64 });
form(`fld TBYTE PTR ${MEM}`, { mem: memF80 });
form(`fld st(1)`);
form(`fld st(1)`, { loads: 1, name: 'fld st(1) with ST1 empty' });
form(`fild WORD PTR ${MEM}`, { mem: memI(16) });
form(`fild DWORD PTR ${MEM}`, { mem: memI(32) });
form(`fild QWORD PTR ${MEM}`, { mem: memI(64) });
form(`fbld TBYTE PTR ${MEM}`, { mem: memBcd });
for (const c of ['fld1', 'fldz', 'fldpi', 'fldl2e', 'fldl2t', 'fldlg2', 'fldln2']) form(c, { loads: 1 });
form(`${'fld st(0)\n'.repeat(6)}fld1`, { name: 'fld1 with a full stack (overflow)' });

// Stores.
form(`fst DWORD PTR ${OUT}`);
form(`fst QWORD PTR ${OUT}`);
form(`fstp DWORD PTR ${OUT}`);
form(`fstp QWORD PTR ${OUT}`);
form(`fstp TBYTE PTR ${OUT}`);
form(`fst DWORD PTR ${OUT}`, { loads: 0, name: 'fst m32 with ST0 empty' });
form(`.byte 0xdd, 0xd1`, { name: 'fst st(1)' });
form(`.byte 0xdd, 0xd9`, { name: 'fstp st(1)' });
form(`.byte 0xdd, 0xda`, { name: 'fstp st(2)' });
for (const [op, p] of [['fist', 'WORD'], ['fist', 'DWORD'], ['fistp', 'WORD'], ['fistp', 'DWORD'], ['fistp', 'QWORD'], ['fisttp', 'WORD'], ['fisttp', 'DWORD'], ['fisttp', 'QWORD']]) {
  form(`${op} ${p} PTR ${OUT}`);
}
form(`fbstp TBYTE PTR ${OUT}`);

// One-operand and ST0/ST1 operations.
form('fchs');
form('fabs');
form('fchs', { loads: 0, name: 'fchs with ST0 empty' });
form('fsqrt', { fixA: (a, r) => { if (r.below(5) !== 0) a[2] &= 0x7fff; } });
form('frndint');
form('fscale', { undefCc: C0 | C2 | C3 });
form('fxtract');
form('fprem', { undefCc: 0 });
form('fprem1', { undefCc: 0 });
form('fxch st(1)');
form('fxch st(1)', { loads: 1, name: 'fxch st(1) with ST1 empty' });
for (const [k, cc] of ['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu', 'fcmovnb', 'fcmovne', 'fcmovnbe', 'fcmovnu'].entries()) {
  void k;
  form(`${cc} st(0), st(1)`);
}
form('ffree st(1)');
form('fincstp');
form('fdecstp');
form('fnop');
form('fincstp\nfincstp\nfdecstp', { name: 'fincstp; fincstp; fdecstp' });

// Control and status.
form(`fnstsw ax\nmov WORD PTR ${OUT}, ax`, { undefCc: 0 });
form(`fadd st(0), st(1)\nfnstsw WORD PTR ${OUT}`, { undefCc: C0 | C2 | C3 });
form(`fnstcw WORD PTR ${OUT}`, { undefCc: 0 });
form(`fldcw WORD PTR ${MEM}`, { undefCc: 0, mem: (r, m) => put16(m, M_OFF, r.u32() & 0xf3f) });
form(`fadd st(0), st(1)\nfnclex`, { name: 'fadd; fnclex' });
form(`fadd st(0), st(1)\nfninit`, { name: 'fadd; fninit', undefCc: 0 });
form(`fnstenv [${hex(SCRATCH + 0x100)}]\nfldcw WORD PTR ${at(FCW_OFF)}\nfld1\nfldenv [${hex(SCRATCH + 0x100)}]`, { name: 'fnstenv; fld1; fldenv', undefCc: 0 });
form(`fnsave [${hex(SCRATCH + 0x100)}]\nfld1\nfrstor [${hex(SCRATCH + 0x100)}]`, { name: 'fnsave; fld1; frstor', undefCc: 0 });
form(`fnstenv [${hex(SCRATCH + 0x100)}]\nmov eax, DWORD PTR [${hex(SCRATCH + 0x100)}]\nmov DWORD PTR ${OUT}, eax\nmov eax, DWORD PTR [${hex(SCRATCH + 0x104)}]\nmov DWORD PTR ${at(OUT_OFF + 4)}, eax\nmov eax, DWORD PTR [${hex(SCRATCH + 0x108)}]\nmov DWORD PTR ${at(OUT_OFF + 8)}, eax`, { name: 'fnstenv (FCW, FSW, FTW dwords)', undefCc: 0 });
// Unmasked exceptions: #MF at the next waiting instruction (CR0.NE is set in both worlds).
forms.push({
  asm: `${prologue(2)}\nfdiv st(0), st(1)\nfwait\n${epilogue(C0 | C2 | C3)}`,
  name: 'fdiv with ZE/IE/PE unmasked; fwait (#MF when an unmasked exception is pending)',
  mem: (r, m) => {
    put16(m, FCW_OFF, 0x40 | (r.u32() & 0x3f & ~0x25) | (3 << 8) | (r.below(4) << 10));
    const a = gen80(r), b = r.below(2) === 0 ? [0, 0, r.below(2) << 15] : gen80(r);
    put80(m, A_OFF, a[0], a[1], a[2]);
    put80(m, B_OFF, b[0], b[1], b[2]);
  },
  allFault: false,
});


// ---------------------------------------------------------------- transcendental functions (tolerance)
//
// F2XM1, FYL2X, FYL2XP1, FPTAN, FPATAN, FSIN, FCOS, FSINCOS are computed by the VP in double precision (53-bit
// significand) while the host computes with its own internal precision, and AMD and Intel differ from each other
// here too: their results are compared within a tolerance, everything else exactly. The tolerance: for a finite
// nonzero host result h, |vp - h| <= 2^-51 |h| + 2^-60 (the absolute part covers results near zeros of sin/cos/tan,
// where the host's own argument reduction with a finite pi dominates), or at most 2 units in the last place when the
// exponents are equal (denormal results). C1 ("rounded up") is not compared for these
// (it reports the rounding of an approximation the VP does not reproduce); exception flags, C2, TOP, tags and the
// other registers are compared exactly. The harness (diff.ts) compares windows bit for bit only, so these forms
// run through runTolerance below, which drives the same native runner and BareMachine.

export interface TolForm {
  name: string;
  asm: string;
  mem: (r: Rng, m: Uint8Array) => void;
  /** Registers (stack order) whose value is compared with tolerance. */
  approx: number[];
  cases: number;
}

export const tolForms: TolForm[] = [];

function tolForm(insn: string, approx: number[], gen: (r: Rng) => [number, number, number][], loads = 2): void {
  tolForms.push({
    name: insn,
    asm: `${prologue(loads)}\n${insn}\n${epilogue(C0 | C1 | C3)}`,
    approx,
    cases: 256,
    mem: (r, m) => {
      put16(m, FCW_OFF, genFcw(r, false));
      const v = gen(r);
      put80(m, A_OFF, v[0][0], v[0][1], v[0][2]);
      put80(m, B_OFF, v[1][0], v[1][1], v[1][2]);
    },
  });
}

/** A finite value with |x| in [2^lo, 2^hi), random sign unless `pos`; sometimes a special value instead. */
function finite(r: Rng, lo: number, hi: number, pos = false): [number, number, number] {
  if (r.below(8) === 0) return gen80(r);
  const e = 0x3fff + lo + r.below(hi - lo);
  return [r.u32(), (0x80000000 | r.u32()) >>> 0, (pos || r.below(2) === 0 ? 0 : 0x8000) | e];
}

tolForm('fsin', [0], (r) => [finite(r, -40, 12), gen80(r)]);
tolForm('fcos', [0], (r) => [finite(r, -40, 12), gen80(r)]);
tolForm('fptan', [0, 1], (r) => [finite(r, -40, 12), gen80(r)], 1);
tolForm('fsincos', [0, 1], (r) => [finite(r, -40, 12), gen80(r)], 1);
tolForm('f2xm1', [0], (r) => [finite(r, -70, 0), gen80(r)]);
tolForm('fyl2x', [0], (r) => [finite(r, -200, 200, r.below(8) !== 0), finite(r, -20, 20)]);
tolForm('fyl2xp1', [0], (r) => [finite(r, -70, -2), finite(r, -20, 20)]);
tolForm('fpatan', [0], (r) => [finite(r, -60, 60), finite(r, -60, 60)]);
tolForm('fsin', [0], () => [[0, 0xc0000000, 0x403f], [0, 0, 0]]); // 2^64 * 1.5: out of range, C2 = 1

/** 80-bit value to a JS number (rounded); NaN for NaN/invalid encodings. */
function num80(b: Uint8Array, off: number): number {
  const dv = new DataView(b.buffer, b.byteOffset + off, 10);
  const lo = dv.getUint32(0, true), hi = dv.getUint32(4, true), se = dv.getUint16(8, true);
  const e = se & 0x7fff, s = se & 0x8000 ? -1 : 1;
  if (e === 0x7fff) return (hi & 0x7fffffff) === 0 && lo === 0 && hi !== 0 ? s * Infinity : NaN;
  return s * (hi * 2 ** 32 + lo) * 2 ** ((e === 0 ? 1 : e) - 16383 - 63);
}

/**
 * Relative difference |v - h| / |h| of two finite nonzero 80-bit values of the same sign (any exponents, exact
 * via BigInt); undefined when they are not comparable that way (NaN, infinity, zero, sign or class differs).
 */
function relErr(hb: Uint8Array, vb: Uint8Array): number | undefined {
  const parse = (b: Uint8Array): [number, number, bigint] | undefined => {
    const dv = new DataView(b.buffer, b.byteOffset, 10);
    const sig = dv.getBigUint64(0, true), se = dv.getUint16(8, true), e = se & 0x7fff;
    if (e === 0x7fff || sig === 0n) return undefined;
    return [se >> 15, e === 0 ? 1 : e, sig];
  };
  const h = parse(hb), v = parse(vb);
  if (h === undefined || v === undefined || h[0] !== v[0]) return undefined;
  const m = Math.min(h[1], v[1]);
  if (Math.abs(h[1] - v[1]) > 8) return undefined;
  const a = h[2] << BigInt(h[1] - m), b = v[2] << BigInt(v[1] - m);
  const d = a > b ? a - b : b - a;
  return Number(d) / Number(a);
}

export interface TolReport { cases: number; failures: string[]; maxRel: number }

/** Run tolerance forms on the host and the VP and compare. */
export function runTolerance(list: TolForm[], seed = 0x7e5): TolReport {
  const WIN = 0x200;
  const dir = mkdtempSync(join(tmpdir(), 'hypatia-x87-'));
  const failures: string[] = [];
  let cases = 0, maxRel = 0;
  try {
    const m = new BareMachine();
    const cpu = m.engine.cpu;
    let vf: Fault | null = null;
    cpu.handleFault = (f: Fault): void => { vf = f; cpu.requestExit(-1); };
    list.forEach((form, fi) => {
      writeFileSync(join(dir, 'a.s'), `.intel_syntax noprefix\n.text\n${form.asm}\n`);
      const as = spawnSync('as', ['--64', '-o', join(dir, 'a.o'), join(dir, 'a.s')], { encoding: 'utf8' });
      if (as.status !== 0) throw new Error(`as: ${as.stderr}`);
      spawnSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.o'), join(dir, 'a.bin')]);
      const code = readFileSync(join(dir, 'a.bin'));
      const rng = new Rng(seed ^ (fi * 0x9e3779b1));
      const wins: Buffer[] = [];
      for (let c = 0; c < form.cases; c++) {
        const w = Buffer.alloc(WIN);
        for (let k = 0; k < WIN; k += 4) w.writeUInt32LE(rng.u32(), k);
        form.mem(rng, w);
        wins.push(w);
      }
      // Host: one snippet, cases with RSP = STACK and zero GPRs/flags (protocol in native-runner.c).
      const parts: Buffer[] = [];
      const hdr = Buffer.alloc(12); hdr.writeUInt32LE(0x31445648, 0); hdr.writeUInt32LE(WIN, 4); hdr.writeUInt32LE(1, 8);
      const sn = Buffer.alloc(8); sn.writeUInt32LE(code.length, 4);
      const nc = Buffer.alloc(4); nc.writeUInt32LE(form.cases, 0);
      parts.push(hdr, sn, code, nc);
      for (const w of wins) { const cs = Buffer.alloc(8 + 136); cs.writeBigUInt64LE(BigInt(DATA + 0x1c0), 8 + 32); parts.push(cs, w); }
      const out = runRunner(Buffer.concat(parts)).stdout;
      let q = 0;
      m.load(0x100000, Buffer.concat([code, Buffer.from([0xf4])]));
      for (let c = 0; c < form.cases; c++) {
        const hostVec = out.readInt32LE(q); q += 16 + 136;
        const hw = Buffer.from(wins[c]);
        const runs = out.readUInt32LE(q); q += 4;
        for (let k = 0; k < runs; k++) {
          const off = out.readUInt32LE(q), len = out.readUInt32LE(q + 4); q += 8;
          out.copy(hw, off, q, q + len); q += (len + 3) & ~3;
        }
        const s = cpu.s;
        for (let k = 0; k < 32; k++) s[k] = 0;
        s[8] = DATA + 0x1c0;
        s[S_RIP] = 0x100000; s[S_RIP + 1] = 0; s[S_RFLAGS] = 2; s[S_LZ_OP] = LZ_NONE;
        m.u8.set(wins[c], DATA);
        vf = null;
        cpu.run(100_000);
        const vpVec = (vf as Fault | null)?.vector ?? -1;
        const vw = Buffer.from(m.u8.subarray(DATA, DATA + WIN));
        cases++;
        const problems: string[] = [];
        if (hostVec !== vpVec) problems.push(`exception host ${hostVec} vp ${vpVec}`);
        // exact except the approximated registers
        const exact = Buffer.from(hw), exactV = Buffer.from(vw);
        for (const k of form.approx) { exact.fill(0, REGS_OFF + 10 * k, REGS_OFF + 10 * k + 10); exactV.fill(0, REGS_OFF + 10 * k, REGS_OFF + 10 * k + 10); }
        if (!exact.equals(exactV)) problems.push('exact part differs');
        for (const k of form.approx) {
          const hb = hw.subarray(REGS_OFF + 10 * k, REGS_OFF + 10 * k + 10), vb = vw.subarray(REGS_OFF + 10 * k, REGS_OFF + 10 * k + 10);
          if (hb.equals(vb)) continue;
          const rel = relErr(hb, vb);
          if (rel === undefined) { problems.push(`ST${k} differs`); continue; }
          if (hb.readUInt16LE(8) & 0x7fff) maxRel = Math.max(maxRel, rel); // normal results (denormals: ulps)
          const ulps = hb.readUInt16LE(8) === vb.readUInt16LE(8) ? Math.abs(Number(Buffer.from(hb).readBigUInt64LE(0) - Buffer.from(vb).readBigUInt64LE(0))) : Infinity;
          if (rel > 2 ** -51 && ulps > 2 && !(Math.abs(num80(hb, 0)) < 2 ** -60 && Math.abs(num80(vb, 0) - num80(hb, 0)) <= 2 ** -60)) {
            problems.push(`ST${k} off by ${rel.toExponential(2)} (relative)`);
          }
        }
        if (problems.length > 0 && failures.length < 20) {
          const f80 = (b: Buffer, o: number): string => `${b.readUInt16LE(o + 8).toString(16).padStart(4, '0')}:${b.readUInt32LE(o + 4).toString(16).padStart(8, '0')}${b.readUInt32LE(o).toString(16).padStart(8, '0')}`;
          failures.push(`${form.name} case ${c}: ${problems.join('; ')}\n  FCW=${wins[c].readUInt16LE(FCW_OFF).toString(16)} A=${f80(wins[c], A_OFF)} B=${f80(wins[c], B_OFF)}\n` +
            `  host SW=${hw.readUInt16LE(SW_OFF).toString(16)} TW=${hw.readUInt16LE(SW_OFF + 2).toString(16)} ST0=${f80(hw, REGS_OFF)} ST1=${f80(hw, REGS_OFF + 10)}\n` +
            `  vp   SW=${vw.readUInt16LE(SW_OFF).toString(16)} TW=${vw.readUInt16LE(SW_OFF + 2).toString(16)} ST0=${f80(vw, REGS_OFF)} ST1=${f80(vw, REGS_OFF + 10)}`);
        } else if (problems.length > 0) failures.push('');
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { cases, failures, maxRel };
}
