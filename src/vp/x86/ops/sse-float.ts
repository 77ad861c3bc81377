// SSE/SSE2 floating-point arithmetic: ADD/SUB/MUL/DIV/MIN/MAX/SQRT in the PS (no prefix), PD (66), SS (F3) and
// SD (F2) forms (0F 51, 58, 59, 5C-5F), and the approximations RCPPS/RCPSS/RSQRTPS/RSQRTSS (0F 52/53). Lane
// semantics (NaN rules, rounding, exception flags) are in sse-ieee.ts. Results are staged in S_XMM_TMP2 so an
// unmasked exception (#XM) leaves the destination unchanged.
import { S_XMM } from '../state.js';
import { MAP0F, type DecodeFn } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { copy128, fp, fpBegin, fpEnd, S_XMM_TMP2, sseCheck, sseDecoder, src32, src64, srcA } from './sse-state.js';
import { approxS, arithD, arithS, OP_ADD, OP_DIV, OP_MAX, OP_MIN, OP_MUL, OP_SQRT, OP_SUB } from './sse-ieee.js';

function opPS(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), d = S_XMM + 4 * i.reg, t = S_XMM_TMP2, op = i.op;
  fpBegin(cpu);
  for (let k = 0; k < 4; k++) s[t + k] = arithS(op, s[d + k], s[r + k]);
  fpEnd(cpu);
  copy128(s, d, t);
}

function opPD(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), d = S_XMM + 4 * i.reg, t = S_XMM_TMP2, op = i.op;
  fpBegin(cpu);
  for (let k = 0; k < 4; k += 2) { s[t + k] = arithD(op, s[d + k], s[d + k + 1], s[r + k], s[r + k + 1]); s[t + k + 1] = fp.hi; }
  fpEnd(cpu);
  copy128(s, d, t);
}

function opSS(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src32(cpu, i), d = S_XMM + 4 * i.reg;
  fpBegin(cpu);
  const v = arithS(i.op, s[d], s[r]);
  fpEnd(cpu);
  s[d] = v;
}

function opSD(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src64(cpu, i), d = S_XMM + 4 * i.reg;
  fpBegin(cpu);
  const v = arithD(i.op, s[d], s[d + 1], s[r], s[r + 1]);
  fpEnd(cpu);
  s[d] = v; s[d + 1] = fp.hi;
}

/** RCPPS (op 0) / RSQRTPS (op 1): approximations, no exceptions, MXCSR untouched. */
function approxPS(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = srcA(cpu, i), d = S_XMM + 4 * i.reg;
  for (let k = 0; k < 4; k++) s[d + k] = approxS(s[r + k], i.op === 1);
}

function approxSS(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = src32(cpu, i);
  s[S_XMM + 4 * i.reg] = approxS(s[r], i.op === 1);
}

function arith(op: number): DecodeFn {
  const dec = sseDecoder([opPS, opPD, opSS, opSD]);
  return (d, i) => { i.op = op; dec(d, i); };
}

function approx(op: number): DecodeFn {
  const dec = sseDecoder([approxPS, null, approxSS, null]);
  return (d, i) => { i.op = op; dec(d, i); };
}

MAP0F[0x51] = arith(OP_SQRT);
MAP0F[0x52] = approx(1);
MAP0F[0x53] = approx(0);
MAP0F[0x58] = arith(OP_ADD);
MAP0F[0x59] = arith(OP_MUL);
MAP0F[0x5c] = arith(OP_SUB);
MAP0F[0x5d] = arith(OP_MIN);
MAP0F[0x5e] = arith(OP_DIV);
MAP0F[0x5f] = arith(OP_MAX);
