// Conversions between MMX integers and SSE floating point: CVTPI2PS xmm, mm/m64 (0F 2A), CVTPI2PD xmm, mm/m64
// (66 0F 2A), CVTPS2PI / CVTTPS2PI mm, xmm/m64 (0F 2D / 2C), CVTPD2PI / CVTTPD2PI mm, xmm/m128 (66 0F 2D / 2C,
// 16-byte aligned). Rounding, DAZ, the integer indefinite and #XM are SSE's (sse-cvt.ts, sse-ieee.ts). Checks
// (SDM vol. 3, tables 22-4 to 22-6): the SSE ones (CR0.EM, CR4.OSFXSR, CR0.TS), then a pending x87 exception
// (#MF), then the instruction; an unmasked SIMD exception (#XM) leaves the destination and the x87 state as they
// were. Each form makes the x87-to-MMX transition, except CVTPI2PD with a memory source, which touches no MMX
// state at all (no #MF either).
import { S_XMM } from '../state.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { fp, fpBegin, fpEnd, sseCheck, src64, srcA } from './sse-state.js';
import { bits64, finishS, toInt } from './sse-ieee.js';
import { valD, valS } from './sse-cvt.js';
import { addMmxForm, mmSet, mmSrc, mmxDecoder, mmxEnter, MM_REG, MM_RM, mr, x87Pending } from './mmx-state.js';

/** CVTPI2PS xmm, mm/m64: two int32 to two singles in the low quadword; the high quadword is kept. */
function cvtpi2ps(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  x87Pending(cpu);
  const r = mmSrc(cpu, i), s = cpu.s, d = S_XMM + 4 * i.reg;
  fpBegin(cpu);
  const a = finishS(s[r], 0), b = finishS(s[r + 1], 0);
  fpEnd(cpu);
  mmxEnter(s);
  s[d] = a; s[d + 1] = b;
}

/** CVTPI2PD xmm, mm/m64: exact; the memory form leaves the x87/MMX state alone. */
function cvtpi2pd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const mm = i.rm >= 0;
  if (mm) x87Pending(cpu);
  const r = mmSrc(cpu, i), s = cpu.s, d = S_XMM + 4 * i.reg;
  const x = s[r], y = s[r + 1];
  if (mm) mmxEnter(s);
  s[d] = bits64(x); s[d + 1] = fp.hi;
  s[d + 2] = bits64(y); s[d + 3] = fp.hi;
}

/** CVTPS2PI (i.op 0) / CVTTPS2PI (i.op 1) mm, xmm/m64. */
function cvtps2pi(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  x87Pending(cpu);
  const r = src64(cpu, i), s = cpu.s, trunc = i.op === 1;
  fpBegin(cpu);
  const a = toInt(valS(s[r]), false, trunc), b = toInt(valS(s[r + 1]), false, trunc);
  fpEnd(cpu);
  mmxEnter(s);
  mmSet(s, mr(i.reg), a, b);
}

/** CVTPD2PI (i.op 0) / CVTTPD2PI (i.op 1) mm, xmm/m128 (aligned). */
function cvtpd2pi(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  x87Pending(cpu);
  const r = srcA(cpu, i), s = cpu.s, trunc = i.op === 1;
  fpBegin(cpu);
  const a = toInt(valD(s[r], s[r + 1]), false, trunc), b = toInt(valD(s[r + 2], s[r + 3]), false, trunc);
  fpEnd(cpu);
  mmxEnter(s);
  mmSet(s, mr(i.reg), a, b);
}

addMmxForm(0x2a, mmxDecoder(cvtpi2ps, cvtpi2ps, MM_RM), 0);
addMmxForm(0x2a, mmxDecoder(cvtpi2pd, cvtpi2pd, MM_RM), 1);
addMmxForm(0x2c, mmxDecoder(cvtps2pi, cvtps2pi, MM_REG, 1), 0);
addMmxForm(0x2c, mmxDecoder(cvtpd2pi, cvtpd2pi, MM_REG, 1), 1);
addMmxForm(0x2d, mmxDecoder(cvtps2pi, cvtps2pi, MM_REG, 0), 0);
addMmxForm(0x2d, mmxDecoder(cvtpd2pi, cvtpd2pi, MM_REG, 0), 1);
