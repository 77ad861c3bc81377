// SSE/SSE2 data movement: MOVUPS/MOVUPD/MOVAPS/MOVAPD/MOVDQA/MOVDQU (0F 10/11/28/29, 66/F3 0F 6F/7F),
// MOVSS/MOVSD (F3/F2 0F 10/11), MOVLPS/MOVHPS/MOVLPD/MOVHPD/MOVHLPS/MOVLHPS (0F 12/13/16/17), MOVD/MOVQ
// (66 0F 6E/7E with and without REX.W, F3 0F 7E, 66 0F D6), MOVMSKPS/MOVMSKPD (0F 50), PMOVMSKB (66 0F D7),
// the non-temporal stores MOVNTPS/MOVNTPD/MOVNTDQ/MOVNTI (plain stores here: there is no cache to bypass) and
// MASKMOVDQU (66 0F F7). The MMX forms (no prefix on 0F 6E/6F/7E/7F/D7/E7/F7, F3/F2 0F D6) are in mmx-move.ts;
// SSE3's MOVSLDUP/MOVSHDUP/MOVDDUP/LDDQU are #UD: CPUID does not report SSE3.
import { S_XMM } from '../state.js';
import { MAP0F } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea, getReg } from '../operands.js';
import { copy128, sseCheck, sseDecoder, srcA, srcU, store128 } from './sse-state.js';

// ---- full 128-bit moves

/** MOVAPS/MOVAPD/MOVDQA xmm, xmm/m128 (aligned). */
function movA(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  copy128(cpu.s, S_XMM + 4 * i.reg, srcA(cpu, i));
}

/** MOVUPS/MOVUPD/MOVDQU xmm, xmm/m128. */
function movU(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  copy128(cpu.s, S_XMM + 4 * i.reg, srcU(cpu, i));
}

/** MOVAPS/MOVAPD/MOVDQA xmm/m128, xmm; also the aligned non-temporal stores. */
function movAStore(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  if (i.rm >= 0) copy128(cpu.s, S_XMM + 4 * i.rm, S_XMM + 4 * i.reg);
  else store128(cpu, i, S_XMM + 4 * i.reg, true);
}

function movUStore(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  if (i.rm >= 0) copy128(cpu.s, S_XMM + 4 * i.rm, S_XMM + 4 * i.reg);
  else store128(cpu, i, S_XMM + 4 * i.reg, false);
}

// ---- scalar moves

/** MOVSS xmm, xmm (merge the low dword) / xmm, m32 (zero the rest). */
function movssLoad(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, d = S_XMM + 4 * i.reg;
  if (i.rm >= 0) { s[d] = s[S_XMM + 4 * i.rm]; return; }
  ea(cpu, i);
  s[d] = cpu.read32(cpu.eaLo, cpu.eaHi);
  s[d + 1] = 0; s[d + 2] = 0; s[d + 3] = 0;
}

function movssStore(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, v = s[S_XMM + 4 * i.reg];
  if (i.rm >= 0) { s[S_XMM + 4 * i.rm] = v; return; }
  ea(cpu, i);
  cpu.write32(cpu.eaLo, cpu.eaHi, v);
}

/** MOVSD xmm, xmm (merge the low qword) / xmm, m64 (zero the high qword). */
function movsdLoad(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, d = S_XMM + 4 * i.reg;
  if (i.rm >= 0) { const r = S_XMM + 4 * i.rm; s[d] = s[r]; s[d + 1] = s[r + 1]; return; }
  ea(cpu, i);
  s[d] = cpu.read64(cpu.eaLo, cpu.eaHi);
  s[d + 1] = cpu.rdHi; s[d + 2] = 0; s[d + 3] = 0;
}

/** Store the low qword of xmm(reg) to m64, or (register form) merge it into xmm(rm) — MOVSD, MOVLPS/MOVLPD. */
function storeLow64(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = S_XMM + 4 * i.reg;
  if (i.rm >= 0) { const d = S_XMM + 4 * i.rm; s[d] = s[r]; s[d + 1] = s[r + 1]; return; }
  ea(cpu, i);
  cpu.write64(cpu.eaLo, cpu.eaHi, s[r], s[r + 1]);
}

/** MOVLPS/MOVLPD xmm, m64: replace the low qword. */
function loadLow64(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, d = S_XMM + 4 * i.reg;
  ea(cpu, i);
  s[d] = cpu.read64(cpu.eaLo, cpu.eaHi);
  s[d + 1] = cpu.rdHi;
}

/** MOVHPS/MOVHPD xmm, m64: replace the high qword. */
function loadHigh64(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, d = S_XMM + 4 * i.reg;
  ea(cpu, i);
  s[d + 2] = cpu.read64(cpu.eaLo, cpu.eaHi);
  s[d + 3] = cpu.rdHi;
}

/** MOVHPS/MOVHPD m64, xmm: store the high qword. */
function storeHigh64(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = S_XMM + 4 * i.reg;
  ea(cpu, i);
  cpu.write64(cpu.eaLo, cpu.eaHi, s[r + 2], s[r + 3]);
}

/** MOVHLPS xmm1, xmm2: low qword of xmm1 = high qword of xmm2. */
function movhlps(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, d = S_XMM + 4 * i.reg, r = S_XMM + 4 * i.rm;
  s[d] = s[r + 2]; s[d + 1] = s[r + 3];
}

/** MOVLHPS xmm1, xmm2: high qword of xmm1 = low qword of xmm2. */
function movlhps(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, d = S_XMM + 4 * i.reg, r = S_XMM + 4 * i.rm;
  s[d + 2] = s[r]; s[d + 3] = s[r + 1];
}

// ---- MOVD / MOVQ

/** MOVD xmm, r/m32 and (REX.W) MOVQ xmm, r/m64: zero-extend into the whole register. */
function movdToXmm(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, d = S_XMM + 4 * i.reg;
  let lo: number, hi = 0;
  if (i.rm >= 0) {
    lo = s[2 * i.rm];
    if (i.size === 8) hi = s[2 * i.rm + 1];
  } else {
    ea(cpu, i);
    if (i.size === 8) { lo = cpu.read64(cpu.eaLo, cpu.eaHi); hi = cpu.rdHi; }
    else lo = cpu.read32(cpu.eaLo, cpu.eaHi);
  }
  s[d] = lo; s[d + 1] = hi; s[d + 2] = 0; s[d + 3] = 0;
}

/** MOVD r/m32, xmm and (REX.W) MOVQ r/m64, xmm. A 32-bit register destination is zero-extended. */
function movdFromXmm(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = S_XMM + 4 * i.reg;
  if (i.rm >= 0) {
    s[2 * i.rm] = s[r];
    s[2 * i.rm + 1] = i.size === 8 ? s[r + 1] : 0;
    return;
  }
  ea(cpu, i);
  if (i.size === 8) cpu.write64(cpu.eaLo, cpu.eaHi, s[r], s[r + 1]);
  else cpu.write32(cpu.eaLo, cpu.eaHi, s[r]);
}

/** MOVQ xmm, xmm/m64 (F3 0F 7E): low qword, high qword zeroed. */
function movqLoad(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, d = S_XMM + 4 * i.reg;
  let lo: number, hi: number;
  if (i.rm >= 0) { const r = S_XMM + 4 * i.rm; lo = s[r]; hi = s[r + 1]; }
  else { ea(cpu, i); lo = cpu.read64(cpu.eaLo, cpu.eaHi); hi = cpu.rdHi; }
  s[d] = lo; s[d + 1] = hi; s[d + 2] = 0; s[d + 3] = 0;
}

/** MOVQ xmm/m64, xmm (66 0F D6): register destination gets the high qword zeroed. */
function movqStore(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = S_XMM + 4 * i.reg;
  if (i.rm >= 0) {
    const d = S_XMM + 4 * i.rm;
    s[d] = s[r]; s[d + 1] = s[r + 1]; s[d + 2] = 0; s[d + 3] = 0;
    return;
  }
  ea(cpu, i);
  cpu.write64(cpu.eaLo, cpu.eaHi, s[r], s[r + 1]);
}

/** MOVNTI m32/m64, r32/r64 (0F C3): an ordinary store. It touches no SSE state, so no SSE checks. */
function movnti(cpu: X86Cpu, i: Insn): void {
  ea(cpu, i);
  const s = cpu.s;
  if (i.size === 8) cpu.write64(cpu.eaLo, cpu.eaHi, s[2 * i.reg], s[2 * i.reg + 1]);
  else cpu.write32(cpu.eaLo, cpu.eaHi, getReg(s, 4, i.reg));
}

// ---- masks

/** MOVMSKPS r32, xmm: the four sign bits. */
function movmskps(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = S_XMM + 4 * i.rm;
  s[2 * i.reg] = (s[r] >>> 31) | ((s[r + 1] >>> 31) << 1) | ((s[r + 2] >>> 31) << 2) | ((s[r + 3] >>> 31) << 3);
  s[2 * i.reg + 1] = 0;
}

/** MOVMSKPD r32, xmm: the two sign bits. */
function movmskpd(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = S_XMM + 4 * i.rm;
  s[2 * i.reg] = (s[r + 1] >>> 31) | ((s[r + 3] >>> 31) << 1);
  s[2 * i.reg + 1] = 0;
}

/** Sign bits of the four bytes of w as a 4-bit value (also PMOVMSKB mm in mmx-move.ts). */
export function byteSigns(w: number): number {
  return ((w >>> 7) & 1) | ((w >>> 14) & 2) | ((w >>> 21) & 4) | ((w >>> 28) & 8);
}

/** PMOVMSKB r32, xmm: the sixteen byte sign bits. */
function pmovmskb(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, r = S_XMM + 4 * i.rm;
  s[2 * i.reg] = byteSigns(s[r]) | (byteSigns(s[r + 1]) << 4) | (byteSigns(s[r + 2]) << 8) | (byteSigns(s[r + 3]) << 12);
  s[2 * i.reg + 1] = 0;
}

/** MASKMOVDQU xmm1, xmm2: store the bytes of xmm1 whose mask byte in xmm2 has its top bit set, at DS:rDI. */
function maskmovdqu(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  const s = cpu.s, u8 = cpu.u8;
  const base = s.byteOffset + 4 * S_XMM;
  const src = base + 16 * i.reg, mask = base + 16 * i.rm;
  // Address: rDI with the instruction's address size, plus an FS/GS base if overridden (ea() does both).
  i.base = 7; i.index = -1; i.disp = 0; i.ripRel = false;
  ea(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  let any = false;
  for (let k = 0; k < 16; k++) if (u8[mask + k] & 0x80) any = true;
  if (!any) return;
  cpu.probeWrite(lo, hi, 16);
  for (let k = 0; k < 16; k++) {
    if ((u8[mask + k] & 0x80) === 0) continue;
    const l = (lo + k) | 0;
    cpu.write8(l, (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, u8[src + k]);
  }
}

const N = null;

MAP0F[0x10] = sseDecoder([movU, movU, movssLoad, movsdLoad]);
MAP0F[0x11] = sseDecoder([movUStore, movUStore, movssStore, storeLow64]);
MAP0F[0x12] = sseDecoder([movhlps, N, N, N], [loadLow64, loadLow64, N, N]);
MAP0F[0x13] = sseDecoder([N, N, N, N], [storeLow64, storeLow64, N, N]);
MAP0F[0x16] = sseDecoder([movlhps, N, N, N], [loadHigh64, loadHigh64, N, N]);
MAP0F[0x17] = sseDecoder([N, N, N, N], [storeHigh64, storeHigh64, N, N]);
MAP0F[0x28] = sseDecoder([movA, movA, N, N]);
MAP0F[0x29] = sseDecoder([movAStore, movAStore, N, N]);
MAP0F[0x2b] = sseDecoder([N, N, N, N], [movAStore, movAStore, N, N]);
MAP0F[0x50] = sseDecoder([movmskps, movmskpd, N, N], [N, N, N, N]);
MAP0F[0x6e] = sseDecoder([N, movdToXmm, N, N]);
MAP0F[0x6f] = sseDecoder([N, movA, movU, N]);
MAP0F[0x7e] = sseDecoder([N, movdFromXmm, movqLoad, N]);
MAP0F[0x7f] = sseDecoder([N, movAStore, movUStore, N]);
MAP0F[0xc3] = sseDecoder([N, N, N, N], [movnti, N, N, N]);
MAP0F[0xd6] = sseDecoder([N, movqStore, N, N]);
MAP0F[0xd7] = sseDecoder([N, pmovmskb, N, N], [N, N, N, N]);
MAP0F[0xe7] = sseDecoder([N, N, N, N], [N, movAStore, N, N]);
MAP0F[0xf7] = sseDecoder([N, maskmovdqu, N, N], [N, N, N, N]);
