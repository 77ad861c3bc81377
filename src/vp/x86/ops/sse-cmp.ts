// SSE/SSE2 floating-point compares: CMPPS/CMPPD/CMPSS/CMPSD with the eight imm8 predicates (0F C2; EQ LT LE
// UNORD NEQ NLT NLE ORD, imm8 bits 7:3 ignored), which write all-ones/all-zeros masks, and COMISS/COMISD/
// UCOMISS/UCOMISD (0F 2F/2E), which set ZF/PF/CF (unordered 111, less 001, equal 100, greater 000) and clear
// OF/SF/AF. The signalling predicates (LT, LE, NLT, NLE) and COMIS* raise invalid on any NaN, the quiet ones and
// UCOMIS* only on signalling NaNs (SDM vol. 2, CMPPS table 3-1, COMISS).
import { FLAG_CF, FLAG_PF, FLAG_ZF, FLAGS_ARITH } from '../constants.js';
import { setArithFlags } from '../flags.js';
import { S_XMM } from '../state.js';
import { MAP0F } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { copy128, fp, fpBegin, fpEnd, MX_IE, S_XMM_TMP2, sseCheck, sseDecoder, src32, src64, srcA } from './sse-state.js';
import { inD, inS, isNaN32, isNaN64, isSNaN32, isSNaN64 } from './sse-ieee.js';

/** Predicates true for unordered operands: UNORD, NEQ, NLT, NLE. */
function unorderedResult(pred: number): boolean {
  return pred >= 3 && pred <= 6;
}

function signalling(pred: number): boolean {
  return (pred & 3) === 1 || (pred & 3) === 2;
}

function ordered(pred: number, x: number, y: number): boolean {
  switch (pred) {
    case 0: return x === y;
    case 1: return x < y;
    case 2: return x <= y;
    case 3: return false;
    case 4: return x !== y;
    case 5: return !(x < y);
    case 6: return !(x <= y);
    default: return true;
  }
}

function cmpS(a: number, b: number, pred: number): number {
  if (isNaN32(a) || isNaN32(b)) {
    if (signalling(pred) || isSNaN32(a) || isSNaN32(b)) fp.exc |= MX_IE;
    return unorderedResult(pred) ? -1 : 0;
  }
  return ordered(pred, inS(a), inS(b)) ? -1 : 0;
}

function cmpD(aLo: number, aHi: number, bLo: number, bHi: number, pred: number): number {
  if (isNaN64(aLo, aHi) || isNaN64(bLo, bHi)) {
    if (signalling(pred) || isSNaN64(aLo, aHi) || isSNaN64(bLo, bHi)) fp.exc |= MX_IE;
    return unorderedResult(pred) ? -1 : 0;
  }
  return ordered(pred, inD(aLo, aHi), inD(bLo, bHi)) ? -1 : 0;
}

function cmpps(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), d = S_XMM + 4 * i.reg, t = S_XMM_TMP2, p = i.immLo & 7;
  fpBegin(cpu);
  for (let k = 0; k < 4; k++) s[t + k] = cmpS(s[d + k], s[r + k], p);
  fpEnd(cpu);
  copy128(s, d, t);
}

function cmppd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), d = S_XMM + 4 * i.reg, t = S_XMM_TMP2, p = i.immLo & 7;
  fpBegin(cpu);
  for (let k = 0; k < 4; k += 2) { const v = cmpD(s[d + k], s[d + k + 1], s[r + k], s[r + k + 1], p); s[t + k] = v; s[t + k + 1] = v; }
  fpEnd(cpu);
  copy128(s, d, t);
}

function cmpss(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src32(cpu, i), d = S_XMM + 4 * i.reg;
  fpBegin(cpu);
  const v = cmpS(s[d], s[r], i.immLo & 7);
  fpEnd(cpu);
  s[d] = v;
}

function cmpsd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src64(cpu, i), d = S_XMM + 4 * i.reg;
  fpBegin(cpu);
  const v = cmpD(s[d], s[d + 1], s[r], s[r + 1], i.immLo & 7);
  fpEnd(cpu);
  s[d] = v; s[d + 1] = v;
}

/** Flags for x ? y (numbers, not NaN). */
function relFlags(x: number, y: number): number {
  return x < y ? FLAG_CF : x === y ? FLAG_ZF : 0;
}

/** COMISS (i.op 1) / UCOMISS (i.op 0). */
function comiss(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src32(cpu, i), a = s[S_XMM + 4 * i.reg], b = s[r];
  fpBegin(cpu);
  let f: number;
  if (isNaN32(a) || isNaN32(b)) {
    if (i.op === 1 || isSNaN32(a) || isSNaN32(b)) fp.exc |= MX_IE;
    f = FLAG_ZF | FLAG_PF | FLAG_CF;
  } else {
    f = relFlags(inS(a), inS(b));
  }
  fpEnd(cpu);
  setArithFlags(s, f, FLAGS_ARITH);
}

/** COMISD (i.op 1) / UCOMISD (i.op 0). */
function comisd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src64(cpu, i), d = S_XMM + 4 * i.reg;
  const aLo = s[d], aHi = s[d + 1], bLo = s[r], bHi = s[r + 1];
  fpBegin(cpu);
  let f: number;
  if (isNaN64(aLo, aHi) || isNaN64(bLo, bHi)) {
    if (i.op === 1 || isSNaN64(aLo, aHi) || isSNaN64(bLo, bHi)) fp.exc |= MX_IE;
    f = FLAG_ZF | FLAG_PF | FLAG_CF;
  } else {
    f = relFlags(inD(aLo, aHi), inD(bLo, bHi));
  }
  fpEnd(cpu);
  setArithFlags(s, f, FLAGS_ARITH);
}


MAP0F[0xc2] = sseDecoder([cmpps, cmppd, cmpss, cmpsd], [cmpps, cmppd, cmpss, cmpsd], true);
{
  const dec = sseDecoder([comiss, comisd, null, null]);
  MAP0F[0x2e] = (d, i) => { i.op = 0; dec(d, i); };
  MAP0F[0x2f] = (d, i) => { i.op = 1; dec(d, i); };
}
