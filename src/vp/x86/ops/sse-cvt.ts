// SSE/SSE2 conversions: CVTSI2SS/CVTSI2SD (F3/F2 0F 2A, 32- or 64-bit source by REX.W), CVTSS2SI/CVTSD2SI and
// the truncating CVTTSS2SI/CVTTSD2SI (0F 2D/2C, 32- or 64-bit destination), CVTSS2SD/CVTSD2SS/CVTPS2PD/CVTPD2PS
// (0F 5A), CVTDQ2PS/CVTPS2DQ/CVTTPS2DQ (0F 5B), CVTDQ2PD/CVTPD2DQ/CVTTPD2DQ (0F E6). Float-to-integer results
// out of range (and NaN) give the integer indefinite 0x80000000 / 0x8000000000000000 with the invalid flag. The
// MMX forms (CVTPI2PS, CVTPS2PI, ...: no prefix or 66 on 0F 2A/2C/2D) are in mmx-cvt.ts.
import { S_XMM } from '../state.js';
import { MAP0F } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea } from '../operands.js';
import { copy128, fp, fpBegin, fpEnd, S_XMM_TMP2, sseCheck, sseDecoder, src32, src64, srcA } from './sse-state.js';
import { bits64, d2s, f32, f64, finishS, fromInt64, isNaN32, isNaN64, s2d, toInt } from './sse-ieee.js';

/** Value of single bits for conversion to integer: NaN stays NaN; denormals are zero under DAZ. */
export function valS(b: number): number {
  if (isNaN32(b)) return NaN;
  if (fp.daz && (b & 0x7f800000) === 0) return 0;
  return f32(b);
}

export function valD(lo: number, hi: number): number {
  if (isNaN64(lo, hi)) return NaN;
  if (fp.daz && (hi & 0x7ff00000) === 0) return 0;
  return f64(lo, hi);
}

/** CVTSI2SS (i.op 0) / CVTSI2SD (i.op 1) xmm, r/m32 or r/m64. */
function cvtsi2s(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, wide = i.size === 8;
  let lo: number, hi: number;
  if (i.rm >= 0) { lo = s[2 * i.rm]; hi = wide ? s[2 * i.rm + 1] : lo >> 31; }
  else {
    ea(cpu, i);
    if (wide) { lo = cpu.read64(cpu.eaLo, cpu.eaHi); hi = cpu.rdHi; }
    else { lo = cpu.read32(cpu.eaLo, cpu.eaHi); hi = lo >> 31; }
  }
  const d = S_XMM + 4 * i.reg;
  fpBegin(cpu);
  if (i.op === 0) {
    const v = wide ? fromInt64(lo, hi, true) : finishS(lo, 0);
    fpEnd(cpu);
    s[d] = v;
  } else {
    const v = wide ? fromInt64(lo, hi, false) : bits64(lo);
    const vh = fp.hi;
    fpEnd(cpu);
    s[d] = v; s[d + 1] = vh;
  }
}

/** CVT(T)SS2SI / CVT(T)SD2SI r32/r64, xmm/m32|m64. i.op: bit 0 = double source, bit 1 = truncate. */
function cvts2si(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, dbl = (i.op & 1) !== 0;
  const r = dbl ? src64(cpu, i) : src32(cpu, i);
  fpBegin(cpu);
  const x = dbl ? valD(s[r], s[r + 1]) : valS(s[r]);
  const wide = i.size === 8;
  const lo = toInt(x, wide, (i.op & 2) !== 0);
  const hi = wide ? fp.hi : 0;
  fpEnd(cpu);
  s[2 * i.reg] = lo; s[2 * i.reg + 1] = hi;
}

/** CVTSS2SD xmm, xmm/m32. */
function cvtss2sd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src32(cpu, i), d = S_XMM + 4 * i.reg;
  fpBegin(cpu);
  const lo = s2d(s[r]), hi = fp.hi;
  fpEnd(cpu);
  s[d] = lo; s[d + 1] = hi;
}

/** CVTSD2SS xmm, xmm/m64. */
function cvtsd2ss(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src64(cpu, i), d = S_XMM + 4 * i.reg;
  fpBegin(cpu);
  const v = d2s(s[r], s[r + 1]);
  fpEnd(cpu);
  s[d] = v;
}

/** CVTPS2PD xmm, xmm/m64: the two low singles widened. */
function cvtps2pd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src64(cpu, i), t = S_XMM_TMP2;
  fpBegin(cpu);
  const a = s[r], b = s[r + 1];
  s[t] = s2d(a); s[t + 1] = fp.hi;
  s[t + 2] = s2d(b); s[t + 3] = fp.hi;
  fpEnd(cpu);
  copy128(s, S_XMM + 4 * i.reg, t);
}

/** CVTPD2PS xmm, xmm/m128: two doubles narrowed into the low half, the high half zeroed. */
function cvtpd2ps(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), t = S_XMM_TMP2;
  fpBegin(cpu);
  s[t] = d2s(s[r], s[r + 1]);
  s[t + 1] = d2s(s[r + 2], s[r + 3]);
  s[t + 2] = 0; s[t + 3] = 0;
  fpEnd(cpu);
  copy128(s, S_XMM + 4 * i.reg, t);
}

/** CVTDQ2PS xmm, xmm/m128. */
function cvtdq2ps(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), t = S_XMM_TMP2;
  fpBegin(cpu);
  for (let k = 0; k < 4; k++) s[t + k] = finishS(s[r + k], 0);
  fpEnd(cpu);
  copy128(s, S_XMM + 4 * i.reg, t);
}

/** CVTPS2DQ (i.op 0) / CVTTPS2DQ (i.op 1) xmm, xmm/m128. */
function cvtps2dq(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), t = S_XMM_TMP2;
  fpBegin(cpu);
  for (let k = 0; k < 4; k++) s[t + k] = toInt(valS(s[r + k]), false, i.op === 1);
  fpEnd(cpu);
  copy128(s, S_XMM + 4 * i.reg, t);
}

/** CVTDQ2PD xmm, xmm/m64: exact. */
function cvtdq2pd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src64(cpu, i), t = S_XMM_TMP2;
  const a = s[r], b = s[r + 1];
  s[t] = bits64(a); s[t + 1] = fp.hi;
  s[t + 2] = bits64(b); s[t + 3] = fp.hi;
  copy128(s, S_XMM + 4 * i.reg, t);
}

/** CVTPD2DQ (i.op 0) / CVTTPD2DQ (i.op 1) xmm, xmm/m128: two int32 in the low half, the high half zeroed. */
function cvtpd2dq(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), t = S_XMM_TMP2;
  fpBegin(cpu);
  s[t] = toInt(valD(s[r], s[r + 1]), false, i.op === 1);
  s[t + 1] = toInt(valD(s[r + 2], s[r + 3]), false, i.op === 1);
  s[t + 2] = 0; s[t + 3] = 0;
  fpEnd(cpu);
  copy128(s, S_XMM + 4 * i.reg, t);
}

const N = null;
{
  const dec2a = sseDecoder([N, N, cvtsi2s, cvtsi2s]);
  MAP0F[0x2a] = (d, i) => { dec2a(d, i); i.op = i.pfx === 3 ? 1 : 0; };
  const dec2c = sseDecoder([N, N, cvts2si, cvts2si]);
  // 0F 2C truncates (bit 1), 0F 2D rounds; F2 means a double source (bit 0).
  MAP0F[0x2c] = (d, i) => { dec2c(d, i); i.op = 2 | (i.pfx === 3 ? 1 : 0); };
  MAP0F[0x2d] = (d, i) => { dec2c(d, i); i.op = i.pfx === 3 ? 1 : 0; };
  MAP0F[0x5a] = sseDecoder([cvtps2pd, cvtpd2ps, cvtss2sd, cvtsd2ss]);
  const dec5b = sseDecoder([cvtdq2ps, cvtps2dq, cvtps2dq, N]);
  MAP0F[0x5b] = (d, i) => { dec5b(d, i); i.op = i.pfx === 2 ? 1 : 0; };
  const dece6 = sseDecoder([N, cvtpd2dq, cvtdq2pd, cvtpd2dq]);
  MAP0F[0xe6] = (d, i) => { dece6(d, i); i.op = i.pfx === 1 ? 1 : 0; };
}
