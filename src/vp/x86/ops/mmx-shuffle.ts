// MMX interleaves and packs (no mandatory prefix): PUNPCKLBW/WD/DQ mm, mm/m32 (0F 60-62: a memory source is 4
// bytes), PUNPCKHBW/WD/DQ mm, mm/m64 (0F 68-6A), PACKSSWB/PACKSSDW/PACKUSWB (0F 63/6B/67), and SSE's PSHUFW
// (0F 70), PINSRW (0F C4) and PEXTRW (0F C5) on MM registers. Interleaves and packs are sse-shuffle.ts's kernels
// on 8-byte operands; results are built in the scratch slot S_XMM_TMP2 since the destination is also a source.
import type { Insn } from '../insn.js';
import type { X86Cpu } from '../cpu.js';
import { ea } from '../operands.js';
import { S_XMM_TMP2 } from './sse-state.js';
import { packInto, unpackInto } from './sse-shuffle.js';
import { addMmxForm, mmSet, mmSrc, mmSrc32, mmxCheck, mmxDecoder, mmxEnter, MM_REG, MM_RM, mr } from './mmx-state.js';

/** PUNPCKL*: i.op = element size in bytes (1, 2, 4). */
function unpackLow(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const r = mmSrc32(cpu, i), s = cpu.s, d = mr(i.reg), t = S_XMM_TMP2;
  mmxEnter(s);
  unpackInto(cpu, t, d, r, i.op, 8);
  mmSet(s, d, s[t], s[t + 1]);
}

/** PUNPCKH*: i.op = element size + 16. */
function unpackHigh(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const r = mmSrc(cpu, i), s = cpu.s, d = mr(i.reg), t = S_XMM_TMP2;
  mmxEnter(s);
  unpackInto(cpu, t, d, r, i.op, 8);
  mmSet(s, d, s[t], s[t + 1]);
}

/** PACKSSWB (op 0), PACKUSWB (op 1), PACKSSDW (op 2). */
function pack(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const r = mmSrc(cpu, i), s = cpu.s, d = mr(i.reg), t = S_XMM_TMP2;
  mmxEnter(s);
  packInto(cpu, t, d, r, i.op, 2);
  mmSet(s, d, s[t], s[t + 1]);
}

/** PSHUFW mm, mm/m64, imm8: word k of the result = source word imm[2k+1:2k]. */
function pshufw(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const r = mmSrc(cpu, i), s = cpu.s, u16 = cpu.u16, m = i.immLo;
  const w = (s.byteOffset >> 1) + 2 * r;
  const w0 = u16[w + (m & 3)], w1 = u16[w + ((m >> 2) & 3)], w2 = u16[w + ((m >> 4) & 3)], w3 = u16[w + ((m >> 6) & 3)];
  mmxEnter(s);
  mmSet(s, mr(i.reg), w0 | (w1 << 16), w2 | (w3 << 16));
}

/** PINSRW mm, r32/m16, imm8: word imm[1:0]. */
function pinsrw(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const s = cpu.s;
  let v: number;
  if (i.rm >= 0) v = s[2 * i.rm];
  else { ea(cpu, i); v = cpu.read16(cpu.eaLo, cpu.eaHi); }
  const d = mr(i.reg);
  mmxEnter(s);
  cpu.u16[(s.byteOffset >> 1) + 2 * d + (i.immLo & 3)] = v;
  s[d + 2] = 0xffff;
}

/** PEXTRW r32, mm, imm8: word imm[1:0], zero-extended into the whole 64-bit register. */
function pextrw(cpu: X86Cpu, i: Insn): void {
  mmxCheck(cpu);
  const s = cpu.s;
  s[2 * i.reg] = cpu.u16[(s.byteOffset >> 1) + 2 * mr(i.rm) + (i.immLo & 3)];
  s[2 * i.reg + 1] = 0;
  mmxEnter(s);
}

const MM = MM_REG | MM_RM;
for (const [opcode, size] of [[0x60, 1], [0x61, 2], [0x62, 4]]) addMmxForm(opcode, mmxDecoder(unpackLow, unpackLow, MM, size));
for (const [opcode, size] of [[0x68, 1], [0x69, 2], [0x6a, 4]]) addMmxForm(opcode, mmxDecoder(unpackHigh, unpackHigh, MM, size + 16));
addMmxForm(0x63, mmxDecoder(pack, pack, MM, 0));
addMmxForm(0x67, mmxDecoder(pack, pack, MM, 1));
addMmxForm(0x6b, mmxDecoder(pack, pack, MM, 2));
addMmxForm(0x70, mmxDecoder(pshufw, pshufw, MM, 0, true));
addMmxForm(0xc4, mmxDecoder(pinsrw, pinsrw, MM_REG, 0, true));
addMmxForm(0xc5, mmxDecoder(pextrw, null, MM_RM, 0, true));
