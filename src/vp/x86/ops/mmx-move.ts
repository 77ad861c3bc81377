// MMX data movement (no mandatory prefix unless stated): MOVD/MOVQ mm, r/m32|r/m64 (0F 6E, REX.W for 64 bits)
// and back (0F 7E), MOVQ mm, mm/m64 (0F 6F) and mm/m64, mm (0F 7F), the SSE additions MOVNTQ (0F E7, a plain
// store: there is no cache to bypass), MASKMOVQ (0F F7) and PMOVMSKB r32, mm (0F D7), SSE2's MOVQ2DQ xmm, mm
// (F3 0F D6) and MOVDQ2Q mm, xmm (F2 0F D6), and EMMS (0F 77), which leaves MMX by emptying every x87 tag.
import { S_FPU_TOP, S_FTW, S_XMM } from '../state.js';
import { MAP0F, opUD } from '../decoder.js';
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea } from '../operands.js';
import { sseCheck } from './sse-state.js';
import { byteSigns } from './sse-move.js';
import { addMmxForm, mmSet, mmSrc, mmxCheck, mmxDecoder, mmxEnter, MM_REG, MM_RM, mr, x87Pending } from './mmx-state.js';

/** MOVD mm, r/m32 (zero-extended) and with REX.W MOVQ mm, r/m64. */
function movdToMm(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const s = cpu.s;
  let lo: number, hi = 0;
  if (i.rm >= 0) {
    lo = s[2 * i.rm];
    if (i.size === 8) hi = s[2 * i.rm + 1];
  } else {
    ea(cpu, i);
    if (i.size === 8) { lo = cpu.read64(cpu.eaLo, cpu.eaHi); hi = cpu.rdHi; }
    else lo = cpu.read32(cpu.eaLo, cpu.eaHi);
  }
  mmxEnter(s);
  mmSet(s, mr(i.reg), lo, hi);
}

/** MOVD r/m32, mm (a register destination is zero-extended to 64 bits) and with REX.W MOVQ r/m64, mm. */
function movdFromMm(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const s = cpu.s, r = mr(i.reg);
  if (i.rm >= 0) {
    s[2 * i.rm] = s[r];
    s[2 * i.rm + 1] = i.size === 8 ? s[r + 1] : 0;
  } else {
    ea(cpu, i);
    if (i.size === 8) cpu.write64(cpu.eaLo, cpu.eaHi, s[r], s[r + 1]);
    else cpu.write32(cpu.eaLo, cpu.eaHi, s[r]);
  }
  mmxEnter(s);
}

/** MOVQ mm, mm/m64. */
function movqLoad(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const r = mmSrc(cpu, i), s = cpu.s;
  mmxEnter(s);
  mmSet(s, mr(i.reg), s[r], s[r + 1]);
}

/** MOVQ mm/m64, mm; MOVNTQ m64, mm. */
function movqStore(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const s = cpu.s, r = mr(i.reg);
  if (i.rm >= 0) mmSet(s, mr(i.rm), s[r], s[r + 1]);
  else { ea(cpu, i); cpu.write64(cpu.eaLo, cpu.eaHi, s[r], s[r + 1]); }
  mmxEnter(s);
}

/** PMOVMSKB r32, mm: the eight byte sign bits, zero-extended into the 64-bit register. */
function pmovmskb(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const s = cpu.s, r = mr(i.rm);
  s[2 * i.reg] = byteSigns(s[r]) | (byteSigns(s[r + 1]) << 4);
  s[2 * i.reg + 1] = 0;
  mmxEnter(s);
}

/** MASKMOVQ mm1, mm2: store the bytes of mm1 whose mask byte in mm2 has its top bit set, at DS:rDI. */
function maskmovq(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const s = cpu.s, u8 = cpu.u8;
  const src = s.byteOffset + 4 * mr(i.reg), mask = s.byteOffset + 4 * mr(i.rm);
  // Address: rDI with the instruction's address size, plus an FS/GS base if overridden (ea() does both).
  i.base = 7; i.index = -1; i.disp = 0; i.ripRel = false;
  ea(cpu, i);
  const lo = cpu.eaLo, hi = cpu.eaHi;
  let any = 0;
  for (let k = 0; k < 8; k++) any |= u8[mask + k];
  if ((any & 0x80) !== 0) {
    cpu.probeWrite(lo, hi, 8);
    for (let k = 0; k < 8; k++) {
      if ((u8[mask + k] & 0x80) === 0) continue;
      const l = (lo + k) | 0;
      cpu.write8(l, (l >>> 0) < (lo >>> 0) ? (hi + 1) | 0 : hi, u8[src + k]);
    }
  }
  mmxEnter(s);
}

/** MOVQ2DQ xmm, mm: the low quadword, the high one zeroed. */
function movq2dq(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  x87Pending(cpu);
  const s = cpu.s, r = mr(i.rm), d = S_XMM + 4 * i.reg;
  mmxEnter(s);
  s[d] = s[r]; s[d + 1] = s[r + 1]; s[d + 2] = 0; s[d + 3] = 0;
}

/** MOVDQ2Q mm, xmm: the low quadword. */
function movdq2q(cpu: X86Cpu, i: Insn): void {
  sseCheck(cpu);
  x87Pending(cpu);
  const s = cpu.s, r = S_XMM + 4 * i.rm;
  mmxEnter(s);
  mmSet(s, mr(i.reg), s[r], s[r + 1]);
}

/** EMMS: every x87 tag empty and, as for every MMX instruction, TOP = 0 (SDM vol. 3, 12.2). */
function emms(cpu: X86Cpu): void {
  mmxCheck(cpu);
  cpu.s[S_FTW] = 0;
  cpu.s[S_FPU_TOP] = 0;
}

const MM = MM_REG | MM_RM;
addMmxForm(0x6e, mmxDecoder(movdToMm, movdToMm, MM_REG));
addMmxForm(0x7e, mmxDecoder(movdFromMm, movdFromMm, MM_REG));
addMmxForm(0x6f, mmxDecoder(movqLoad, movqLoad, MM));
addMmxForm(0x7f, mmxDecoder(movqStore, movqStore, MM));
addMmxForm(0xe7, mmxDecoder(null, movqStore, MM));
addMmxForm(0xf7, mmxDecoder(maskmovq, null, MM));
addMmxForm(0xd7, mmxDecoder(pmovmskb, null, MM_RM));
addMmxForm(0xd6, mmxDecoder(movq2dq, null, MM_RM), 2);
addMmxForm(0xd6, mmxDecoder(movdq2q, null, MM_REG), 3);
// EMMS exists without a mandatory prefix only (NP 0F 77).
MAP0F[0x77] = (d, i) => {
  if (i.pfx === 0) i.exec = emms;
  else { i.exec = opUD; d.endBlock = true; }
};
