// Multiply and divide: MUL, IMUL, DIV, IDIV (F6/F7 /4../7, decoded in alu.ts's group 3), IMUL r, r/m (0F AF),
// IMUL r, r/m, imm (69, 6B).
//
// Semantics (Intel SDM vol. 2, MUL/IMUL/DIV/IDIV): the one-operand forms use AL/AX/EAX/RAX and AH or rDX;
// 64-bit forms produce or consume 128-bit values. MUL/IMUL set CF = OF = "the upper half is significant"
// (MUL: nonzero; IMUL: not the sign extension of the lower half); SF, ZF, AF, PF are undefined (we set SF, ZF,
// PF from the low half of the result and clear AF). DIV/IDIV raise #DE for a zero divisor or a quotient that does
// not fit, before changing anything; their flags are undefined (we leave them unchanged). IDIV truncates towards
// zero and the remainder has the sign of the dividend.
//
// Everything is done on int32 halves and doubles (exact below 2^53): no BigInt, no allocation.
import { EXC_DE, FLAG_CF, FLAG_OF, FLAG_SF, FLAG_ZF, FLAGS_ARITH, RAX, RDX } from '../constants.js';
import { LZ_IMUL, LZ_NONE, PARITY } from '../flags.js';
import { S_LZ_DST, S_LZ_OP, S_LZ_RES, S_LZ_SIZE, S_LZ_SRC, S_RFLAGS } from '../state.js';
import { MAP0F, MAP1, type Decoder } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { getReg, readRM, setReg } from '../operands.js';

// ---- 32 x 32 -> 64 and 64 x 64 -> 128 multiplication on int32 halves

/** High half of the last mulU32 (low half is returned). */
let mHi = 0;

/** Unsigned 32 x 32 -> 64: returns the low 32 bits, high 32 bits in mHi. */
function mulU32(a: number, b: number): number {
  const aL = a & 0xffff, aH = a >>> 16, bL = b & 0xffff, bH = b >>> 16;
  const p0 = aL * bL, p1 = aL * bH, p2 = aH * bL;
  const mid = (p0 >>> 16) + (p1 & 0xffff) + (p2 & 0xffff);
  mHi = (aH * bH + (p1 >>> 16) + (p2 >>> 16) + (mid >>> 16)) | 0;
  return Math.imul(a, b);
}

/** 128-bit product words w0 (lowest) .. w3 of the last mul64. */
let w0 = 0, w1 = 0, w2 = 0, w3 = 0;

/** 64 x 64 -> 128, unsigned; signed adjusts the upper half (two's complement correction). */
function mul64(aLo: number, aHi: number, bLo: number, bHi: number, signed: boolean): void {
  const ll = mulU32(aLo, bLo), llH = mHi;
  const lh = mulU32(aLo, bHi), lhH = mHi;
  const hl = mulU32(aHi, bLo), hlH = mHi;
  const hh = mulU32(aHi, bHi), hhH = mHi;
  w0 = ll;
  let t = (llH >>> 0) + (lh >>> 0) + (hl >>> 0);
  w1 = t | 0;
  t = Math.floor(t / 4294967296) + (lhH >>> 0) + (hlH >>> 0) + (hh >>> 0);
  w2 = t | 0;
  w3 = (Math.floor(t / 4294967296) + hhH) | 0;
  if (signed) {
    // (a as signed) * (b as signed) = unsigned product - 2^64 * (a<0 ? b : 0) - 2^64 * (b<0 ? a : 0)
    if (aHi < 0) sub2(bLo, bHi);
    if (bHi < 0) sub2(aLo, aHi);
  }
}

/** (w3:w2) -= (lo, hi) */
function sub2(lo: number, hi: number): void {
  const t = (w2 >>> 0) - (lo >>> 0);
  w2 = t | 0;
  w3 = (w3 - hi - (t < 0 ? 1 : 0)) | 0;
}

/** Set all six arithmetic flags: CF = OF = of, SF/ZF/PF from the low half (lo, hi) of `size` bytes. */
function mulFlags(s: Int32Array, size: number, lo: number, hi: number, of: boolean): void {
  let f = PARITY[lo & 0xff];
  let sign: number, zero: boolean;
  switch (size) {
    case 1: sign = lo & 0x80; zero = (lo & 0xff) === 0; break;
    case 2: sign = lo & 0x8000; zero = (lo & 0xffff) === 0; break;
    case 4: sign = lo & 0x80000000; zero = lo === 0; break;
    default: sign = hi & 0x80000000; zero = (lo | hi) === 0; break;
  }
  if (sign !== 0) f |= FLAG_SF;
  if (zero) f |= FLAG_ZF;
  if (of) f |= FLAG_CF | FLAG_OF;
  s[S_RFLAGS] = (s[S_RFLAGS] & ~FLAGS_ARITH) | f;
  s[S_LZ_OP] = LZ_NONE;
}

// ---- one-operand MUL / IMUL

export function opMul(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  const b = readRM(cpu, i, size), bHi = cpu.rdHi;
  switch (size) {
    case 1: {
      const p = (s[0] & 0xff) * b;
      setReg(s, 2, RAX, p, 0);
      mulFlags(s, 1, p, 0, p > 0xff);
      return;
    }
    case 2: {
      const p = (s[0] & 0xffff) * b;
      setReg(s, 2, RAX, p, 0);
      setReg(s, 2, RDX, p >>> 16, 0);
      mulFlags(s, 2, p, 0, p > 0xffff);
      return;
    }
    case 4: {
      const lo = mulU32(s[0], b), hi = mHi;
      s[0] = lo; s[1] = 0;
      s[2 * RDX] = hi; s[2 * RDX + 1] = 0;
      mulFlags(s, 4, lo, 0, hi !== 0);
      return;
    }
    default: {
      mul64(s[0], s[1], b, bHi, false);
      s[0] = w0; s[1] = w1; s[2 * RDX] = w2; s[2 * RDX + 1] = w3;
      mulFlags(s, 8, w0, w1, (w2 | w3) !== 0);
      return;
    }
  }
}

export function opImul1(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  const b = readRM(cpu, i, size), bHi = cpu.rdHi;
  switch (size) {
    case 1: {
      const p = ((s[0] << 24) >> 24) * ((b << 24) >> 24);
      setReg(s, 2, RAX, p, 0);
      mulFlags(s, 1, p, 0, p !== ((p << 24) >> 24));
      return;
    }
    case 2: {
      const p = ((s[0] << 16) >> 16) * ((b << 16) >> 16);
      setReg(s, 2, RAX, p, 0);
      setReg(s, 2, RDX, p >> 16, 0);
      mulFlags(s, 2, p, 0, p !== ((p << 16) >> 16));
      return;
    }
    case 4: {
      const a = s[0];
      const lo = mulU32(a, b);
      const hi = (mHi - (a < 0 ? b : 0) - (b < 0 ? a : 0)) | 0;
      s[0] = lo; s[1] = 0;
      s[2 * RDX] = hi; s[2 * RDX + 1] = 0;
      mulFlags(s, 4, lo, 0, hi !== lo >> 31);
      return;
    }
    default: {
      mul64(s[0], s[1], b, bHi, true);
      s[0] = w0; s[1] = w1; s[2 * RDX] = w2; s[2 * RDX + 1] = w3;
      const ext = w1 >> 31;
      mulFlags(s, 8, w0, w1, w2 !== ext || w3 !== ext);
      return;
    }
  }
}

// ---- IMUL r, r/m [, imm]: truncated signed product; CF = OF = the truncation lost significance

function recordImul(s: Int32Array, size: number, aLo: number, aHi: number, bLo: number, bHi: number, rLo: number, rHi: number): void {
  s[S_LZ_OP] = LZ_IMUL;
  s[S_LZ_SIZE] = size;
  s[S_LZ_DST] = aLo; s[S_LZ_DST + 1] = aHi;
  s[S_LZ_SRC] = bLo; s[S_LZ_SRC + 1] = bHi;
  s[S_LZ_RES] = rLo; s[S_LZ_RES + 1] = rHi;
}

/** IMUL with the multiplier in (bLo, bHi): result into i.reg. */
function imul2(cpu: X86Cpu, i: Insn, aLo: number, aHi: number, bLo: number, bHi: number): void {
  const s = cpu.s, size = i.size;
  switch (size) {
    case 2: {
      const p = ((aLo << 16) >> 16) * ((bLo << 16) >> 16);
      setReg(s, 2, i.reg, p, 0);
      mulFlags(s, 2, p, 0, p !== ((p << 16) >> 16));
      return;
    }
    case 4: {
      // Truncated product now; CF/OF (and the undefined SF/ZF/PF) only if something reads them (flags.ts).
      const lo = Math.imul(aLo, bLo);
      setReg(s, 4, i.reg, lo, 0);
      recordImul(s, 4, aLo, 0, bLo, 0, lo, 0);
      return;
    }
    default: {
      // The low 64 bits of a product do not depend on signedness: lo*lo (full) + the two cross terms' low halves.
      const lo = mulU32(aLo, bLo);
      const hi = (mHi + Math.imul(aLo, bHi) + Math.imul(aHi, bLo)) | 0;
      s[2 * i.reg] = lo; s[2 * i.reg + 1] = hi;
      recordImul(s, 8, aLo, aHi, bLo, bHi, lo, hi);
      return;
    }
  }
}

function imulRM(cpu: X86Cpu, i: Insn): void {
  const size = i.size;
  const b = readRM(cpu, i, size), bHi = cpu.rdHi;
  const s = cpu.s;
  imul2(cpu, i, getReg(s, size, i.reg), size === 8 ? s[2 * i.reg + 1] : 0, b, bHi);
}

function imulRMI(cpu: X86Cpu, i: Insn): void {
  const a = readRM(cpu, i, i.size), aHi = cpu.rdHi;
  imul2(cpu, i, a, aHi, i.immLo, i.immHi);
}

// ---- DIV / IDIV

/** Quotient and remainder of the last division routine (low, high halves). */
let qLo = 0, qHi = 0, rLo = 0, rHi = 0;

/**
 * Unsigned (nHi:nLo as 64-bit pairs: n3:n2:n1:n0, 128 bits) / (dLo, dHi), with (n3:n2) < (dHi:dLo) so the quotient
 * fits 64 bits. Small divisors (< 2^37) use 16-bit digits in doubles; others a bitwise shift-subtract loop.
 */
function divU128(n0: number, n1: number, n2: number, n3: number, dLo: number, dHi: number): void {
  if ((dHi >>> 0) < 32) {
    const d = (dHi >>> 0) * 4294967296 + (dLo >>> 0);
    let r = (n3 >>> 0) * 4294967296 + (n2 >>> 0); // < d < 2^37
    let q1 = 0, q0 = 0;
    for (let k = 3; k >= 0; k--) {
      const word = k >= 2 ? n1 : n0;
      const digit = (k & 1) !== 0 ? word >>> 16 : word & 0xffff;
      const cur = r * 65536 + digit; // < 2^53
      const q = Math.floor(cur / d);
      r = cur - q * d;
      if (k >= 2) q1 = q1 * 65536 + q; else q0 = q0 * 65536 + q;
    }
    qLo = q0 | 0; qHi = q1 | 0;
    rLo = r % 4294967296 | 0; rHi = Math.floor(r / 4294967296) | 0;
    return;
  }
  // Shift-subtract over the 64 dividend bits of n1:n0, remainder starting at n3:n2 (< divisor).
  let remLo = n2, remHi = n3, ql = 0, qh = 0;
  for (let k = 63; k >= 0; k--) {
    const carry = remHi >>> 31;
    remHi = (remHi << 1) | (remLo >>> 31);
    remLo = (remLo << 1) | (k >= 32 ? (n1 >>> (k - 32)) & 1 : (n0 >>> k) & 1);
    if (carry !== 0 || (remHi >>> 0) > (dHi >>> 0) || (remHi === dHi && (remLo >>> 0) >= (dLo >>> 0))) {
      const t = (remLo >>> 0) - (dLo >>> 0);
      remLo = t | 0;
      remHi = (remHi - dHi - (t < 0 ? 1 : 0)) | 0;
      if (k >= 32) qh |= 1 << (k - 32); else ql |= 1 << k;
    }
  }
  qLo = ql; qHi = qh; rLo = remLo; rHi = remHi;
}

/** Unsigned 64-bit (hi:lo) / 32-bit d with hi < d (quotient fits 32 bits): quotient in qLo, remainder in rLo. */
function divU64by32(lo: number, hi: number, d: number): void {
  const dd = d >>> 0;
  let r = hi >>> 0;
  const c1 = r * 65536 + (lo >>> 16);
  const q1 = Math.floor(c1 / dd);
  r = c1 - q1 * dd;
  const c0 = r * 65536 + (lo & 0xffff);
  const q0 = Math.floor(c0 / dd);
  r = c0 - q0 * dd;
  qLo = (q1 * 65536 + q0) | 0;
  rLo = r | 0;
}

export function opDiv(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  const d = readRM(cpu, i, size), dHi = cpu.rdHi;
  switch (size) {
    case 1: {
      if (d === 0) cpu.fault(EXC_DE);
      const n = s[0] & 0xffff;
      const q = Math.floor(n / d);
      if (q > 0xff) cpu.fault(EXC_DE);
      setReg(s, 2, RAX, ((n - q * d) << 8) | q, 0);
      return;
    }
    case 2: {
      if (d === 0) cpu.fault(EXC_DE);
      const n = (s[2 * RDX] & 0xffff) * 65536 + (s[0] & 0xffff);
      const q = Math.floor(n / d);
      if (q > 0xffff) cpu.fault(EXC_DE);
      setReg(s, 2, RAX, q, 0);
      setReg(s, 2, RDX, n - q * d, 0);
      return;
    }
    case 4: {
      if (d === 0 || (s[2 * RDX] >>> 0) >= (d >>> 0)) cpu.fault(EXC_DE);
      divU64by32(s[0], s[2 * RDX], d);
      s[0] = qLo; s[1] = 0;
      s[2 * RDX] = rLo; s[2 * RDX + 1] = 0;
      return;
    }
    default: {
      const nHi = s[2 * RDX + 1], nLo = s[2 * RDX];
      if ((d | dHi) === 0) cpu.fault(EXC_DE);
      if ((nHi >>> 0) > (dHi >>> 0) || (nHi === dHi && (nLo >>> 0) >= (d >>> 0))) cpu.fault(EXC_DE);
      divU128(s[0], s[1], nLo, nHi, d, dHi);
      s[0] = qLo; s[1] = qHi;
      s[2 * RDX] = rLo; s[2 * RDX + 1] = rHi;
      return;
    }
  }
}

export function opIdiv(cpu: X86Cpu, i: Insn): void {
  const s = cpu.s, size = i.size;
  const d = readRM(cpu, i, size), dHi = cpu.rdHi;
  switch (size) {
    case 1: {
      const ds = (d << 24) >> 24;
      if (ds === 0) cpu.fault(EXC_DE);
      const n = (s[0] << 16) >> 16;
      const q = Math.trunc(n / ds);
      if (q > 127 || q < -128) cpu.fault(EXC_DE);
      setReg(s, 2, RAX, (((n - q * ds) & 0xff) << 8) | (q & 0xff), 0);
      return;
    }
    case 2: {
      const ds = (d << 16) >> 16;
      if (ds === 0) cpu.fault(EXC_DE);
      const n = ((s[2 * RDX] & 0xffff) << 16) | (s[0] & 0xffff); // signed 32-bit
      const q = Math.trunc(n / ds);
      if (q > 32767 || q < -32768) cpu.fault(EXC_DE);
      setReg(s, 2, RAX, q, 0);
      setReg(s, 2, RDX, n - q * ds, 0);
      return;
    }
    case 4: {
      if (d === 0) cpu.fault(EXC_DE);
      let nLo = s[0], nHi = s[2 * RDX];
      const nNeg = nHi < 0, dNeg = d < 0;
      if (nNeg) { nLo = -nLo | 0; nHi = (~nHi + (nLo === 0 ? 1 : 0)) | 0; }
      const ad = dNeg ? -d | 0 : d; // |d| as unsigned (2^31 stays 0x80000000)
      if ((nHi >>> 0) >= (ad >>> 0)) cpu.fault(EXC_DE);
      divU64by32(nLo, nHi, ad);
      const neg = nNeg !== dNeg;
      if ((qLo >>> 0) > (neg ? 0x80000000 : 0x7fffffff)) cpu.fault(EXC_DE);
      s[0] = neg ? -qLo | 0 : qLo; s[1] = 0;
      s[2 * RDX] = nNeg ? -rLo | 0 : rLo; s[2 * RDX + 1] = 0;
      return;
    }
    default: {
      if ((d | dHi) === 0) cpu.fault(EXC_DE);
      let n0 = s[0], n1 = s[1], n2 = s[2 * RDX], n3 = s[2 * RDX + 1];
      const nNeg = n3 < 0, dNeg = dHi < 0;
      if (nNeg) {
        // 128-bit two's complement negation
        n0 = ~n0; n1 = ~n1; n2 = ~n2; n3 = ~n3;
        n0 = (n0 + 1) | 0;
        if (n0 === 0) { n1 = (n1 + 1) | 0; if (n1 === 0) { n2 = (n2 + 1) | 0; if (n2 === 0) n3 = (n3 + 1) | 0; } }
      }
      let aLo = d, aHi = dHi;
      if (dNeg) { aLo = -d | 0; aHi = (~dHi + (aLo === 0 ? 1 : 0)) | 0; }
      if ((n3 >>> 0) > (aHi >>> 0) || (n3 === aHi && (n2 >>> 0) >= (aLo >>> 0))) cpu.fault(EXC_DE);
      divU128(n0, n1, n2, n3, aLo, aHi);
      const neg = nNeg !== dNeg;
      // |quotient| must be <= 2^63 (negative) or < 2^63 (positive)
      if (qHi < 0 && !(neg && qHi === (0x80000000 | 0) && qLo === 0)) cpu.fault(EXC_DE);
      let ql = qLo, qh = qHi;
      if (neg) { ql = -qLo | 0; qh = (~qHi + (ql === 0 ? 1 : 0)) | 0; }
      let rl = rLo, rh = rHi;
      if (nNeg) { rl = -rLo | 0; rh = (~rHi + (rl === 0 ? 1 : 0)) | 0; }
      s[0] = ql; s[1] = qh;
      s[2 * RDX] = rl; s[2 * RDX + 1] = rh;
      return;
    }
  }
}

// ---- decoding (F6/F7 /4../7 are decoded by alu.ts's group 3)

function decImulRM(d: Decoder, i: Insn): void {
  d.modrm(i);
  i.exec = imulRM;
}

function decImulRMI(d: Decoder, i: Insn): void {
  d.modrm(i);
  if (i.opcode === 0x6b) d.immS8(i);
  else d.imm(i, i.size);
  i.exec = imulRMI;
}

MAP0F[0xaf] = decImulRM;
MAP1[0x69] = decImulRMI;
MAP1[0x6b] = decImulRMI;
